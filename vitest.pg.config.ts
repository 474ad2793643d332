import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// The suite on PostgreSQL (npm run test:pg; CELLBATCH_TEST_DATABASE_URL names the server): every test
// that goes through the store interface, plus the PostgreSQL-only tests (*.pg.test.ts). A test that reads
// or tampers with rows behind the store does it as the database's owner through test/owner.ts, on either
// database. Left out are only the tests of what the SQLite file alone has; their PostgreSQL
// counterparts are the *.pg.test.ts files:
export const SQLITE_ONLY = [
  'test/server/store/backup.test.ts', // online backup/restore of the file (PostgreSQL: pg_dump, docs/deployment.md)
  'test/server/store/verification.test.ts', // SQLite's json_array fast pass in worker threads
  'test/server/store/append-only.test.ts', // SQLite's triggers (postgres-store.pg.test.ts, tampering.pg.test.ts)
  'test/server/store/tampering.test.ts', // edits the file behind the triggers (tampering.pg.test.ts)
  'test/crash/crash-safety.test.ts', // SIGKILL of `npm start` on a file
  'test/server/cli.test.ts', // verify/backup/restore/break-glass on a file
  'test/web/**', // the browser drives the same API; its minutes are spent once, on SQLite
];

export default defineConfig({
  test: {
    ...base.test,
    include: ['test/**/*.test.ts'],
    exclude: [...SQLITE_ONLY, '**/node_modules/**'],
  },
});
