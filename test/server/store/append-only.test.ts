// The record is append-only and tamper-evident: the database refuses UPDATE and DELETE on entries,
// signatures and the audit trail, and a row changed behind the triggers' back is located by the chain
// verification. The batch projection is a cache of the entries, and the record survives a restart.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../../server/app.js';
import { rowHash } from '../../../server/store/chain.js';
import { signatureCells, type SignatureRow } from '../../../server/store/store.js';
import { rebuildProjection } from '../../../server/services/projection.js';
import { call, createBatch, harness, PASSWORD, recordReceipt, sign, type Harness, sqliteOf } from '../../helpers.js';

const TABLES = ['entries', 'signatures', 'audit_log'] as const;

let h: Harness;
let batch: { id: string; version: number };



async function verify(hh: Harness) {
  const r = await call(hh, 'qa1', 'GET', '/audit/verify');
  expect(r.status).toBe(200);
  return r.body as { valid: boolean; checked: number; firstInvalid?: { table: string; seq: number; reason: string } };
}

const run = (sql: string, ...params: unknown[]) => sqliteOf(h.ctx.store).prepare(sql).run(...params);
const get = <T>(sql: string, ...params: unknown[]) => sqliteOf(h.ctx.store).prepare(sql).get(...params) as T;

beforeEach(async () => {
  h = await harness();
  const created = await createBatch(h, 'car-t', 1);
  const recorded = await recordReceipt(h, created, 1);
  batch = recorded.batch;
});
afterEach(async () => h.close());

describe('the database refuses to change the record', () => {
  it('has the six append-only triggers in sqlite_master', () => {
    const names = (sqliteOf(h.ctx.store).prepare("select name from sqlite_master where type = 'trigger' order by name").all() as { name: string }[]).map((r) => r.name);
    for (const table of TABLES) {
      expect(names).toContain(`${table}_no_update`);
      expect(names).toContain(`${table}_no_delete`);
    }
  });

  it.each(TABLES)('refuses UPDATE on %s, whatever code connects', (table) => {
    const before = get<{ hash: string }>(`select hash from ${table} where seq = 1`);
    expect(() => run(`update ${table} set hash = 'forged' where seq = 1`)).toThrow(/append-only/);
    expect(get<{ hash: string }>(`select hash from ${table} where seq = 1`)).toEqual(before);
  });

  it.each(TABLES)('refuses DELETE on %s, whatever code connects', (table) => {
    const n = (get<{ n: number }>(`select count(*) as n from ${table}`)).n;
    expect(() => run(`delete from ${table} where seq = 1`)).toThrow(/append-only/);
    expect(() => run(`delete from ${table}`)).toThrow(/append-only/);
    expect(get<{ n: number }>(`select count(*) as n from ${table}`).n).toBe(n);
  });
});

describe('chain verification locates a record changed behind the triggers', () => {
  it('answers valid on an intact database, having checked every row of the three chains', async () => {
    const counts = await h.ctx.store.counts();
    expect(counts.entries).toBeGreaterThanOrEqual(2);
    expect(counts.signatures).toBeGreaterThanOrEqual(1);
    const report = await verify(h);
    expect(report.valid).toBe(true);
    expect(report.firstInvalid).toBeUndefined();
    expect(report.checked).toBe(counts.entries + counts.signatures + counts.audit);
  });

  it('locates an entry whose payload was edited by hand', async () => {
    const row = get<{ payload: string; kind: string }>('select payload, kind from entries where seq = 2');
    expect(row.kind).toBe('step');
    const payload = JSON.parse(row.payload);
    payload.values.transportTemperature = 4;
    run('DROP TRIGGER entries_no_update');
    run('update entries set payload = ? where seq = 2', JSON.stringify(payload));
    const report = await verify(h);
    expect(report.valid).toBe(false);
    expect(report.firstInvalid).toMatchObject({ table: 'entries', seq: 2 });
  });

  it('locates a signature row edited by hand', async () => {
    run('DROP TRIGGER signatures_no_update');
    run("update signatures set printed_name = 'Somebody Else' where seq = 1");
    const report = await verify(h);
    expect(report.valid).toBe(false);
    expect(report.firstInvalid).toMatchObject({ table: 'signatures', seq: 1 });
  });

  it('locates an audit row edited by hand', async () => {
    run('DROP TRIGGER audit_log_no_update');
    run("update audit_log set reason = 'nothing happened here' where seq = 2");
    const report = await verify(h);
    expect(report.valid).toBe(false);
    expect(report.firstInvalid).toMatchObject({ table: 'audit_log', seq: 2 });
  });

  it('locates a deleted audit row', async () => {
    run('DROP TRIGGER audit_log_no_delete');
    run('delete from audit_log where seq = 1');
    const report = await verify(h);
    expect(report.valid).toBe(false);
    expect(report.firstInvalid).toMatchObject({ table: 'audit_log', seq: 1 });
    expect(report.firstInvalid!.reason).toMatch(/missing/);
  });

  it('locates a deleted entry in the middle of the chain', async () => {
    run('DROP TRIGGER entries_no_delete');
    run('delete from entries where seq = 1');
    const report = await verify(h);
    expect(report.valid).toBe(false);
    expect(report.firstInvalid).toMatchObject({ table: 'entries', seq: 1 });
  });

  it('detects a signature copied onto another entry', async () => {
    const sig = get<{ entry_id: string }>('select entry_id from signatures where seq = 1');
    const other = get<{ id: string }>('select id from entries where id != ? order by seq limit 1', sig.entry_id);
    expect(other.id).not.toBe(sig.entry_id);
    run('DROP TRIGGER signatures_no_update');
    run('update signatures set entry_id = ? where seq = 1', other.id);
    const report = await verify(h);
    expect(report.valid).toBe(false);
    expect(report.firstInvalid).toMatchObject({ table: 'signatures', seq: 1 });
  });

  it('detects a signature moved onto another entry even when its row hash is recomputed', async () => {
    // A forger who knows the hashing rewrites the row hash too: the chain links hold, but the signature
    // still carries the hash of the entry it was made for (21 CFR 11.70).
    const sig = sqliteOf(h.ctx.store).prepare(
      'select seq, id, entry_id as entryId, entry_hash as entryHash, entry_seq as entrySeq, user_id as userId, username, printed_name as printedName, meaning, signed_at as signedAt, prev_hash as prevHash, hash from signatures where seq = 1',
    ).get() as SignatureRow;
    expect((await h.ctx.store.counts()).signatures).toBe(1);
    const other = get<{ id: string }>('select id from entries where id != ? order by seq limit 1', sig.entryId);
    const forged = { ...sig, entryId: other.id };
    run('DROP TRIGGER signatures_no_update');
    run('update signatures set entry_id = ?, hash = ? where seq = 1', other.id, rowHash(sig.prevHash, signatureCells(forged)));
    const report = await verify(h);
    expect(report.valid).toBe(false);
    expect(report.firstInvalid).toMatchObject({ table: 'signatures', seq: 1 });
    expect(report.firstInvalid!.reason).toMatch(/does not belong/);
  });
});

describe('the batch projection is a cache of the entries', () => {
  it('rebuilds from the entries alone to the same status, version and open deviations as the cached row', async () => {
    // Starting-material sample out of specification (viability 60 % < 70 %): one OOS deviation, then verified.
    const sample = await call(h, 'op1', 'POST', `/batches/${batch.id}/steps/starting-material-sample`, {
      values: { wbcConcentration: 25, viability: 60, cd3Positive: 55 }, signature: sign('op1'), expectedVersion: batch.version,
    });
    expect(sample.status, JSON.stringify(sample.body)).toBe(201);
    expect(sample.body.batch.openDeviations).toBe(1);
    const verified = await call(h, 'op2', 'POST', `/batches/${batch.id}/entries/${sample.body.entry.id}/verify`, { signature: sign('op2') });
    expect(verified.status, JSON.stringify(verified.body)).toBe(201);

    const second = await createBatch(h, 'car-t', 2);
    await recordReceipt(h, second, 2);

    for (const id of [batch.id, second.id]) {
      const r = (await rebuildProjection(h.ctx, id))!;
      expect(r).toBeDefined();
      expect(r.cached).toEqual(r.rebuilt);
    }
    const first = (await rebuildProjection(h.ctx, batch.id))!;
    expect(first.rebuilt).toMatchObject({ status: 'in_process', openDeviations: 1 });
    expect(first.rebuilt.version).toBe(verified.body.batch.version);
    expect((await verify(h)).valid).toBe(true);
  });
});

describe('the record survives a restart', () => {
  it('reads the same batch — status, version, entries — from a new app on the same database file', async () => {
    const before = await call(h, 'op1', 'GET', `/batches/${batch.id}`);
    expect(before.status).toBe(200);
    const dbFile = path.join(h.dir, 'cellbatch.db');
    await h.app.close();

    const { app, ctx } = await buildApp({ dbFile, training: true, now: () => h.wall.now });
    try {
      const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'op1', password: PASSWORD } });
      expect(login.statusCode).toBe(200);
      const again = { ...h, app, ctx, tokens: { ...h.tokens, op1: login.json().token as string } };
      const after = await call(again, 'op1', 'GET', `/batches/${batch.id}`);
      expect(after.status).toBe(200);
      expect(after.body.status).toBe(before.body.status);
      expect(after.body.version).toBe(before.body.version);
      expect(after.body.entries).toEqual(before.body.entries);
      expect(after.body.entries.length).toBeGreaterThanOrEqual(2);
      expect((await ctx.store.verifyChains()).valid).toBe(true);
    } finally {
      await app.close();
    }
    // h.close() closes the (already closed) first app and removes the folder.
    expect(fs.existsSync(dbFile)).toBe(true);
  });
});
