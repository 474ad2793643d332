// The benchmark seeder on both stores (issue 15): its rows, chained by the seeder and handed over in
// bulk (Store.insertChained), verify on PostgreSQL as on SQLite, and a seeded SQLite record moved by
// `migrate-store` verifies on PostgreSQL after the move.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { seedDatabase } from '../../../bench/seed.js';
import { migrateStore } from '../../../server/store/postgres/migrate-store.js';
import { openStore } from '../../../server/store/open.js';
import { createTestDatabase } from '../../pg.js';

let dir: string;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellbatch-seeded-'));
  db = await createTestDatabase(undefined, { empty: true });
});
afterEach(async () => {
  await db.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const verified = async (location: string) => {
  const store = await openStore(location);
  try {
    return { report: await store.verifyChains(), counts: await store.counts(), batches: (await store.allBatchIds()).length };
  } finally {
    await store.close();
  }
};

describe('the benchmark seeder on PostgreSQL', () => {
  it('seeds PostgreSQL through the store, and every chain verifies', async () => {
    const r = await seedDatabase({ dbFile: path.join(dir, 'pg', 'cellbatch.db'), databaseUrl: db.url, batches: 4, entries: 64, inFlight: 2, log: () => {} });
    const v = await verified(db.url);
    expect(v.report).toMatchObject({ valid: true });
    expect(v.batches).toBe(4);
    expect(v.counts).toEqual({ entries: r.entries, signatures: r.signatures, audit: r.audit });
    expect(r.entries).toBe(64);
  });

  it('a seeded SQLite record moved by migrate-store verifies on PostgreSQL', async () => {
    const file = path.join(dir, 'sqlite', 'cellbatch.db');
    const r = await seedDatabase({ dbFile: file, batches: 3, entries: 45, log: () => {} });
    const moved = await migrateStore(file, db.url);
    expect(moved.verification).toMatchObject({ valid: true });
    expect(moved.rows).toMatchObject({ entries: r.entries, signatures: r.signatures, audit_log: r.audit });
    expect((await verified(db.url)).report).toMatchObject({ valid: true });
  });
});
