// npm run demo on PostgreSQL (CELLBATCH_DEMO_DATABASE_URL): the same refusal as on a SQLite file. A
// database holding anything not made by the demo, or a record not marked TRAINING, is refused and left
// as it was; the demo's own database is emptied; a database with no table at all is free to use.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { demoKeyDir, notADemoDatabase, removeDemoDatabase } from '../../../server/demo-safety.js';
import { admin, createTestDatabase } from '../../pg.js';
import { writeRecord } from './demo-safety.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let dir: string;
beforeEach(async () => {
  db = await createTestDatabase(undefined, { empty: true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellbatch-demo-'));
});
afterEach(async () => {
  await db.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const tables = () => admin(db.url, async (c) => (await c.query<{ n: number }>(`select count(*)::int as n from pg_tables where schemaname = 'public'`)).rows[0].n);
const batches = () => admin(db.url, async (c) => (await c.query<{ n: number }>('select count(*)::int as n from batches')).rows[0].n);

describe('npm run demo on PostgreSQL and the database it empties', () => {
  it('uses an empty database; refuses a GMP record (no mark) and changes nothing', async () => {
    expect(await notADemoDatabase(db.url)).toBeNull();
    await writeRecord(db.url, { mark: false, batches: [false] });
    expect(await notADemoDatabase(db.url)).toMatch(/not made by the demo/);
    await expect(removeDemoDatabase(path.join(dir, 'demo.db'), db.url)).rejects.toThrowError(/refuses to delete postgres:\/\/.*not made by the demo.*CELLBATCH_DEMO_DATABASE_URL/);
    expect(await batches()).toBe(1);
  });

  it('refuses the mark beside a record not marked TRAINING; empties its own database', async () => {
    await writeRecord(db.url, { mark: true, batches: [true] });
    expect(await notADemoDatabase(db.url)).toBeNull();
    await writeRecord(db.url, { mark: true, batches: [false] });
    await expect(removeDemoDatabase(path.join(dir, 'demo.db'), db.url)).rejects.toThrowError(/1 batch\(es\) or entries that are not marked TRAINING/);
    expect(await batches()).toBe(2);
    await admin(db.url, (c) => c.query('delete from batches where not training'));
    const dbFile = path.join(dir, 'demo.db');
    fs.mkdirSync(demoKeyDir(dbFile));
    await removeDemoDatabase(dbFile, db.url);
    expect(await tables()).toBe(0);
    expect(fs.existsSync(demoKeyDir(dbFile))).toBe(false);
    expect(await notADemoDatabase(db.url)).toBeNull();
  });

  it("refuses another application's database without creating a table in it", async () => {
    await admin(db.url, (c) => c.query(`create table notes (id serial primary key, body text); insert into notes (body) values ('keep me')`));
    await expect(removeDemoDatabase(path.join(dir, 'demo.db'), db.url)).rejects.toThrowError(/cannot be read as a cellbatch database/);
    expect(await tables()).toBe(1);
    expect(await admin(db.url, async (c) => (await c.query('select body from notes')).rows)).toEqual([{ body: 'keep me' }]);
  });
});
