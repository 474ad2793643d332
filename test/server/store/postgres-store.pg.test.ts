// The PostgreSQL store on its own (npm run test:pg): migrations, the append-only triggers, the
// application's role, one chain order across two app servers, and verification of what psql changed.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { openPostgresStore, type PostgresStore } from '../../../server/store/postgres/store.js';
import { grantAppRole, RECORD_TABLES } from '../../../server/store/postgres/roles.js';
import { GENESIS, rowHash } from '../../../server/store/chain.js';
import { entryCells } from '../../../server/store/store.js';
import { admin, createTestDatabase, withDatabase } from '../../pg.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: PostgresStore;
const T0 = Date.parse('2026-03-02T08:00:00Z');
const at = (i: number) => new Date(T0 + i * 1000).toISOString();
const sqlOwner = <T extends pg.QueryResultRow>(text: string, values: unknown[] = []) => admin(db.url, (c) => c.query<T>(text, values));

const entry = (i: number, batchId = 'B1') => ({ id: `E${i}-${batchId}`, batchId, kind: 'step', stepId: 's', payload: JSON.stringify({ i }), recordedAt: at(i), actorId: 'u1', training: true });

beforeEach(async () => {
  db = await createTestDatabase();
  store = await openPostgresStore(db.url);
});
afterEach(async () => {
  await store.close();
  await db.drop();
});

describe('PostgreSQL store', () => {
  it('appends chained rows whose hashes are those SQLite would store, and verifies them', async () => {
    const e1 = await store.transaction(() => store.appendEntry(entry(1)));
    const e2 = await store.transaction(() => store.appendEntry(entry(2)));
    expect(e1).toMatchObject({ seq: 1, batchSeq: 1, prevHash: GENESIS, training: true });
    expect(e2.prevHash).toBe(e1.hash);
    expect(e2.hash).toBe(rowHash(e1.hash, entryCells({ ...entry(2), seq: 2, batchSeq: 2 })));
    expect(await store.getEntry(e2.id)).toEqual(e2);
    expect(await store.batchVersion('B1')).toBe(2);
    expect(await store.verifyChains()).toEqual({ valid: true, checked: 2 });
  });

  it('rolls a transaction back whole: nothing of a refused write stays', async () => {
    await expect(store.transaction(async () => {
      await store.appendEntry(entry(1));
      await store.appendAudit({ at: at(1), userId: null, action: 'x', entity: 'y', entityId: null, batchId: null, reason: null });
      throw new Error('refused');
    })).rejects.toThrow('refused');
    expect(await store.counts()).toEqual({ entries: 0, signatures: 0, audit: 0 });
  });

  it('refuses UPDATE, DELETE and TRUNCATE of record rows, even to the owner', async () => {
    await store.transaction(() => store.appendEntry(entry(1)));
    await store.transaction(() => store.appendAudit({ at: at(1), userId: null, action: 'x', entity: 'y', entityId: null, batchId: null, reason: null }));
    for (const table of ['entries', 'audit_log']) {
      await expect(sqlOwner(`update ${table} set hash = 'forged'`)).rejects.toThrow(/append-only: UPDATE refused/);
      await expect(sqlOwner(`delete from ${table}`)).rejects.toThrow(/append-only: DELETE refused/);
      await expect(sqlOwner(`truncate ${table} cascade`)).rejects.toThrow(/append-only: TRUNCATE refused/);
    }
    expect(await store.counts()).toMatchObject({ entries: 1, audit: 1 });
  });

  it('gives the application role INSERT and SELECT on record tables, never UPDATE or DELETE', async () => {
    const role = `${db.name}_app`;
    await sqlOwner(`create role ${role} login`);
    try {
      await admin(db.url, (c) => grantAppRole(c, role));
      const appUrl = (() => { const u = new URL(db.url); u.username = role; return u.toString(); })();
      const app = await openPostgresStore(appUrl);
      try {
        await app.transaction(() => app.appendEntry(entry(1)));
        await app.putSetting('k', 'v');
        await app.putSetting('k', 'w');
        expect(await app.getSetting('k')).toBe('w');
        // Attempt counters are not record: the role counts and deletes ended windows (roles.ts COUNTER_TABLES).
        expect(await app.countAttempt('login 10.0.0.1', at(1), at(2))).toEqual({ hits: 1, windowEndsAt: at(2) });
        expect(await app.countAttempt('login 10.0.0.2', at(3), at(4))).toEqual({ hits: 1, windowEndsAt: at(4) });
        expect((await sqlOwner('select key from attempt_windows')).rows).toEqual([{ key: 'login 10.0.0.2' }]);
        // Even with the triggers disabled by the owner, the role has no right to change a record row.
        await sqlOwner('alter table entries disable trigger user');
        for (const table of RECORD_TABLES) {
          const column = { checkpoints: 'prev', record_pdfs: 'lang', process_definitions: 'hash', password_history: 'changed_at', process_version_signatures: 'reason' }[table as string] ?? 'prev_hash';
          await expect(app.pool.query(`update ${table} set ${column} = ${column}`)).rejects.toThrow(/permission denied/);
          await expect(app.pool.query(`delete from ${table}`)).rejects.toThrow(/permission denied/);
        }
        await expect(app.pool.query('alter table entries disable trigger user')).rejects.toThrow(/must be owner/);
        await sqlOwner('alter table entries enable trigger user');
      } finally {
        await app.close();
      }
    } finally {
      await sqlOwner(`drop owned by ${role}`);
      await sqlOwner(`drop role ${role}`);
    }
  });

  it('keeps one chain order when two app servers append at once', async () => {
    const other = await openPostgresStore(db.url);
    try {
      await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? store : other).transaction(async () => {
        await (i % 2 ? store : other).appendEntry({ ...entry(i, `B${i % 3}`), recordedAt: at(1) });
      })));
      const report = await store.verifyChains();
      expect(report.valid).toBe(true);
      const rows = (await sqlOwner<{ seq: number; batch_id: string; batch_seq: number }>('select seq, batch_id, batch_seq from entries order by seq')).rows;
      expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
      for (const b of ['B0', 'B1', 'B2']) {
        const seqs = rows.filter((r) => r.batch_id === b).map((r) => r.batch_seq);
        expect(seqs).toEqual(seqs.map((_, i) => i + 1));
      }
    } finally {
      await other.close();
    }
  }, 30_000);

  it('locates a payload edited through psql behind the triggers, and a chain recomputed after it', async () => {
    for (let i = 1; i <= 3; i++) await store.transaction(() => store.appendEntry(entry(i)));
    await sqlOwner('alter table entries disable trigger user');
    await sqlOwner(`update entries set payload = '{"i":99}' where seq = 2`);
    expect((await store.verifyChains()).firstInvalid).toMatchObject({ table: 'entries', seq: 2, kind: 'row' });
    // Recompute the hashes from row 2 on: the chain holds again, only a signed checkpoint tells.
    const rows = (await sqlOwner<{ seq: number; id: string; batch_id: string; batch_seq: number; kind: string; step_id: string; payload: string; recorded_at: string; actor_id: string; training: boolean; prev_hash: string }>('select * from entries order by seq')).rows;
    const checkpoint = { n: 1, at: at(9), reason: 'interval' as const, heads: { entries: { seq: 3, hash: (await store.heads()).entries.hash }, signatures: { seq: 0, hash: GENESIS }, audit_log: { seq: 0, hash: GENESIS } }, keyId: 'k', prev: '', signature: '' };
    let prev = rows[0].prev_hash;
    for (const r of rows) {
      const hash = rowHash(prev, entryCells({ seq: r.seq, id: r.id, batchId: r.batch_id, batchSeq: r.batch_seq, kind: r.kind, stepId: r.step_id, payload: r.payload, recordedAt: r.recorded_at, actorId: r.actor_id, training: r.training }));
      await sqlOwner('update entries set prev_hash = $1, hash = $2 where seq = $3', [prev, hash, r.seq]);
      prev = hash;
    }
    expect(await store.verifyChains()).toMatchObject({ valid: true });
    expect((await store.verifyChains([checkpoint])).firstInvalid).toMatchObject({ table: 'entries', kind: 'chain' });
    await sqlOwner('delete from entries where seq = 2');
    expect((await store.verifyChains()).firstInvalid).toMatchObject({ table: 'entries', seq: 2, reason: 'row 2 is missing' });
    await sqlOwner('alter table entries enable trigger user');
  });

  it('refuses text PostgreSQL cannot store (U+0000) as input, not as an internal error', async () => {
    await expect(store.findUserByUsername('a\u0000b')).rejects.toMatchObject({ cause: { status: 400 } });
  });

  it('runs the migrations once however many servers start together', async () => {
    const fresh = await createTestDatabase(undefined, { empty: true });
    try {
      const stores = await Promise.all([openPostgresStore(fresh.url), openPostgresStore(fresh.url), openPostgresStore(fresh.url)]);
      await Promise.all(stores.map((s) => s.close()));
      const n = await admin(fresh.url, (c) => c.query<{ n: number }>('select count(*)::int as n from drizzle.__drizzle_migrations'));
      expect(n.rows[0].n).toBeGreaterThan(0);
    } finally {
      await fresh.drop();
    }
  });
});

void withDatabase;
