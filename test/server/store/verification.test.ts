// The verifier's two passes (server/store/verify.ts): the fast pass (SQLite renders each row's bytes,
// worker threads hash them) must agree with the walk on every record, intact or not; the hashed form
// is the one chain.ts defines; and a database written before migration 0003 still verifies.
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../../server/app.js';
import { legacyChainHash, rowBytes, storable, GENESIS } from '../../../server/store/chain.js';
import { call, createBatch, din, harness, PASSWORD, recordReceipt, sign, type Harness, sqliteOf } from '../../helpers.js';

const WORKERS = { workers: 2, segmentRows: 4, minRows: 0 } as const;

let h: Harness;
let dbFile: string;

beforeEach(async () => {
  h = await harness({ checkpointEvery: 7 });
  dbFile = path.join(h.dir, 'cellbatch.db');
  for (const n of [1, 2, 3]) {
    const created = await createBatch(h, 'car-t', n);
    const receipt = await recordReceipt(h, created, n);
    const sample = await call(h, 'op1', 'POST', `/batches/${created.id}/steps/starting-material-sample`, {
      values: { wbcConcentration: 25, viability: 85, cd3Positive: 55 }, signature: sign('op1'), expectedVersion: receipt.batch.version,
    });
    expect(sample.status, JSON.stringify(sample.body)).toBe(201);
    const verified = await call(h, 'op2', 'POST', `/batches/${created.id}/entries/${sample.body.entry.id}/verify`, { signature: sign('op2') });
    expect(verified.status, JSON.stringify(verified.body)).toBe(201);
  }
});

afterEach(async () => {
  await h.close();
});

/** Runs an edit on the open database with the append-only triggers of `table` dropped, then restores them. */
function behindTriggers(table: string, edit: (db: Database.Database) => void) {
  const db = sqliteOf(h.ctx.store);
  const triggers = db.prepare("select name, sql from sqlite_master where type = 'trigger' and tbl_name = ?").all(table) as { name: string; sql: string }[];
  for (const t of triggers) db.exec(`DROP TRIGGER ${t.name}`);
  edit(db);
  for (const t of triggers) db.exec(t.sql);
}

const checkpoints = () => h.ctx.store.checkpoints();

describe('the hashed form of a row', () => {
  it('SQLite renders the bytes of a stored row exactly as rowBytes defines them, for any text', () => {
    const db = new Database(':memory:');
    db.exec('create table t (prev_hash text, n integer, s text, z text)');
    const insert = db.prepare('insert into t values (?, ?, ?, ?)');
    const rendered = db.prepare('select json_array(prev_hash, n, s, z) from t where rowid = last_insert_rowid()').pluck();
    fc.assert(fc.property(
      fc.string({ unit: 'binary' }), fc.integer({ min: 0, max: 2 ** 40 }), fc.option(fc.string({ unit: 'binary' })),
      (s, n, z) => {
        // Lone surrogates included: storable() turns them into what the database stores.
        insert.run(GENESIS, n, s, z);
        expect(rendered.get()).toBe(rowBytes(GENESIS, [n, storable(s), z === null ? null : storable(z)]));
      },
    ), { seed: 20261123, numRuns: 2000 });
    db.close();
  });

  it('text that cannot be stored as UTF-8 (a lone surrogate) is recorded as stored, and the record verifies', async () => {
    const b = (await call(h, 'op1', 'GET', '/batches')).body.items[0];
    const r = await call(h, 'sup1', 'POST', `/batches/${b.id}/terminate`, { reason: 'Bag leaked \ud800 in transport', signature: sign('sup1'), expectedVersion: b.version });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const verify = await call(h, 'qa1', 'GET', '/audit/verify');
    expect(verify.body).toMatchObject({ valid: true });
    expect((await h.ctx.store.verifyChainsInParallel(await checkpoints(), WORKERS)).valid).toBe(true);
    const view = await call(h, 'qa1', 'GET', `/batches/${b.id}`);
    expect(view.body.integrity).toBe(true);
  });
});

describe('verification in worker threads', () => {
  it('proves an intact record intact, counting every row, and agrees with the walk in this thread', async () => {
    const counts = await h.ctx.store.counts();
    const parallel = await h.ctx.store.verifyChainsInParallel(await checkpoints(), WORKERS);
    expect(parallel).toEqual(await h.ctx.store.verifyChains(await checkpoints()));
    expect(parallel).toMatchObject({ valid: true, checked: counts.entries + counts.signatures + counts.audit });
    expect(parallel.checkpoints).toBeGreaterThan(1);
  });

  it('reports an edited row exactly as the walk does: table, row and reason', async () => {
    behindTriggers('entries', (db) => db.prepare("update entries set recorded_at = '2020-01-01T00:00:00.000Z' where seq = 5").run());
    const parallel = await h.ctx.store.verifyChainsInParallel(await checkpoints(), WORKERS);
    expect(parallel).toEqual(await h.ctx.store.verifyChains(await checkpoints()));
    expect(parallel.firstInvalid).toMatchObject({ table: 'entries', seq: 5, reason: 'the row does not match its hash', kind: 'row' });
  });

  it('finds a row deleted from the middle, a signature moved to another entry, an audit row reworded', async () => {
    behindTriggers('audit_log', (db) => db.prepare("update audit_log set reason = 'nothing happened' where seq = 9").run());
    let r = await h.ctx.store.verifyChainsInParallel(await checkpoints(), WORKERS);
    expect(r.firstInvalid).toMatchObject({ table: 'audit_log', seq: 9, kind: 'row' });

    behindTriggers('signatures', (db) => {
      const other = db.prepare('select id from entries where seq = 1').pluck().get();
      db.prepare('update signatures set entry_id = ? where seq = 3').run(other);
    });
    r = await h.ctx.store.verifyChainsInParallel(await checkpoints(), WORKERS);
    expect(r.firstInvalid).toMatchObject({ table: 'signatures', seq: 3 });

    behindTriggers('entries', (db) => db.prepare('delete from entries where seq = 6').run());
    r = await h.ctx.store.verifyChainsInParallel(await checkpoints(), WORKERS);
    expect(r).toEqual(await h.ctx.store.verifyChains(await checkpoints()));
    expect(r.firstInvalid).toMatchObject({ table: 'entries', seq: 6, reason: 'row 6 is missing', kind: 'chain' });
  });

  it('reports a value the database cannot render as JSON (a blob where text belongs) on its row', async () => {
    behindTriggers('signatures', (db) => db.prepare("update signatures set printed_name = x'00ff' where seq = 2").run());
    const parallel = await h.ctx.store.verifyChainsInParallel(await checkpoints(), WORKERS);
    expect(parallel).toEqual(await h.ctx.store.verifyChains(await checkpoints()));
    expect(parallel.firstInvalid).toMatchObject({ table: 'signatures', seq: 2, kind: 'row' });
  });

  it('catches a chain rewritten with every later hash recomputed, through the signed checkpoints', async () => {
    const rows = sqliteOf(h.ctx.store).prepare('select * from entries where seq >= 3 order by seq').all() as Record<string, string | number | null>[];
    behindTriggers('entries', (db) => {
      let prev = db.prepare('select hash from entries where seq = 2').pluck().get() as string;
      for (const r of rows) {
        const payload = String(r.payload).replace('"volume":180', '"volume":181');
        const cells = [r.seq, r.id, r.batch_id, r.batch_seq, r.kind, r.step_id, payload, r.recorded_at, r.actor_id, r.training];
        const hash = forgedHash(prev, cells);
        db.prepare('update entries set payload = ?, prev_hash = ?, hash = ? where seq = ?').run(payload, prev, hash, r.seq);
        prev = hash;
      }
    });
    const parallel = await h.ctx.store.verifyChainsInParallel(await checkpoints(), WORKERS);
    expect(parallel).toEqual(await h.ctx.store.verifyChains(await checkpoints()));
    expect(parallel.valid).toBe(false);
    expect(parallel.firstInvalid).toMatchObject({ table: 'entries', kind: 'chain' });
    expect(parallel.firstInvalid!.reason).toMatch(/differ from what signed checkpoint \d+ recorded/);
  });
});

/** The hash a forger who knows the format computes. */
const forgedHash = (prev: string, cells: (string | number | null)[]) => createHash('sha256').update(rowBytes(prev, cells)).digest('hex');

describe('a database written before migration 0003 (rows hashed in the old form)', () => {
  /** Rewrites every row as the old code hashed it and records where the old form ends, as migration 0003 does. */
  async function makeLegacy() {
    await h.app.close();
    const db = new Database(dbFile);
    const tables = ['entries', 'signatures', 'audit_log'];
    const triggers = db.prepare("select sql from sqlite_master where type = 'trigger'").pluck().all() as string[];
    for (const name of db.prepare("select name from sqlite_master where type = 'trigger'").pluck().all() as string[]) db.exec(`DROP TRIGGER ${name}`);
    const shapes: Record<string, (r: any) => Record<string, unknown>> = {
      entries: (r) => ({ seq: r.seq, id: r.id, batchId: r.batch_id, batchSeq: r.batch_seq, kind: r.kind, stepId: r.step_id, payload: JSON.parse(r.payload), recordedAt: r.recorded_at, actorId: r.actor_id, training: Boolean(r.training) }),
      signatures: (r) => ({ seq: r.seq, id: r.id, entryId: r.entry_id, entryHash: r.entry_hash, userId: r.user_id, username: r.username, printedName: r.printed_name, meaning: r.meaning, signedAt: r.signed_at }),
      audit_log: (r) => ({ seq: r.seq, at: r.at, userId: r.user_id, action: r.action, entity: r.entity, entityId: r.entity_id, batchId: r.batch_id, before: r.before, after: r.after, reason: r.reason }),
    };
    const newHash = new Map<string, string>(); // entry id → its hash in the old form, for the signatures
    for (const table of tables) {
      let prev = GENESIS;
      for (const r of db.prepare(`select * from ${table} order by seq`).all() as any[]) {
        const row = table === 'signatures' ? { ...r, entry_hash: newHash.get(r.entry_id) } : r;
        const hash = legacyChainHash(prev, shapes[table](row));
        // Rows of the old form name their entry by id only.
        db.prepare(`update ${table} set prev_hash = ?, hash = ?${table === 'signatures' ? ', entry_hash = ?, entry_seq = NULL' : ''} where seq = ?`)
          .run(...(table === 'signatures' ? [prev, hash, row.entry_hash, r.seq] : [prev, hash, r.seq]));
        if (table === 'entries') newHash.set(r.id, hash);
        prev = hash;
      }
    }
    const heads = Object.fromEntries(tables.map((t) => [t, db.prepare(`select max(seq) from ${t}`).pluck().get()]));
    db.prepare("update settings set value = ? where key = 'chain.legacy-heads'").run(JSON.stringify(heads));
    // The old heads were never signed in this form: the checkpoints begin again.
    db.exec('delete from checkpoints');
    for (const sql of triggers) db.exec(sql);
    db.close();
    fs.rmSync(path.join(h.dir, 'keys', 'checkpoint-latest.json'), { force: true });
    return heads as Record<string, number>;
  }

  it('verifies, keeps the old rows as they are, and chains new rows in the new form after them', async () => {
    const heads = await makeLegacy();
    const { app, ctx } = await buildApp({ dbFile, training: true, now: () => h.wall.now });
    try {
      expect(ctx.recordCheck.report).toMatchObject({ valid: true });
      const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'op1', password: PASSWORD } });
      const auth = { authorization: `Bearer ${login.json().token}` };
      const created = await app.inject({ method: 'POST', url: '/api/v1/batches', headers: auth, payload: { processId: 'car-t', din: din(9).keyed, patient: { id: 'PT-9', weightKg: 70 } } });
      expect(created.statusCode, created.body).toBe(201);
      const first = sqliteOf(ctx.store).prepare('select seq, prev_hash as prevHash from audit_log where seq = ?').get(heads.audit_log + 1) as { seq: number; prevHash: string } | undefined;
      expect(first?.prevHash).toBe(sqliteOf(ctx.store).prepare('select hash from audit_log where seq = ?').pluck().get(heads.audit_log));
      expect(await ctx.store.verifyChains(await ctx.store.checkpoints())).toMatchObject({ valid: true });
      expect(await ctx.store.verifyChainsInParallel(await ctx.store.checkpoints(), WORKERS)).toMatchObject({ valid: true });
      const list = await app.inject({ method: 'GET', url: '/api/v1/batches', headers: auth });
      const view = await app.inject({ method: 'GET', url: `/api/v1/batches/${list.json().items[0].id}`, headers: auth });
      expect(view.json().integrity).toBe(true);
    } finally {
      await app.close();
    }
  });

  it('still detects an edit to a row in the old form, located by table and row', async () => {
    await makeLegacy();
    const db = new Database(dbFile);
    db.exec('DROP TRIGGER entries_no_update');
    db.prepare("update entries set recorded_at = '2020-01-01T00:00:00.000Z' where seq = 5").run();
    db.close();
    const { app, ctx } = await buildApp({ dbFile, training: true, now: () => h.wall.now });
    try {
      expect(ctx.recordCheck.report?.firstInvalid).toMatchObject({ table: 'entries', seq: 5, reason: 'the row does not match its hash' });
    } finally {
      await app.close();
    }
  });
});
