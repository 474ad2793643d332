// Release specifications at their exact limits, judged by the server and shown on the certificate of
// analysis: inclusive and exclusive bounds, and both branches of the CAR-T potency criterion (A or B).
// Then what waits for each person (GET /me/pending) as a batch moves from manufacturing to QA.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call, createBatch, recordReceipt, sign, type Harness, harness } from '../../helpers.js';
import { batchInQcTesting, closeAll, deviations, review } from './support.js';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => h.close());

describe('composite criteria and bounds at their exact limits', () => {
  it('judges potency (survival < 70 % or killing difference > 50 %) on both branches, exclusive at 70 and 50, and viability and endotoxin inclusive at 70 and 0.5', async () => {
    const d = await batchInQcTesting(h, 'car-t', 1);
    const outcome = async (stepId: string) => (await call(h, 'qa1', 'GET', `/batches/${d.id}/coa`)).body.tests.find((t: any) => t.stepId === stepId);

    // Both branches exactly on their exclusive limits: the criterion fails and opens one OOS deviation.
    const potency = await d.record('release-potency', { targetSurvival: 70, killingDifference: 50 }, 'qc1');
    expect(potency.status).toBe(201);
    expect(potency.body.entry.results).toEqual({ potency: 'fail' });
    expect(await deviations(h, d.id)).toEqual([expect.objectContaining({ kind: 'oos', stepId: 'release-potency', entryId: potency.body.entry.id })]);
    expect(await outcome('release-potency')).toMatchObject({ outcome: 'fail', results: expect.arrayContaining([expect.objectContaining({ name: 'potency', result: 'fail' })]) });

    // Branch (a) alone, just inside: passes.
    const a = await d.correct(potency.body.entry.id, { targetSurvival: 69.9 }, 'transcription: 69.9 read as 70', 'qc1');
    expect(a.status, JSON.stringify(a.body)).toBe(201);
    expect(a.body.entry.results).toEqual({ potency: 'pass' });
    expect((await outcome('release-potency')).outcome).toBe('pass');
    // Branch (b) alone, just inside: passes.
    const b = await d.correct(potency.body.entry.id, { targetSurvival: 70, killingDifference: 50.1 }, 'second read-out', 'qc1');
    expect(b.body.entry.results).toEqual({ potency: 'pass' });
    // Back on both limits: fails again, and the correction into failure opens its own deviation.
    const back = await d.correct(potency.body.entry.id, { killingDifference: 50 }, 'third read-out', 'qc1');
    expect(back.body.entry.results).toEqual({ potency: 'fail' });
    expect((await deviations(h, d.id)).map((x) => x.entryId)).toEqual([potency.body.entry.id, back.body.entry.id]);
    expect((await outcome('release-potency')).specification).toEqual([
      'Potency: target-cell survival < 70 % or killing difference > 50 %: passes when any of: Target-cell survival at E:T 1:1 < 70 % or Killing difference, CAR vs untransduced, at E:T 4:1 > 50 %',
    ]);

    // Inclusive bounds: viability ≥ 70 % passes at 70; endotoxin ≤ 0.5 EU/mL passes at 0.5.
    const viability = await d.record('release-viability', { viability: 70 }, 'qc1');
    expect(viability.body.entry.results).toEqual({ viability: 'pass' });
    const below = await d.correct(viability.body.entry.id, { viability: 69.9 }, 'recount', 'qc1');
    expect(below.body.entry.results).toEqual({ viability: 'fail' });
    const endotoxin = await d.record('release-endotoxin', { endotoxin: 0.5 }, 'qc1');
    expect(endotoxin.body.entry.results).toEqual({ endotoxin: 'pass' });
    const above = await d.correct(endotoxin.body.entry.id, { endotoxin: 0.51 }, 'recalculated', 'qc1');
    expect(above.body.entry.results).toEqual({ endotoxin: 'fail' });
    expect(await outcome('release-endotoxin')).toMatchObject({ outcome: 'fail', specification: ['Endotoxin: ≤ 0.5 EU/mL'], correctionIds: [above.body.entry.id] });
    expect(await deviations(h, d.id)).toHaveLength(4);

    // The site-wide list pages through them oldest first and filters by status and severity.
    const first = await call(h, 'qa1', 'GET', '/deviations?limit=3');
    expect(first.body.items).toHaveLength(3);
    const rest = await call(h, 'qa1', 'GET', `/deviations?limit=3&cursor=${first.body.nextCursor}`);
    expect(rest.body).toEqual({ items: [expect.objectContaining({ batchNumber: d.batch.batchNumber })] });
    expect([...first.body.items, ...rest.body.items].map((x: any) => x.id)).toEqual((await deviations(h, d.id)).map((x) => x.id));
    expect((await call(h, 'op1', 'GET', '/deviations?status=closed')).body).toEqual({ items: [] });
    expect((await call(h, 'op1', 'GET', '/deviations?status=open&severity=major')).body.items).toHaveLength(4);
    // Nothing is released yet: the final containers are in quarantine.
    expect((await call(h, 'op1', 'GET', `/batches/${d.id}/containers`)).body).toMatchObject({ status: 'quarantined', items: [{ status: 'quarantined' }, { status: 'quarantined' }] });
  });

  it('shows the analyst the total a per-kg dose specification implies for this patient, and judges the dose at that limit', async () => {
    const d = await batchInQcTesting(h, 'car-t', 2);
    const field = d.available('release-dose').fields.find((f: any) => f.name === 'totalCarPositiveCells');
    expect(field).toMatchObject({ spec: { min: 35 }, specFrom: 'dosePerKg' }); // 0.5 × 10^6/kg × 70 kg
    const r = await d.record('release-dose', { totalCarPositiveCells: 35 }, 'qc1');
    expect(r.body.entry).toMatchObject({ values: { dosePerKg: 0.5 }, results: { dosePerKg: 'pass' } });
  });
});

describe('GET /me/pending', () => {
  it('shows each person what they can do now: verifications of others\' steps, steps for their roles, results, deviations and the review', async () => {
    const d = await batchInQcTesting(h, 'car-t', 3);
    const pending = async (user: string) => (await call(h, user, 'GET', '/me/pending?limit=500')).body.items as any[];

    // QC: the release results; operators: nothing on this batch once manufacturing is done.
    const qc = await pending('qc1');
    expect(qc.filter((i) => i.batchId === d.id).map((i) => i.action)).toEqual(expect.arrayContaining(['enter-result']));
    expect(qc.find((i) => i.stepId === 'release-sterility')).toMatchObject({ action: 'enter-result', due: 'due', batchNumber: d.batch.batchNumber });
    expect((await pending('op1')).filter((i) => i.batchId === d.id)).toEqual([]);
    expect(await pending('insp1')).toEqual([]);
    expect(await pending('admin')).toEqual([]);

    // A failing viability opens a deviation: QA sees it to investigate; once every result is in and it is closed, the review.
    await d.record('release-viability', { viability: 60 }, 'qc1');
    const [oos] = await deviations(h, d.id);
    expect((await pending('qa1')).filter((i) => i.batchId === d.id)).toEqual([expect.objectContaining({ action: 'investigate-deviation', deviationId: oos.id })]);
    for (const [stepId, values] of Object.entries({
      'release-appearance': { appearance: 'conforms' }, 'release-car-positive': { carPositive: 34 }, 'release-cd3-positive': { cd3Positive: 97 },
      'release-dose': { totalCarPositiveCells: 140 }, 'release-mycoplasma': { mycoplasma: 'absent' }, 'release-endotoxin': { endotoxin: 0.12 },
      'release-vcn': { vectorCopyNumber: 2.4 }, 'release-rcl': { rcl: 'absent' }, 'release-adventitious-virus': { adventitiousViruses: 'not detected' }, 'release-potency': { targetSurvival: 42, killingDifference: 63 },
    })) expect((await d.record(stepId, values, 'qc1')).status).toBe(201);
    expect(d.batch.status).toBe('qa_review');
    await closeAll(h, d.id);
    expect((await pending('qa1')).filter((i) => i.batchId === d.id).map((i) => i.action)).toEqual(['sign-review']);
    expect((await review(h, d.id)).status).toBe(201);
    const qa = (await pending('qa2')).filter((i) => i.batchId === d.id);
    expect(qa).toEqual([expect.objectContaining({ action: 'dispose', detail: expect.stringMatching(/1 release test\(s\) failed/) })]);
  });

  it('offers a step to the roles that perform it and its verification to another person, never to the performer', async () => {
    const b = await createBatch(h, 'car-t', 6);
    const pending = async (user: string) => ((await call(h, user, 'GET', '/me/pending?limit=500')).body.items as any[]).filter((i) => i.batchId === b.id);
    expect(await pending('op1')).toEqual([expect.objectContaining({ action: 'record-step', stepId: 'apheresis-receipt', due: 'due' })]);
    expect(await pending('qc1')).toEqual([]);
    const receipt = await recordReceipt(h, b, 6);
    const sample = await call(h, 'op1', 'POST', `/batches/${b.id}/steps/starting-material-sample`, {
      values: { wbcConcentration: 28.5, viability: 94, cd3Positive: 62 }, signature: sign('op1'), expectedVersion: receipt.batch.version,
    });
    expect(sample.status).toBe(201);
    expect(await pending('op1')).toEqual([]); // the performer cannot verify; the next step waits for the verification
    for (const user of ['op2', 'sup1']) {
      expect(await pending(user), user).toEqual([expect.objectContaining({ action: 'verify', entryId: sample.body.entry.id, stepId: 'starting-material-sample', detail: 'performed by Test OP1' })]);
    }
    // Paged like every list.
    const first = await call(h, 'op2', 'GET', '/me/pending?limit=1');
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(1);
  });
});
