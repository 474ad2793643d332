// Tampering with the record in PostgreSQL (21 CFR 11.10(a), 11.70), the counterpart of tampering.test.ts
// (the SQLite file): data recorded through HTTP, then edited by a database superuser through psql, who
// must first disable the append-only triggers; GET /audit/verify on the running server locates what
// was done, and the batch view says the record failed verification. The application's own role cannot
// do any of it (postgres-store.pg.test.ts).
import { execFileSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rowHash, GENESIS } from '../../../server/store/chain.js';
import { entryCells, type EntryRow } from '../../../server/store/store.js';
import { admin } from '../../pg.js';
import { call, createBatch, harness, recordReceipt, sign, type Harness } from '../../helpers.js';

interface Report { valid: boolean; checked: number; checkpoints?: number; firstInvalid?: { table: string; seq: number; reason: string; kind: string } }

let h: Harness;
let batch1: { id: string; version: number };

beforeEach(async () => {
  h = await harness({ checkpointEvery: 5 });
  const created1 = await createBatch(h, 'car-t', 1);
  const receipt1 = await recordReceipt(h, created1, 1);
  const created2 = await createBatch(h, 'car-t', 2);
  await recordReceipt(h, created2, 2);
  const sample = await call(h, 'op1', 'POST', `/batches/${created1.id}/steps/starting-material-sample`, {
    values: { wbcConcentration: 25, viability: 85, cd3Positive: 55 }, signature: sign('op1'), expectedVersion: receipt1.batch.version,
  });
  expect(sample.status, JSON.stringify(sample.body)).toBe(201);
  batch1 = sample.body.batch;
  await h.ctx.store.checkpoint('export');
});
afterEach(async () => h.close());

/** psql as the cluster's superuser, on the harness's database. */
const psql = (command: string) => execFileSync('psql', [h.databaseUrl!, '-v', 'ON_ERROR_STOP=1', '-qAtc', command], { encoding: 'utf8' }).trim();
/** The same, the triggers of a table disabled around it (only the owner or a superuser can). */
const behindTriggers = (table: string, command: string) =>
  psql(`begin; alter table ${table} disable trigger user; ${command}; alter table ${table} enable trigger user; commit;`);

async function verify(): Promise<Report> {
  const r = await call(h, 'qa1', 'GET', '/audit/verify');
  expect(r.status).toBe(200);
  return r.body as Report;
}

describe('PostgreSQL: tampering through psql is detected by GET /audit/verify', () => {
  it('an intact record verifies, every row of the three chains checked, against the signed checkpoints', async () => {
    const c = await h.ctx.store.counts();
    const report = await verify();
    expect(report).toMatchObject({ valid: true, checked: c.entries + c.signatures + c.audit });
    expect(report.checkpoints).toBeGreaterThan(0);
  });

  it('the triggers refuse an edit through psql, even to the superuser', () => {
    expect(() => psql("update entries set payload = '{}' where seq = 2")).toThrow(/append-only: UPDATE refused/);
    expect(() => psql('delete from signatures where seq = 1')).toThrow(/append-only: DELETE refused/);
    expect(() => psql('truncate audit_log cascade')).toThrow(/append-only: TRUNCATE refused/);
  });

  it('an edited payload is located: the row no longer matches its hash, and the batch view says so', async () => {
    behindTriggers('entries', `update entries set payload = replace(payload, '"volume":180', '"volume":18') where seq = 2`);
    expect(psql('select payload from entries where seq = 2')).toContain('"volume":18');
    expect((await verify()).firstInvalid).toMatchObject({ table: 'entries', seq: 2, kind: 'row', reason: 'the row does not match its hash' });
    const view = await call(h, 'qa1', 'GET', `/batches/${batch1.id}`);
    expect(view.body.integrity).toBe(false);
  });

  it('a deleted row is located', async () => {
    behindTriggers('audit_log', 'delete from audit_log where seq = 3');
    expect((await verify()).firstInvalid).toMatchObject({ table: 'audit_log', seq: 3, reason: 'row 3 is missing' });
  });

  it('a chain recomputed after an edit is caught by the signed checkpoints', async () => {
    const rows = await admin(h.databaseUrl!, async (c) => (await c.query<EntryRow>(`select seq, id, batch_id as "batchId", batch_seq as "batchSeq", kind, step_id as "stepId", payload,
      recorded_at as "recordedAt", actor_id as "actorId", training, prev_hash as "prevHash", hash from entries order by seq`)).rows);
    let prev = GENESIS;
    const updates: string[] = [];
    for (const r of rows) {
      const payload = r.seq === 2 ? r.payload.replace('"volume":180', '"volume":18') : r.payload;
      const hash = rowHash(prev, entryCells({ ...r, payload }));
      updates.push(`update entries set payload = '${payload.replaceAll("'", "''")}', prev_hash = '${prev}', hash = '${hash}' where seq = ${r.seq}`);
      prev = hash;
    }
    behindTriggers('entries', updates.join('; '));
    const report = await verify();
    expect(report.valid).toBe(false);
    expect(report.firstInvalid).toMatchObject({ table: 'entries', kind: 'chain' });
    expect(report.firstInvalid!.reason).toMatch(/differ from what signed checkpoint \d+ recorded/);
  });

  it('an edited batch identity is named by table, row and field', async () => {
    psql(`update batches set din = 'W123426999999' where id = '${batch1.id}'`);
    const report = await verify() as Report & { mismatches?: unknown[] };
    expect(report.valid).toBe(false);
    expect(report.mismatches).toContainEqual({ table: 'batches', row: batch1.id, field: 'din', row_value: 'W123426999999', chain_value: expect.any(String) });
  });
});
