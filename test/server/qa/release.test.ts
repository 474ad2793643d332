// QA's whole job on real CAR-T and NK batches through HTTP: review by exception, conditional release
// completed by the sterility culture, a post-release finding, rejection and exceptional release. The
// status always comes from the record (the machine's fold of the disposition entry).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call, createBatch, registerCatalogue, sign, type Harness, harness } from '../../helpers.js';
import { BatchDriver, CART_PLAN } from '../lifecycle-driver.js';
import { receiptValues } from '../refusals/support.js';
import { rebuildProjection } from '../../../server/services/projection.js';
import { batch, batchInQaReview, closeAll, closeBody, deviations, dispose, review } from './support.js';
import { pdfFile } from '../../reports/pdf-tools.js';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => h.close());

/** The pages of a batch's document as pdftotext reads them, white space folded. */
async function pagesOf(id: string, document: 'record.pdf' | 'coa.pdf') {
  const r = await h.app.inject({ method: 'GET', url: `/api/v1/batches/${id}/${document}`, headers: { authorization: `Bearer ${h.tokens.qa1}` } });
  expect(r.statusCode).toBe(200);
  const f = pdfFile(r.rawPayload);
  try {
    return f.text().split('\f').filter((p) => p.trim()).map((p) => p.replace(/\s+/g, ' '));
  } finally {
    f.done();
  }
}

/** A growing sterility culture recorded on a released batch: 201, a critical post-release deviation, the finding on the batch. */
async function sterilityGrowsAfterRelease(d: Awaited<ReturnType<typeof batchInQaReview>>) {
  await d.refresh();
  const growth = await d.record('release-sterility', { sterility: 'growth' }, 'qc1');
  expect(growth.status, JSON.stringify(growth.body)).toBe(201);
  expect(growth.body.batch).toMatchObject({ status: 'released', postReleaseFinding: true, conditionalRelease: false, openDeviations: 1 });
  const [finding] = await deviations(h, d.id);
  expect(finding).toMatchObject({ kind: 'post-release', severity: 'critical', status: 'open', stepId: 'release-sterility' });
  return finding;
}

const projectionAgrees = async (id: string) => { const p = (await rebuildProjection(h.ctx, id))!; expect(p.cached).toEqual(p.rebuilt); };

describe('release of a CAR-T batch', () => {
  it('reviews by exception, releases conditionally while the sterility culture runs, and completes the release when it shows no growth', async () => {
    const d = await batchInQaReview(h, 'car-t', 1);

    const before = await call(h, 'qa1', 'GET', `/batches/${d.id}/review`);
    expect(before.status).toBe(200);
    const kinds = before.body.exceptions.map((x: any) => x.kind);
    expect(kinds).toContain('pending-result');
    expect(kinds).toContain('repeated-verifier-pair'); // op1 performed and op2 verified every step
    // Said as QA reads the record: each entry by its number in the batch and its step, not its identifier.
    const pair = before.body.exceptions.find((x: any) => x.kind === 'repeated-verifier-pair');
    const record = (await call(h, 'qa1', 'GET', `/batches/${d.id}`)).body;
    const first = record.entries.find((e: any) => e.id === pair.target.id);
    expect(pair.why).toMatch(/^Test OP2 verified \d+ of the \d+ verified steps performed by Test OP1: entry \d+ "/);
    expect(first.stepId).toBe('starting-material-sample');
    expect(pair.why).toContain(`entry ${first.seq} "Starting material sample", `);
    expect(pair.why).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/);
    // In Vietnamese for a Vietnamese desk: each exception says why in the caller's language.
    const vi = (await h.app.inject({ method: 'GET', url: `/api/v1/batches/${d.id}/review`, headers: { authorization: `Bearer ${h.tokens.qa1}`, 'accept-language': 'vi' } })).json();
    const whyVi = (kind: string) => vi.exceptions.find((x: any) => x.kind === kind).why;
    expect(whyVi('repeated-verifier-pair')).toMatch(/^Test OP2 đã xác minh \d+ trong \d+ bước được xác minh do Test OP1 thực hiện: bản ghi \d+ «Lấy mẫu nguyên liệu ban đầu»/);
    expect(whyVi('pending-result')).toMatch(/^«.+» chưa có kết quả/);
    expect(vi.exceptions.map((x: any) => x.id)).toEqual(before.body.exceptions.map((x: any) => x.id));
    expect(before.body.exceptions.find((x: any) => x.kind === 'pending-result')).toMatchObject({ stepId: 'release-sterility', target: { type: 'step', id: 'release-sterility' } });
    expect(before.body).toMatchObject({ reviewable: true, currentReview: null, disposition: null });

    const signed = await review(h, d.id, 'qa1');
    expect(signed.status, JSON.stringify(signed.body)).toBe(201);
    expect(signed.body.entry).toMatchObject({ kind: 'review', signatures: [{ username: 'qa1', meaning: 'reviewed', printedName: 'Test QA1' }] });
    expect([...signed.body.covered].sort()).toEqual(before.body.exceptions.map((x: any) => x.id).sort());
    const after = (await call(h, 'qa1', 'GET', `/batches/${d.id}/review`)).body;
    expect(after.currentReview).toMatchObject({ entryId: signed.body.entry.id });
    expect(after.exceptions.every((x: any) => x.covered)).toBe(true);

    const released = await dispose(h, d.id, { decision: 'release' }, 'qa2');
    expect(released.status, JSON.stringify(released.body)).toBe(201);
    expect(released.body.entry).toMatchObject({ kind: 'disposition', signatures: [{ username: 'qa2', meaning: 'released' }] });
    expect(released.body.batch).toMatchObject({
      status: 'released', conditionalRelease: true, postReleaseFinding: false,
      disposition: { decision: 'release', conditional: true, pendingTests: ['release-sterility'], stillPending: ['release-sterility'], signature: { username: 'qa2', meaning: 'released' } },
    });
    expect((await call(h, 'op1', 'GET', '/batches?status=released')).body.items).toEqual([expect.objectContaining({ id: d.id, conditionalRelease: true })]);
    await projectionAgrees(d.id);

    // The record (frozen at this disposition) and the certificate say on their first page that the release is conditional.
    const conditional = 'Released · CONDITIONAL RELEASE: released before every test result was final';
    expect((await pagesOf(d.id, 'record.pdf'))[0]).toContain(conditional);
    expect((await pagesOf(d.id, 'coa.pdf'))[0]).toContain(conditional);
    const coa = (await call(h, 'op1', 'GET', `/batches/${d.id}/coa`)).body;
    expect(coa).toMatchObject({ batchNumber: d.batch.batchNumber, conditionalRelease: true, labelling: 'FOR AUTOLOGOUS USE ONLY', disposition: { decision: 'release', conditional: true } });
    expect(coa.tests.filter((t: any) => t.outcome !== 'pass').map((t: any) => [t.stepId, t.outcome])).toEqual([['release-sterility', 'pending']]);
    const potency = coa.tests.find((t: any) => t.stepId === 'release-potency');
    expect(potency.specification).toContain('Potency: target-cell survival < 70 % or killing difference > 50 %: passes when any of: Target-cell survival at E:T 1:1 < 70 % or Killing difference, CAR vs untransduced, at E:T 4:1 > 50 %');
    expect(potency.recordedBy).toEqual([expect.objectContaining({ username: 'qc1', meaning: 'performed' })]);
    const dose = coa.tests.find((t: any) => t.stepId === 'release-dose');
    expect(dose.results).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'dosePerKg', value: 2, result: 'pass', specification: '≥ 0.5 10^6/kg' })]));

    const bags = (await call(h, 'op1', 'GET', `/batches/${d.id}/containers`)).body;
    expect(bags.items).toHaveLength(2);
    expect(bags.items[0]).toMatchObject({
      containerId: `${d.batch.batchNumber}-01`, isbt128: { din: d.batch.din, division: 'A0' }, bagNumber: 1,
      volume: { value: 35, unit: 'mL' }, dose: { value: 70, unit: '10^6', fractionPercent: 50 },
      labelScan: { value: d.batch.batchNumber, result: 'matched' }, status: 'released-conditionally',
    });
    expect(bags.items[1]).toMatchObject({ isbt128: { division: 'B0' }, bagNumber: 2 });

    await d.refresh();
    const sterility = await d.record('release-sterility', { sterility: 'no growth' }, 'qc1');
    expect(sterility.status, JSON.stringify(sterility.body)).toBe(201);
    expect(sterility.body.batch).toMatchObject({ status: 'released', conditionalRelease: false, openDeviations: 0, disposition: { conditional: true, stillPending: [] } });
    expect((await call(h, 'op1', 'GET', `/batches/${d.id}/containers`)).body.items.map((b: any) => b.status)).toEqual(['released', 'released']);
    expect((await call(h, 'op1', 'GET', `/batches/${d.id}/coa`)).body.tests.every((t: any) => t.outcome === 'pass')).toBe(true);
    const audit = (await call(h, 'qa1', 'GET', `/batches/${d.id}/audit?limit=500`)).body.items.map((a: any) => a.action);
    expect(audit).toEqual(expect.arrayContaining(['review.signed', 'batch.disposed', 'batch.status-changed']));
  });

  it('flags a conditionally released batch whose sterility culture then grows: a critical deviation, the finding on the batch, its certificate and both bags', async () => {
    const d = await batchInQaReview(h, 'car-t', 5);
    expect((await review(h, d.id)).status).toBe(201);
    const released = await dispose(h, d.id, { decision: 'release' });
    expect(released.body.batch).toMatchObject({ status: 'released', conditionalRelease: true, postReleaseFinding: false });
    const finding = await sterilityGrowsAfterRelease(d);
    expect((await call(h, 'op1', 'GET', `/batches/${d.id}/coa`)).body).toMatchObject({ postReleaseFinding: true, conditionalRelease: false });
    const bags = (await call(h, 'op1', 'GET', `/batches/${d.id}/containers`)).body.items;
    expect(bags.length).toBe(2);
    expect(bags.every((b: any) => b.status === 'released-with-finding')).toBe(true);
    expect((await call(h, 'qa2', 'GET', '/deviations?severity=critical&status=open')).body.items).toEqual([expect.objectContaining({ id: finding.id, batchNumber: d.batch.batchNumber })]);
    await projectionAgrees(d.id);
  });

  it("releases exceptionally, on the physician's request, a batch whose potency failed both branches at their exact limits", async () => {
    const d = await batchInQaReview(h, 'car-t', 2, { 'release-potency': { targetSurvival: 70, killingDifference: 50 } });
    const [oos] = await deviations(h, d.id);
    expect(oos).toMatchObject({ kind: 'oos', severity: 'major', status: 'open', stepId: 'release-potency' });
    expect(oos.description).toMatch(/Potency.*fails/);

    const investigated = await call(h, 'qa1', 'POST', `/deviations/${oos.id}/investigation`, {
      rootCause: 'Effector cells of low potency: donor T cells were exhausted.', productImpact: 'Potency below specification; identity and safety unaffected.',
      otherBatchesImpact: 'None: autologous, one patient.', capaReference: 'CAPA-2026-014', signature: sign('qa1'),
    });
    expect(investigated.status, JSON.stringify(investigated.body)).toBe(201);
    expect(investigated.body.deviation).toMatchObject({ status: 'investigating', investigation: { capaReference: 'CAPA-2026-014', signature: { username: 'qa1', meaning: 'investigated' } } });
    const reclassified = await call(h, 'qa1', 'POST', `/deviations/${oos.id}/reclassification`, { severity: 'critical', reason: 'The product may not be efficacious.', signature: sign('qa1') });
    expect(reclassified.status, JSON.stringify(reclassified.body)).toBe(201);
    expect(reclassified.body.deviation).toMatchObject({ severity: 'critical', reclassifications: [{ from: 'major', to: 'critical', reason: 'The product may not be efficacious.' }] });
    await closeAll(h, d.id);
    expect((await deviations(h, d.id))[0]).toMatchObject({ status: 'closed', closure: { conclusion: closeBody().conclusion, signature: { username: 'qa1', meaning: 'approved' } } });
    expect((await review(h, d.id)).status).toBe(201);

    const plain = await dispose(h, d.id, { decision: 'release' });
    expect(plain.status).toBe(422);
    expect(plain.body.errors).toEqual([expect.objectContaining({ field: 'tests.release-potency' })]);
    const exceptional = await dispose(h, d.id, {
      decision: 'exceptional-release', justification: 'No alternative therapy; the benefit outweighs the reduced potency.', physicianRequest: 'Dr. Tran, haematology, request of 2026-03-12',
    });
    expect(exceptional.status, JSON.stringify(exceptional.body)).toBe(201);
    expect(exceptional.body.batch).toMatchObject({
      status: 'released', disposition: { decision: 'exceptional-release', failedTests: ['release-potency'], physicianRequest: 'Dr. Tran, haematology, request of 2026-03-12', signature: { meaning: 'released' } },
    });
    const coa = (await call(h, 'qc1', 'GET', `/batches/${d.id}/coa`)).body;
    expect(coa.tests.find((t: any) => t.stepId === 'release-potency')).toMatchObject({ outcome: 'fail' });
    expect(coa.disposition.decision).toBe('exceptional-release');
    const record = await pagesOf(d.id, 'record.pdf');
    expect(record[0]).toContain("Disposition EXCEPTIONAL RELEASE (released with failed results at a physician's request)");
    expect(record.join(' ')).toContain('Physician request Dr. Tran, haematology, request of 2026-03-12');
    expect((await pagesOf(d.id, 'coa.pdf'))[0]).toContain('EXCEPTIONAL RELEASE');
    await projectionAgrees(d.id);
  });
});

describe('a release waits for every second-person verification', () => {
  it('refuses a release or an exceptional release (422, naming the entry) while a corrected step awaits its verification, and releases once it is verified', async () => {
    const d = await batchInQaReview(h, 'car-t', 1);
    await closeAll(h, d.id);
    await d.refresh();
    const corrected = await d.correct(d.entriesOf('harvest')[0].id, { viability: 91 }, 'viability transcribed wrongly');
    expect(corrected.status, JSON.stringify(corrected.body)).toBe(201);
    expect(corrected.body.entry.verified).toBe(false);
    expect((await review(h, d.id)).status).toBe(201);
    const before = await batch(h, d.id);
    for (const body of [{ decision: 'release' }, { decision: 'exceptional-release', justification: 'No alternative therapy.', physicianRequest: 'Dr. Tran, request of 2026-03-12' }]) {
      const r = await dispose(h, d.id, body);
      expect(r.status, JSON.stringify(r.body)).toBe(422);
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(r.body.errors).toContainEqual({ field: `entries.${corrected.body.entry.id}`, message: expect.stringContaining('awaits its second-person verification') });
    }
    expect(await batch(h, d.id)).toMatchObject({ status: 'qa_review', version: before.version });
    expect((await d.verify(corrected.body.entry.id, 'op2')).status).toBe(201);
    const ok = await dispose(h, d.id, { decision: 'release' });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    expect(ok.body.batch.status).toBe('released');
  });
});

describe('rejection and exceptional release of the other product', () => {
  it('rejects a CAR-T batch in which replication-competent lentivirus was detected', async () => {
    const d = await batchInQaReview(h, 'car-t', 5, { 'release-rcl': { rcl: 'detected' } });
    expect(await deviations(h, d.id)).toEqual([expect.objectContaining({ kind: 'oos', stepId: 'release-rcl' })]);
    await closeAll(h, d.id);
    expect((await review(h, d.id)).status).toBe(201);
    const rejected = await dispose(h, d.id, { decision: 'reject', justification: 'RCL detected: the product is not safe.' });
    expect(rejected.status, JSON.stringify(rejected.body)).toBe(201);
    expect(rejected.body.batch).toMatchObject({ status: 'rejected', conditionalRelease: false, disposition: { decision: 'reject', signature: { meaning: 'rejected' } } });
    expect((await call(h, 'op1', 'GET', `/batches/${d.id}/containers`)).body.items.map((b: any) => b.status)).toEqual(['rejected', 'rejected']);
    await projectionAgrees(d.id);
  });

  it("releases exceptionally an NK batch whose dose is above its range, on the physician's request", async () => {
    const d = await batchInQaReview(h, 'nk', 6, { 'release-dose': { cellDose: 2.5 } });
    await closeAll(h, d.id);
    expect((await review(h, d.id)).status).toBe(201);
    const r = await dispose(h, d.id, { decision: 'exceptional-release', justification: 'The infusion is split by the clinic.', physicianRequest: 'Dr. Le, oncology' });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.batch).toMatchObject({ status: 'released', conditionalRelease: true, disposition: { decision: 'exceptional-release', failedTests: ['release-dose'], pendingTests: ['release-sterility'] } });
    await projectionAgrees(d.id);
  });
});

describe('NK batches', () => {
  it('flags a released batch whose sterility culture grows: a critical post-release deviation, shown in every view, investigated, closed and reviewed again', async () => {
    const d = await batchInQaReview(h, 'nk', 3);
    expect((await review(h, d.id)).status).toBe(201);
    expect((await dispose(h, d.id, { decision: 'release' })).status).toBe(201);

    const finding = await sterilityGrowsAfterRelease(d);
    expect((await call(h, 'op1', 'GET', '/batches')).body.items.find((b: any) => b.id === d.id)).toMatchObject({ postReleaseFinding: true });
    expect((await call(h, 'op1', 'GET', `/batches/${d.id}/containers`)).body.items).toEqual([expect.objectContaining({ status: 'released-with-finding', volume: { value: 100, unit: 'mL' }, dose: expect.objectContaining({ value: 1.5, unit: '10^9' }) })]);
    expect((await call(h, 'op1', 'GET', `/batches/${d.id}/coa`)).body).toMatchObject({ postReleaseFinding: true });
    const critical = await call(h, 'qa2', 'GET', '/deviations?severity=critical&status=open');
    expect(critical.body.items).toEqual([expect.objectContaining({ id: finding.id, batchNumber: d.batch.batchNumber })]);

    // The review signed before release is void: a new exception appeared after it.
    const packet = (await call(h, 'insp1', 'GET', `/batches/${d.id}/review`)).body;
    expect(packet.currentReview).toBeNull();
    expect(packet.voidedReview.voidedBy).toEqual(expect.arrayContaining([`deviation:${finding.id}`]));
    const pending = (await call(h, 'qa1', 'GET', '/me/pending')).body.items;
    expect(pending).toEqual(expect.arrayContaining([expect.objectContaining({ action: 'investigate-deviation', deviationId: finding.id, batchId: d.id })]));

    expect((await review(h, d.id)).status).toBe(422); // still open
    await closeAll(h, d.id);
    const again = await review(h, d.id);
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    expect((await call(h, 'qa1', 'GET', `/batches/${d.id}/review`)).body.currentReview).toMatchObject({ entryId: again.body.entry.id });
    await projectionAgrees(d.id);
  });

  it('rejects a batch whose endotoxin sits exactly on its exclusive limit, with a justification, after its deviation is closed', async () => {
    const d = await batchInQaReview(h, 'nk', 4, { 'release-endotoxin': { endotoxin: 5 } });
    const [oos] = await deviations(h, d.id);
    expect(oos).toMatchObject({ kind: 'oos', stepId: 'release-endotoxin', status: 'open' });
    expect((await review(h, d.id)).status).toBe(422);
    await closeAll(h, d.id);
    expect((await review(h, d.id)).status).toBe(201);
    expect((await dispose(h, d.id, { decision: 'release' })).status).toBe(422);

    const rejected = await dispose(h, d.id, { decision: 'reject', justification: 'Endotoxin at 5 EU/mL: not safe to infuse.', signature: { ...sign('qa2'), meaning: 'rejected' } });
    expect(rejected.status, JSON.stringify(rejected.body)).toBe(201);
    expect(rejected.body.entry.signatures).toEqual([expect.objectContaining({ username: 'qa2', meaning: 'rejected' })]);
    expect(rejected.body.batch).toMatchObject({ status: 'rejected', availableSteps: [], disposition: { decision: 'reject', justification: 'Endotoxin at 5 EU/mL: not safe to infuse.' } });
    expect((await call(h, 'op1', 'GET', `/batches/${d.id}/containers`)).body.items.map((b: any) => b.status)).toEqual(['rejected']);
    // Nothing more is recorded on a rejected batch.
    await d.refresh();
    expect((await d.record('release-sterility', { sterility: 'no growth' }, 'qc1')).status).toBe(409);
    await projectionAgrees(d.id);
  });
});

describe('review by exception: what the audit trail adds', () => {
  it('lists a value inside its specification but outside its alert limit as an alert, with no deviation', async () => {
    const d = new BatchDriver(h, await createBatch(h, 'car-t', 9), await registerCatalogue(h, 'car-t'));
    let checks = 0;
    // The second culture check's viability 68 %: under the alert limit (≥ 70), no specification.
    await d.run(CART_PLAN.map((p) => (p.stepId === 'culture-check' && ++checks === 2 ? { ...p, values: (c) => ({ ...p.values(c), viability: 68 }) } : p)));
    const check = d.entriesOf('culture-check')[1];
    expect(check.results).toMatchObject({ viability: 'alert' });
    expect(await deviations(h, d.id)).toEqual([]);
    const packet = (await call(h, 'qa1', 'GET', `/batches/${d.id}/review`)).body;
    expect(packet.exceptions).toEqual(expect.arrayContaining([
      expect.objectContaining({ kind: 'alert', target: { type: 'entry', id: check.id }, stepId: 'culture-check', why: expect.stringMatching(/alert limit/), voidsReview: true }),
    ]));
  });

  it('lists an identity mismatch refused on the batch and an audit row that is not routine (its termination), neither voiding a review', async () => {
    const b = await createBatch(h, 'car-t', 7);
    const wrongBag = await call(h, 'op1', 'POST', `/batches/${b.id}/steps/apheresis-receipt`, { values: { ...receiptValues(h, 7), bagScan: receiptValues(h, 8).bagScan }, signature: sign('op1'), expectedVersion: b.version });
    expect(wrongBag.status, JSON.stringify(wrongBag.body)).toBe(422);
    expect((await call(h, 'sup1', 'POST', `/batches/${b.id}/terminate`, { reason: 'apheresis bag of another patient delivered', signature: sign('sup1') })).status).toBe(201);
    const packet = (await call(h, 'qa1', 'GET', `/batches/${b.id}/review`)).body;
    expect(packet.exceptions).toEqual(expect.arrayContaining([
      expect.objectContaining({ kind: 'refused-attempt', target: expect.objectContaining({ type: 'audit' }), why: expect.stringMatching(/^identity\.mismatch/), voidsReview: false }),
      expect.objectContaining({ kind: 'audit', target: expect.objectContaining({ type: 'audit' }), why: expect.stringMatching(/^batch\.terminated/), voidsReview: false }),
    ]));
  });
});
