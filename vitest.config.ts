import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // *.pg.test.ts need a PostgreSQL server: npm run test:pg (vitest.pg.config.ts).
    exclude: ['test/**/*.pg.test.ts', '**/node_modules/**'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // A reply field its response schema does not declare fails the test (server/plugins/replies.ts).
    env: { CELLBATCH_STRICT_REPLIES: '1' },
  },
});
