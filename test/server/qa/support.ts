// Batches walked to QA over HTTP, and QA's calls: close, investigate, review, dispose. Shared by the
// QA suites; the walks are those of the lifecycle driver (test/server/lifecycle-driver.ts).
import { expect } from 'vitest';
import { call, createBatch, PASSWORD, registerCatalogue, sign, type Harness } from '../../helpers.js';
import { createUser } from '../../../server/services/accounts.js';
import { BatchDriver, CART_PLAN, CART_RELEASE_VALUES, NK_PLAN, type Catalogue } from '../lifecycle-driver.js';

/** The NK release panel, every result passing (sterility, which may follow release, is left out). */
export const NK_RELEASE_VALUES: Record<string, Record<string, unknown>> = {
  'release-viability': { viability: 95 },
  'release-nk-purity': { nkPercent: 84 },
  'release-endotoxin': { endotoxin: 0.4 }, // < 5 EU/mL
  'release-gram-stain': { gramStain: 'no organisms seen' },
  'release-mycoplasma': { mycoplasma: 'absent' },
  'release-potency': { k562Lysis: 45 }, // > 20 %
  'release-dose': { cellDose: 1.5 }, // 0.5–2 × 10^9
};

const catalogues = new WeakMap<Harness, Record<string, Catalogue>>();

/** A batch of the process with its manufacturing recorded and verified: in qc_testing, nothing open. */
export async function batchInQcTesting(h: Harness, processId: 'car-t' | 'nk', seq: number): Promise<BatchDriver> {
  const known = catalogues.get(h) ?? {};
  known[processId] ??= await registerCatalogue(h, processId);
  catalogues.set(h, known);
  const d = new BatchDriver(h, await createBatch(h, processId, seq), known[processId]);
  await d.run(processId === 'car-t' ? CART_PLAN : NK_PLAN);
  expect(d.batch.status).toBe('qc_testing');
  return d;
}

/** A batch in qa_review: the release panel recorded by qc1 with these results (passing unless overridden). */
export async function batchInQaReview(h: Harness, processId: 'car-t' | 'nk', seq: number, overrides: Record<string, Record<string, unknown>> = {}) {
  const d = await batchInQcTesting(h, processId, seq);
  const panel = { ...(processId === 'car-t' ? CART_RELEASE_VALUES : NK_RELEASE_VALUES), ...overrides };
  for (const [stepId, values] of Object.entries(panel)) {
    const r = await d.record(stepId, values, 'qc1');
    expect(r.status, `${stepId}: ${JSON.stringify(r.body)}`).toBe(201);
  }
  expect(d.batch.status).toBe('qa_review');
  return d;
}

export async function deviations(h: Harness, batchId: string) {
  const r = await call(h, 'qa1', 'GET', `/batches/${batchId}/deviations`);
  expect(r.status).toBe(200);
  return r.body.items as any[];
}

export const closeBody = (by = 'qa1') => ({
  investigation: 'Sample re-tested; the analyser was within calibration.', conclusion: 'No impact on product quality; no other batch affected.', signature: sign(by),
});

export async function closeAll(h: Harness, batchId: string, by = 'qa1') {
  for (const d of (await deviations(h, batchId)).filter((x) => x.status !== 'closed')) {
    const r = await call(h, by, 'POST', `/deviations/${d.id}/close`, closeBody(by));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  }
}

export async function review(h: Harness, batchId: string, by = 'qa1') {
  return call(h, by, 'POST', `/batches/${batchId}/review`, { comment: 'Reviewed by exception.', signature: sign(by) });
}

export async function dispose(h: Harness, batchId: string, body: Record<string, unknown>, by = 'qa2') {
  return call(h, by, 'POST', `/batches/${batchId}/disposition`, { signature: sign(by), ...body });
}

export async function batch(h: Harness, batchId: string, user = 'qa1') {
  const r = await call(h, user, 'GET', `/batches/${batchId}`);
  expect(r.status).toBe(200);
  return r.body;
}

/** A user who holds both operator and qa (S6: separation of duties applies to the person). */
export async function operatorAndQa(h: Harness, username = 'opqa1') {
  await createUser(h.ctx, null, { username, fullName: 'Test OPQA', roles: ['operator', 'qa'], password: PASSWORD }, false);
  const r = await call(h, null, 'POST', '/auth/login', { username, password: PASSWORD });
  expect(r.status).toBe(200);
  h.tokens[username] = r.body.token;
  return username;
}

/** What a refusal must leave unchanged: entry and signature counts, the chains, and the batch's version and status. */
export async function snapshotOf(h: Harness, batchId: string) {
  const counts = await h.ctx.store.counts();
  const b = await batch(h, batchId);
  return { entries: counts.entries, signatures: counts.signatures, chain: (await h.ctx.store.verifyChains()).valid, version: b.version, status: b.status, openDeviations: b.openDeviations };
}
