import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // A reply field its response schema does not declare fails the test (server/plugins/replies.ts).
    env: { CELLBATCH_STRICT_REPLIES: '1' },
  },
});
