// Shared helpers for the refusal suites: problem+json assertions, "nothing written" checks and a
// driver that walks a CAR-T batch to the step a test needs.
import { expect } from 'vitest';
import { call, din, HOUR, recordState, sign, type Harness } from '../../helpers.js';

export type Reply = Awaited<ReturnType<typeof call>>;

/** Asserts an RFC 9457 problem: status, media type, the four members and, on a 400, dotted field errors. */
export function expectProblem(r: Reply, status: number, fields: string[] = []) {
  expect(r.status, `expected ${status}, got ${r.status}: ${JSON.stringify(r.body)}`).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(r.body).toMatchObject({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String) });
  expect(r.body.type.length).toBeGreaterThan(0);
  expect(r.body.detail.length).toBeGreaterThan(0);
  if (status === 400) {
    expect(Array.isArray(r.body.errors), 'a 400 carries errors[]').toBe(true);
    expect(r.body.errors.length).toBeGreaterThan(0);
    for (const e of r.body.errors) {
      expect(e).toMatchObject({ field: expect.any(String), message: expect.any(String) });
      expect(e.field, 'errors[].field is a dotted path').not.toMatch(/[/[\]]/);
      expect(e.field.length).toBeGreaterThan(0);
    }
  }
  if (fields.length) {
    expect(Array.isArray(r.body.errors), `errors[] naming ${fields.join(', ')}`).toBe(true);
    expect(r.body.errors.map((e: { field: string }) => e.field)).toEqual(expect.arrayContaining(fields));
  }
}

/** Runs a request that must be refused and proves the record did not change. */
export async function refusedWithoutWriting(h: Harness, request: () => Promise<Reply>, status: number, fields: string[] = []) {
  const before = await recordState(h);
  expect(before.chain).toBe(true);
  const r = await request();
  expectProblem(r, status, fields);
  const after = await recordState(h);
  expect(after.entries, 'no entry written').toBe(before.entries);
  expect(after.signatures, 'no signature written').toBe(before.signatures);
  expect(after.chain, 'chains still valid').toBe(true);
  return r;
}

export const iso = (ms: number) => new Date(ms).toISOString();
export const nowMs = (h: Harness) => h.ctx.clock.now().getTime();
/** A YYYY-MM-DD date relative to the process clock's today. */
export const day = (h: Harness, offsetDays: number) => iso(nowMs(h) + offsetDays * 24 * HOUR).slice(0, 10);

/** ISO/IEC 7064 MOD 37-2 check character of any 13 characters (the test's own, independent of the server). */
export function mod37(s: string): string {
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*';
  let p = 0;
  for (const c of s) p = ((p + alphabet.indexOf(c)) * 2) % 37;
  return alphabet[(38 - p) % 37];
}
export const mod37Value = (s: string) => '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*'.indexOf(mod37(s));

export function receiptValues(h: Harness, seq: number) {
  const now = nowMs(h);
  return { bagScan: din(seq).keyed, collectionEnd: iso(now - 10 * HOUR), receivedAt: iso(now - HOUR), transportTemperature: 4, volume: 200 };
}

export const sampleValues = { wbcConcentration: 50, viability: 95, cd3Positive: 60 };

export function selectionValues(cat: { lots: Record<string, string>; equipment: Record<string, string> }) {
  return {
    cellProcessor: cat.equipment['cell-processor'], cd4BeadsLot: cat.lots['cd4-microbeads'], cd8BeadsLot: cat.lots['cd8-microbeads'],
    bufferLot: cat.lots.buffer, viableCellsSelected: 500, viability: 95, cd3Purity: 95,
  };
}

/** Records a step as op1 (session and signature) at the batch's current version; throws unless 201. */
export async function record(h: Harness, batchId: string, stepId: string, values: Record<string, unknown>, performer = 'op1') {
  const batch = (await call(h, performer, 'GET', `/batches/${batchId}`)).body;
  const r = await call(h, performer, 'POST', `/batches/${batchId}/steps/${stepId}`, { values, signature: sign(performer), expectedVersion: batch.version });
  if (r.status !== 201) throw new Error(`record ${stepId}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as { entry: { id: string }; batch: { version: number } };
}

/** Verifies an entry as op2; throws unless 201. */
export async function verify(h: Harness, batchId: string, entryId: string, verifier = 'op2') {
  const r = await call(h, verifier, 'POST', `/batches/${batchId}/entries/${entryId}/verify`, { signature: sign(verifier) });
  if (r.status !== 201) throw new Error(`verify: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Apheresis receipt and the verified starting-material sample: cd4-cd8-selection becomes available. */
export async function toSelection(h: Harness, batchId: string, seq: number) {
  await record(h, batchId, 'apheresis-receipt', receiptValues(h, seq));
  const sample = await record(h, batchId, 'starting-material-sample', sampleValues);
  await verify(h, batchId, sample.entry.id);
}

/** Everything up to a verified transduction: culture-check becomes available. */
export async function toCultureCheck(h: Harness, batchId: string, seq: number, cat: { lots: Record<string, string>; equipment: Record<string, string> }) {
  await toSelection(h, batchId, seq);
  const selection = await record(h, batchId, 'cd4-cd8-selection', selectionValues(cat));
  await verify(h, batchId, selection.entry.id);
  const activation = await record(h, batchId, 'activation', {
    transactLot: cat.lots.transact, mediumLot: cat.lots.medium, il7Lot: cat.lots['il-7'], il15Lot: cat.lots['il-15'],
    viableCellsSeeded: 80, startTime: iso(nowMs(h)),
  });
  await verify(h, batchId, activation.entry.id);
  const transduction = await record(h, batchId, 'transduction', { vectorLot: cat.lots['lentiviral-vector'], moi: 5, vectorVolume: 1.5 });
  await verify(h, batchId, transduction.entry.id);
}

export async function version(h: Harness, batchId: string): Promise<number> {
  return (await call(h, 'op1', 'GET', `/batches/${batchId}`)).body.version;
}

/** Audit rows of one batch, read as qa1. */
export async function auditOf(h: Harness, batchId: string) {
  const r = await call(h, 'qa1', 'GET', `/audit?batchId=${encodeURIComponent(batchId)}&limit=500`);
  expect(r.status).toBe(200);
  return r.body.items as { action: string; batchId?: string; entityId?: string; reason?: string; userId: string | null }[];
}
