// Every refusal of the deviation, review and disposition routes, on one CAR-T batch in qa_review whose
// potency failed (an open deviation), corrected and verified by two people who hold both operator and
// qa. Each refusal answers API.md's status as problem+json, leaves the entries, signatures, chains,
// version and status as they were, and writes exactly one audit row (the refused attempt). Then which
// error wins when a request is wrong in several ways at once (API.md "Which error wins").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createBatch, sign, type Harness, harness } from '../../helpers.js';
import { expectProblem, type Reply } from '../refusals/support.js';
import type { BatchDriver } from '../lifecycle-driver.js';
import { batchInQaReview, closeBody, deviations, dispose, operatorAndQa, review, snapshotOf } from './support.js';

let h: Harness;
let d: BatchDriver;
let deviationId: string;
let freshId: string;
const wrongPassword = (u: string) => ({ username: u, password: 'Not-The-Password-1' });

beforeAll(async () => {
  h = await harness();
  d = await batchInQaReview(h, 'car-t', 1, { 'release-potency': { targetSurvival: 75, killingDifference: 40 } });
  [{ id: deviationId }] = await deviations(h, d.id);
  await operatorAndQa(h, 'opqa1');
  await operatorAndQa(h, 'opqa2');
  // opqa1 performs a correction of the cryopreservation record and opqa2 verifies it: both now did work on the batch.
  await d.refresh();
  const cryo = d.entriesOf('cryopreservation')[0];
  const corrected = await d.correct(cryo.id, { storagePosition: 'A5' }, 'position misread from the rack map', 'opqa1');
  expect(corrected.status, JSON.stringify(corrected.body)).toBe(201);
  expect((await d.verify(corrected.body.entry.id, 'opqa2')).status).toBe(201);
  freshId = (await createBatch(h, 'car-t', 2)).id;
}, 120_000);
afterAll(async () => h.close());

/** The request is refused with this status (and these error fields); nothing but one audit row is written. */
async function refused(status: number, request: () => Promise<Reply>, fields: string[] = [], batchId = d.id) {
  const before = await snapshotOf(h, batchId);
  const audit = (await h.ctx.store.counts()).audit;
  const r = await request();
  expectProblem(r, status, fields);
  expect(await snapshotOf(h, batchId), 'entries, signatures, chains, version and status unchanged').toEqual(before);
  expect((await h.ctx.store.counts()).audit - audit, 'exactly one audit row: the refused attempt').toBe(1);
  return r;
}

const close = (body: object, user = 'qa1', id = deviationId) => call(h, user, 'POST', `/deviations/${id}/close`, body);
const version = async () => (await call(h, 'qa1', 'GET', `/batches/${d.id}`)).body.version as number;

describe('closing, investigating and reclassifying a deviation', () => {
  it('refuses each wrong request, then closes with QA\'s approval', async () => {
    await refused(404, () => close(closeBody(), 'qa1', 'no-such-deviation'));
    await refused(403, () => close(closeBody(), 'op1')); // the session's role
    await refused(403, () => close({ ...closeBody(), signature: sign('sup1') })); // the signer's role
    await refused(400, () => close({ ...closeBody(), signature: { ...sign('qa1'), meaning: 'reviewed' } }), ['signature.meaning']);
    await refused(400, () => close({ investigation: 'Re-tested.', signature: sign('qa1') }), ['conclusion']);
    await refused(400, () => close({ ...closeBody(), conclusion: '   ' }), ['conclusion']);
    await refused(409, async () => close({ ...closeBody(), expectedVersion: (await version()) - 1 }));
    await refused(401, () => close({ ...closeBody(), signature: wrongPassword('qa1') }));
    await refused(400, () => call(h, 'qa1', 'POST', `/deviations/${deviationId}/reclassification`, { severity: 'major', reason: 'unchanged', signature: sign('qa1') }), ['severity']);
    await refused(403, () => call(h, 'qc1', 'POST', `/deviations/${deviationId}/investigation`, { rootCause: 'r', productImpact: 'p', otherBatchesImpact: 'o', signature: sign('qa1') }));

    const ok = await close({ ...closeBody(), expectedVersion: await version() });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.deviation).toMatchObject({ id: deviationId, status: 'closed', closure: { signature: { username: 'qa1', meaning: 'approved' } } });

    await refused(409, () => close(closeBody()));
    await refused(409, () => call(h, 'qa1', 'POST', `/deviations/${deviationId}/investigation`, { rootCause: 'r', productImpact: 'p', otherBatchesImpact: 'o', signature: sign('qa1') }));
    await refused(409, () => call(h, 'qa1', 'POST', `/deviations/${deviationId}/reclassification`, { severity: 'minor', reason: 'late', signature: sign('qa1') }));
  });

  it('refuses a deviation opened by hand that names a step or entry the batch does not have, or by a role that does not work on batches', async () => {
    const open = (body: object, user = 'op1', id = d.id) => call(h, user, 'POST', `/batches/${id}/deviations`, body);
    await refused(404, () => open({ description: 'x', severity: 'minor' }, 'op1', 'no-such-batch'));
    await refused(403, () => open({ description: 'Bag label smudged', severity: 'minor' }, 'insp1'));
    await refused(403, () => open({ description: 'Bag label smudged', severity: 'minor' }, 'admin'));
    await refused(400, () => open({ description: 'x', severity: 'trivial' }), ['severity']);
    await refused(400, () => open({ description: 'x', severity: 'minor', stepId: 'no-such-step' }), ['stepId']);
    await refused(400, () => open({ description: 'x', severity: 'minor', entryId: 'no-such-entry' }), ['entryId']);
    await refused(409, async () => open({ description: 'x', severity: 'minor', expectedVersion: (await version()) + 1 }));
  });
});

describe('the review', () => {
  it('refuses each wrong request; a deviation opened by hand blocks it until it is closed', async () => {
    const manual = await call(h, 'op1', 'POST', `/batches/${d.id}/deviations`, { description: 'Freezer door alarm during the run', severity: 'minor', stepId: 'cryopreservation' });
    expect(manual.status, JSON.stringify(manual.body)).toBe(201);
    expect(manual.body.deviation).toMatchObject({ kind: 'manual', status: 'open', severity: 'minor', stepId: 'cryopreservation' });

    const refusal = await refused(422, () => review(h, d.id), [`deviations.${manual.body.deviation.id}`]);
    expect(refusal.body.detail).toMatch(/open/);
    await refused(403, () => review(h, d.id, 'op1'));
    await refused(403, () => call(h, 'qa1', 'POST', `/batches/${d.id}/review`, { signature: sign('sup1') }));
    await refused(400, () => call(h, 'qa1', 'POST', `/batches/${d.id}/review`, { signature: { ...sign('qa1'), meaning: 'approved' } }), ['signature.meaning']);
    await refused(409, async () => call(h, 'qa1', 'POST', `/batches/${d.id}/review`, { signature: sign('qa1'), expectedVersion: (await version()) - 1 }));
    await refused(401, () => call(h, 'qa1', 'POST', `/batches/${d.id}/review`, { signature: wrongPassword('qa1') }));
    await refused(409, () => review(h, freshId), [], freshId); // in process: nothing to review yet
    await refused(404, () => review(h, 'no-such-batch'));
    expect((await close(closeBody(), 'qa1', manual.body.deviation.id)).status).toBe(200);
  });
});

describe('the disposition', () => {
  it('refuses a release before the review is signed (422), then one with a failed test once it is', async () => {
    const r = await refused(422, () => dispose(h, d.id, { decision: 'release' }), ['review', 'tests.release-potency']);
    expect(r.body.errors.find((e: any) => e.field === 'review').message).toMatch(/not signed/);
    expect((await review(h, d.id)).status).toBe(201);
    await refused(422, () => dispose(h, d.id, { decision: 'release' }), ['tests.release-potency']);
  });

  it('refuses a disposer who performed a step, or verified one, even holding the qa role (403, separation of duties)', async () => {
    // 401 (credentials) comes before separation of duties; separation of duties (403) before the rules (422: the failed test).
    await refused(401, () => call(h, 'qa2', 'POST', `/batches/${d.id}/disposition`, { decision: 'release', signature: wrongPassword('opqa1') }));
    const performed = await refused(403, () => dispose(h, d.id, { decision: 'release' }, 'opqa1'));
    expect(performed.body.detail).toMatch(/performed/);
    const verified = await refused(403, () => dispose(h, d.id, { decision: 'reject', justification: 'Potency failed.' }, 'opqa2'));
    expect(verified.body.detail).toMatch(/verified/);
    const rows = (await call(h, 'qa1', 'GET', `/batches/${d.id}/audit?limit=500`)).body.items.filter((a: any) => a.action === 'signature.refused');
    expect(rows.slice(-2).map((a: any) => a.reason)).toEqual([expect.stringMatching(/performed/), expect.stringMatching(/verified/)]);
  });

  it('refuses a meaning that differs, a missing justification or physician request, the wrong role, a stale version and a wrong password', async () => {
    await refused(400, () => dispose(h, d.id, { decision: 'release', signature: { ...sign('qa2'), meaning: 'rejected' } }), ['signature.meaning']);
    await refused(400, () => dispose(h, d.id, { decision: 'reject', justification: 'x', signature: { ...sign('qa2'), meaning: 'released' } }), ['signature.meaning']);
    await refused(400, () => dispose(h, d.id, { decision: 'reject' }), ['justification']);
    await refused(400, () => dispose(h, d.id, { decision: 'exceptional-release', justification: 'No alternative therapy.' }), ['physicianRequest']);
    await refused(400, () => dispose(h, d.id, { decision: 'exceptional-release', physicianRequest: 'Dr. Tran' }), ['justification']);
    await refused(400, () => dispose(h, d.id, { decision: 'release', physicianRequest: 'Dr. Tran' }), ['physicianRequest']);
    await refused(400, () => dispose(h, d.id, { decision: 'keep' }), ['decision']);
    await refused(403, () => dispose(h, d.id, { decision: 'reject', justification: 'x' }, 'op1'));
    await refused(403, () => call(h, 'qa2', 'POST', `/batches/${d.id}/disposition`, { decision: 'reject', justification: 'x', signature: sign('qc1') }));
    await refused(409, async () => dispose(h, d.id, { decision: 'reject', justification: 'x', expectedVersion: (await version()) - 1 }));
    await refused(401, () => call(h, 'qa2', 'POST', `/batches/${d.id}/disposition`, { decision: 'reject', justification: 'x', signature: wrongPassword('qa2') }));
    await refused(409, () => dispose(h, freshId, { decision: 'release' }), [], freshId); // in process: not releasable
  });

  it('refuses an exceptional release after a correction voided the review, and allows it once a new review covers the correction', async () => {
    const exceptional = { decision: 'exceptional-release', justification: 'No alternative therapy.', physicianRequest: 'Dr. Tran, request of 2026-03-12' };
    await d.refresh();
    const box = await d.correct(d.entriesOf('cryopreservation')[0].id, { storageBox: 'B13' }, 'box number transcribed wrongly');
    expect(box.status).toBe(201);
    expect((await d.verify(box.body.entry.id, 'op2')).status).toBe(201);
    const r = await refused(422, () => dispose(h, d.id, exceptional), ['review']);
    expect(r.body.errors[0].message).toContain(`correction:${box.body.entry.id}`);
    const packet = (await call(h, 'qa1', 'GET', `/batches/${d.id}/review`)).body;
    expect(packet.voidedReview.voidedBy).toEqual([`correction:${box.body.entry.id}`]);
    const original = d.entriesOf('cryopreservation')[0];
    expect(packet.exceptions.find((x: any) => x.id === `correction:${box.body.entry.id}`)).toMatchObject({
      kind: 'correction', covered: false, voidsReview: true,
      why: `storageBox of "Cryopreservation" corrected (entry ${original.seq} "Cryopreservation"): box number transcribed wrongly`,
    });
    // Refused attempts on the batch are listed for the reviewer, and void nothing.
    expect(packet.exceptions.filter((x: any) => x.kind === 'refused-attempt').length).toBeGreaterThan(5);
    // Refusals on the batch's deviations are on its trail too.
    expect(packet.exceptions.some((x: any) => x.kind === 'refused-attempt' && x.why.includes('POST /api/v1/deviations/:id/close'))).toBe(true);
    expect(packet.exceptions.every((x: any) => x.kind !== 'refused-attempt' || x.voidsReview === false)).toBe(true);

    // A deviation still open refuses the disposition too, named by its id beside the void review (422).
    const open = await call(h, 'op1', 'POST', `/batches/${d.id}/deviations`, { description: 'Label smudged on bag 2', severity: 'minor' });
    expect(open.status, JSON.stringify(open.body)).toBe(201);
    await refused(422, () => dispose(h, d.id, exceptional), ['review', `deviations.${open.body.deviation.id}`]);
    expect((await close(closeBody(), 'qa1', open.body.deviation.id)).status).toBe(200);

    expect((await review(h, d.id)).status).toBe(201);
    const ok = await dispose(h, d.id, exceptional);
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    expect(ok.body.batch).toMatchObject({ status: 'released', disposition: { decision: 'exceptional-release', failedTests: ['release-potency'] } });
    await refused(409, () => dispose(h, d.id, { decision: 'reject', justification: 'too late' })); // released: final for a disposition
  });
});

describe('which error wins (API.md): 401 → 400 → 404 → 403 → 409 → 400 → 401 → 403 → 422', () => {
  it('orders the refusals of a disposition', async () => {
    const b = freshId;
    // 401 (no session) beats a bad body.
    expect((await call(h, null, 'POST', `/batches/${b}/disposition`, { decision: 'keep' })).status).toBe(401);
    // 400 (body shape) beats an unknown batch.
    expectProblem(await call(h, 'op1', 'POST', '/batches/no-such-batch/disposition', { decision: 'keep', signature: sign('qa2') }), 400, ['decision']);
    // 404 beats the role.
    expectProblem(await call(h, 'op1', 'POST', '/batches/no-such-batch/disposition', { decision: 'reject', justification: 'x', signature: sign('qa2') }), 404);
    // 403 (role) beats a stale version.
    expectProblem(await call(h, 'op1', 'POST', `/batches/${b}/disposition`, { decision: 'reject', justification: 'x', signature: sign('qa2'), expectedVersion: 99 }), 403);
    // 409 (version) beats wrong credentials.
    expectProblem(await call(h, 'qa2', 'POST', `/batches/${b}/disposition`, { decision: 'reject', justification: 'x', signature: wrongPassword('qa2'), expectedVersion: 99 }), 409);
    // 409 (state: nothing to release in process) beats wrong credentials too.
    expectProblem(await call(h, 'qa2', 'POST', `/batches/${b}/disposition`, { decision: 'release', signature: wrongPassword('qa2') }), 409);
  });

  it('orders the refusals of a review and of closing a deviation', async () => {
    expectProblem(await call(h, 'op1', 'POST', '/batches/no-such-batch/review', { signature: { ...sign('qa1'), meaning: 'released' } }), 400, ['signature.meaning']);
    expectProblem(await call(h, 'op1', 'POST', '/batches/no-such-batch/review', { signature: sign('qa1') }), 404);
    expectProblem(await call(h, 'op1', 'POST', `/batches/${freshId}/review`, { signature: sign('qa1'), expectedVersion: 99 }), 403);
    expectProblem(await call(h, 'qa1', 'POST', `/batches/${freshId}/review`, { signature: wrongPassword('qa1') }), 409);
    expectProblem(await call(h, 'op1', 'POST', '/deviations/no-such-deviation/close', { investigation: 'i' }), 400, ['conclusion', 'signature']);
    expectProblem(await call(h, 'op1', 'POST', '/deviations/no-such-deviation/close', closeBody()), 404);
    expectProblem(await call(h, 'op1', 'POST', `/deviations/${deviationId}/close`, closeBody()), 403);
    expectProblem(await call(h, 'qa1', 'POST', `/deviations/${deviationId}/close`, { ...closeBody(), signature: wrongPassword('qa1') }), 409); // closed beats credentials
  });

  it('orders the refusals of opening a deviation and of reading the review', async () => {
    expectProblem(await call(h, 'insp1', 'POST', '/batches/no-such-batch/deviations', { description: '', severity: 'minor' }), 400, ['description']);
    expectProblem(await call(h, 'insp1', 'POST', '/batches/no-such-batch/deviations', { description: 'x', severity: 'minor' }), 404);
    expectProblem(await call(h, 'insp1', 'POST', `/batches/${freshId}/deviations`, { description: 'x', severity: 'minor', stepId: 'no-such-step' }), 403);
    expectProblem(await call(h, 'op1', 'POST', `/batches/${freshId}/deviations`, { description: 'x', severity: 'minor', stepId: 'no-such-step', expectedVersion: 99 }), 409);
    expectProblem(await call(h, 'op1', 'GET', '/batches/no-such-batch/review'), 404);
    expectProblem(await call(h, 'op1', 'GET', `/batches/${freshId}/review`), 403);
    expectProblem(await call(h, 'qa1', 'GET', '/deviations/no-such-deviation'), 404);
    expectProblem(await call(h, 'qa1', 'GET', '/deviations?status=lost'), 400, ['querystring.status']);
  });
});
