// Moving a site from SQLite to PostgreSQL (`cellbatch migrate-store`): every row copied with its seq and
// hashes, then every chain and signed checkpoint verified on the target; a non-empty target refused.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import path from 'node:path';
import { migrateStore } from '../../../server/store/postgres/migrate-store.js';
import { openPostgresStore } from '../../../server/store/postgres/store.js';
import fs from 'node:fs';
import { checkpointHash, publicKeysIn, readMark } from '../../../server/store/checkpoints.js';
import { trustedKeys } from '../../../server/services/integrity.js';
import { admin, createTestDatabase } from '../../pg.js';
import { runCliAsync } from '../../../server/cli.js';
import { call, createBatch, harness, recordReceipt, type Harness } from '../../helpers.js';

let h: Harness;
let db: Awaited<ReturnType<typeof createTestDatabase>>;

beforeEach(async () => {
  h = await harness({ checkpointEvery: 5, store: 'sqlite' });
  const b = await createBatch(h, 'car-t', 1);
  await recordReceipt(h, b, 1);
  await createBatch(h, 'car-t', 2);
  db = await createTestDatabase();
});
afterEach(async () => {
  await h.close();
  await db.drop();
});

describe('migrate-store', () => {
  it('copies a SQLite record to PostgreSQL and verifies every chain and checkpoint there', async () => {
    const file = path.join(h.dir, 'cellbatch.db');
    await h.ctx.store.checkpoint('backup');
    const counts = await h.ctx.store.counts();
    const signed = await h.ctx.store.checkpoints();
    const r = await migrateStore(file, db.url, { mark: readMark(h.ctx.integrity!.signer.markFile!), publicKeys: trustedKeys(h.ctx.integrity) });
    expect(r.verification).toMatchObject({ valid: true, checkpoints: signed.length });
    expect(r.rows.checkpoints).toBe(signed.length);
    expect(r.rows).toMatchObject({ entries: counts.entries, signatures: counts.signatures, audit_log: counts.audit });
    expect(r.heads).toEqual(await h.ctx.store.heads());
    const target = await openPostgresStore(db.url);
    try {
      const [batch] = (await target.listBatches(undefined, 10)).items;
      expect(await target.batchIntact(batch.id)).toBe(true);
      expect(await target.getBatch(batch.id)).toEqual(await h.ctx.store.getBatch(batch.id));
      const user = await target.findUserByUsername('op1');
      expect(user).toEqual(await h.ctx.store.findUserByUsername('op1'));
      // The signed checkpoints moved as they are: the same rows, the same signatures and links.
      expect(await target.checkpoints()).toEqual(signed);
    } finally {
      await target.close();
    }
  });

  it('is the command `cellbatch migrate-store`; `cellbatch verify` then verifies the moved record on PostgreSQL', async () => {
    const file = path.join(h.dir, 'cellbatch.db');
    await h.app.close(); // the site's server is stopped for the move: its shutdown checkpoint signs the final heads
    const keys = path.join(h.dir, 'keys');
    const moved = await runCliAsync(['migrate-store', '--from', file, '--to', db.url, '--keys', keys]);
    expect(moved.code, moved.lines.join('\n')).toBe(0);
    const report = JSON.parse(moved.lines[0]);
    expect(report.verification).toMatchObject({ valid: true });
    const verified = await runCliAsync(['verify', '--database-url', db.url, '--db', file, '--keys', keys]);
    expect(verified.code, verified.lines.join('\n')).toBe(0);
    expect(JSON.parse(verified.lines[0])).toMatchObject({ valid: true, checkpoints: expect.any(Number) });
    expect(await runCliAsync(['migrate-store', '--from', file])).toMatchObject({ code: 2 });
    const backup = await runCliAsync(['backup', path.join(h.dir, 'b.db'), '--database-url', db.url]);
    expect(backup.code).toBe(1);
    expect(backup.lines[0]).toMatch(/pg_dump/);
  });

  it('moves the checkpoints of a file whose server has not started since they moved into the database: its file log, unchanged', async () => {
    const file = path.join(h.dir, 'cellbatch.db');
    await h.app.close();
    // The site as the version before left it: the checkpoints in <file>.checkpoints.jsonl, the table empty.
    const sqlite = (await import('better-sqlite3')).default;
    const raw = new sqlite(file);
    const log = (raw.prepare('select n, at, reason, heads, key_id as keyId, prev, signature from checkpoints order by n').all() as { heads: string }[])
      .map((r) => ({ ...r, heads: JSON.parse(r.heads) }));
    raw.exec('drop trigger checkpoints_no_delete; delete from checkpoints;');
    raw.close();
    fs.writeFileSync(`${file}.checkpoints.jsonl`, log.map((c) => `${JSON.stringify(c)}\n`).join(''));
    const markFile = path.join(h.dir, 'keys', 'checkpoint-latest.json');
    fs.writeFileSync(markFile, JSON.stringify({ n: log.length, hash: checkpointHash(log.at(-1) as never) }));
    const r = await migrateStore(file, db.url, { mark: readMark(markFile), publicKeys: publicKeysIn(path.join(h.dir, 'keys')) });
    expect(r.verification).toMatchObject({ valid: true, checkpoints: log.length });
    expect(r.rows.checkpoints).toBe(log.length);
    const target = await openPostgresStore(db.url);
    try {
      expect(await target.checkpoints()).toEqual(log);
    } finally {
      await target.close();
    }
  });

  it('refuses a target that already holds a record, and changes nothing there', async () => {
    const file = path.join(h.dir, 'cellbatch.db');
    expect((await migrateStore(file, db.url)).verification.valid).toBe(true);
    await expect(migrateStore(file, db.url)).rejects.toThrow(/is not empty/);
    const n = await admin(db.url, (c) => c.query<{ n: number }>('select count(*)::int as n from entries'));
    expect(n.rows[0].n).toBe((await h.ctx.store.counts()).entries);
  });

  it('reports a move whose chains do not verify on the target', async () => {
    const file = path.join(h.dir, 'cellbatch.db');
    void call;
    // A record edited in the file before the move is caught after it: nothing is re-hashed on the way.
    const sqlite = (await import('better-sqlite3')).default;
    const raw = new sqlite(file);
    raw.exec('drop trigger entries_no_update');
    raw.prepare("update entries set payload = replace(payload, 'PT-1', 'PT-9') where seq = 1").run();
    raw.close();
    const r = await migrateStore(file, db.url);
    expect(r.verification).toMatchObject({ valid: false, firstInvalid: { table: 'entries', seq: 1 } });
  });
});
