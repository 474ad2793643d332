import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // *.pg.test.ts need a PostgreSQL server: npm run test:pg (vitest.pg.config.ts).
    exclude: ['test/**/*.pg.test.ts', '**/node_modules/**'],
    // The seed users' password hashes, made once per run (test/seed-users.ts).
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // expect.poll waits on page state in the browser tests (never on a sleep); on a loaded 2-core CI
    // machine a page may take more than the default second to get there.
    expect: { poll: { timeout: 8_000 } },
    // A reply field its response schema does not declare fails the test (server/plugins/replies.ts).
    env: { CELLBATCH_STRICT_REPLIES: '1' },
  },
});
