// GET /batches/{id}/export: the batch's complete electronic record (21 CFR 11.10(b); regulations.md R3)
// that a reader without the server can check: every chained row recomputes to its hash, and the
// signed checkpoints that cover the rows verify with the public key the export carries.
import { createPublicKey, verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createBatch, harness, recordReceipt, sign, type Harness } from '../../helpers.js';
import { canonicalJson, rowHash } from '../../../server/store/chain.js';

let h: Harness;
let batch: { id: string; batchNumber: string; version: number };
let receiptId: string;

beforeAll(async () => {
  h = await harness();
  const created = await createBatch(h, 'car-t', 7);
  const receipt = await recordReceipt(h, created, 7);
  receiptId = receipt.entry.id;
  const sample = await call(h, 'op1', 'POST', `/batches/${created.id}/steps/starting-material-sample`, {
    values: { wbcConcentration: 25, viability: 60, cd3Positive: 55 }, signature: sign('op1'), expectedVersion: receipt.batch.version,
  });
  expect(sample.status).toBe(201); // viability 60 % < 70 %: an OOS deviation opens
  batch = sample.body.batch;
}, 60_000);

afterAll(async () => h.close());

const exportOf = async (user = 'qa1') => {
  const r = await h.app.inject({ method: 'GET', url: `/api/v1/batches/${batch.id}/export`, headers: { authorization: `Bearer ${h.tokens[user]}` } });
  return { status: r.statusCode, headers: r.headers, raw: r.rawPayload, body: r.statusCode === 200 ? r.json() : undefined };
};

describe('the export document', () => {
  it('is versioned JSON with the batch, the pinned process definition, every entry with its signatures, deviations and audit rows', async () => {
    const r = await exportOf();
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    const doc = r.body;
    expect(doc.format).toBe('cellbatch.batch-record/1');
    expect(doc.batch).toMatchObject({ id: batch.id, batchNumber: batch.batchNumber, status: 'in_process', openDeviations: 1 });
    const def = (await call(h, 'qa1', 'GET', '/processes/car-t')).body;
    expect(doc.process).toMatchObject({ id: 'car-t', version: def.version, hash: (await call(h, 'qa1', 'GET', `/batches/${batch.id}`)).body.processHash });
    expect(doc.process.definition.phases.length).toBe(def.phases.length);
    expect(doc.entries.map((e: any) => e.kind)).toEqual(['batch-created', 'step', 'step', 'deviation']);
    const receipt = doc.entries.find((e: any) => e.id === receiptId);
    expect(receipt.payload.values.transportTemperature).toBe(6);
    expect(receipt.signatures).toEqual([expect.objectContaining({ username: 'op1', printedName: 'Test OP1', meaning: 'performed', entryHash: expect.stringMatching(/^[0-9a-f]{64}$/) })]);
    expect(doc.deviations).toEqual([expect.objectContaining({ kind: 'oos', status: 'open', stepId: 'starting-material-sample' })]);
    expect(doc.audit.map((a: any) => a.action)).toEqual(expect.arrayContaining(['batch.created', 'step.recorded']));
    expect(doc.audit.some((a: any) => a.action === 'record.exported')).toBe(false);
    expect(doc.users.map((u: any) => u.username)).toContain('op1');
    expect(doc.integrity).toEqual({ intact: true });
  });

  it('holds every chained row of the batch in its stored form: each recomputes to its hash', async () => {
    const doc = (await exportOf()).body;
    for (const table of ['entries', 'signatures', 'audit_log'] as const) {
      const chain = doc.chains[table];
      expect(chain.rows.length, table).toBeGreaterThan(0);
      for (const row of chain.rows) {
        expect(row.form).toBe('json-array');
        expect(rowHash(row.prevHash, row.cells), `${table} ${row.seq}`).toBe(row.hash);
        expect(row.cells[0]).toBe(row.seq);
      }
    }
    expect(doc.chains.entries.rows.map((r: any) => r.hash)).toEqual(await Promise.all(doc.entries.map(async (e: any) => (await h.ctx.store.getEntry(e.id))!.hash)));
  });

  it('carries the signed checkpoints that cover its rows and the Ed25519 public key that verifies them', async () => {
    const doc = (await exportOf()).body;
    expect(doc.checkpoints.length).toBeGreaterThan(0);
    const keys = new Map(doc.publicKeys.map((k: any) => [k.id, k.publicKeyPem]));
    for (const c of doc.checkpoints) {
      const signed = canonicalJson({ n: c.n, at: c.at, reason: c.reason, heads: c.heads, keyId: c.keyId, prev: c.prev });
      expect(verify(null, Buffer.from(signed), createPublicKey(keys.get(c.keyId) as string), Buffer.from(c.signature, 'base64'))).toBe(true);
    }
    for (const table of ['entries', 'signatures', 'audit_log'] as const) {
      const last = Math.max(...doc.chains[table].rows.map((r: any) => r.seq));
      expect(doc.checkpoints.some((c: any) => c.heads[table].seq >= last), table).toBe(true);
    }
  });

  it('is the same document twice while nothing changes, each export audited with the SHA-256 of the bytes served', async () => {
    const { createHash } = await import('node:crypto');
    const a = await exportOf('qa1');
    const b = await exportOf('insp1');
    expect(b.raw.equals(a.raw)).toBe(true);
    const sha = createHash('sha256').update(a.raw).digest('hex');
    const rows = (await call(h, 'qa1', 'GET', `/audit?batchId=${batch.id}&action=record.exported`)).body.items;
    expect(rows.slice(-2).map((x: any) => [x.after.document, x.after.sha256, x.entity, x.entityId])).toEqual([['export', sha, 'batch', batch.id], ['export', sha, 'batch', batch.id]]);
  });

  it('answers 404 for an unknown batch before 403 for a role that may not read it, and 401 without a session', async () => {
    expect((await call(h, 'op1', 'GET', '/batches/nope/export')).status).toBe(404);
    expect((await call(h, 'op1', 'GET', `/batches/${batch.id}/export`)).status).toBe(403);
    expect((await call(h, null, 'GET', `/batches/${batch.id}/export`)).status).toBe(401);
    expect((await exportOf('admin')).status).toBe(200);
  });
});
