// A batch's life through HTTP, on the real built-in definitions and the training clock: whole CAR-T and
// NK batches, what the machine offers and why it locks, deviations, corrections, training marks and
// the Vietnamese record.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { advance, call, createBatch, din, recordState, registerCatalogue, type Harness, harness } from '../helpers.js';
import { rebuildProjection } from '../../server/services/projection.js';
import { BatchDriver, CART_PLAN, CART_RELEASE_VALUES, NK_PLAN, type Catalogue } from './lifecycle-driver.js';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => h.close());

const definition = async (processId: string) => (await call(h, 'op1', 'GET', `/processes/${processId}`)).body;
const stepsOf = (def: any): any[] => def.phases.flatMap((p: any) => p.steps);
const releaseStepIds = (def: any) => stepsOf(def).filter((s) => s.stage === 'release').map((s) => s.id).sort();
const ids = (steps: { stepId: string }[]) => steps.map((s) => s.stepId).sort();

async function carT(seq = 1): Promise<BatchDriver> {
  const catalogue: Catalogue = await registerCatalogue(h, 'car-t');
  return new BatchDriver(h, await createBatch(h, 'car-t', seq), catalogue);
}

async function deviationsOf(batchId: string) {
  const r = await call(h, 'qa1', 'GET', `/batches/${batchId}/deviations`);
  expect(r.status).toBe(200);
  return r.body.items as any[];
}

/** What a finished manufacturing record must show: all verified by op2, nothing open, the cache right. */
async function expectCleanRecordAwaitingRelease(d: BatchDriver, processId: string) {
  const b = await d.refresh();
  expect(b.status).toBe('qc_testing');
  expect(b.openDeviations).toBe(0);
  expect(await deviationsOf(d.id)).toEqual([]);
  expect(ids(b.availableSteps)).toEqual(releaseStepIds(await definition(processId)));
  const verifiable = b.entries.filter((e: any) => e.kind === 'step' && 'verified' in e);
  expect(verifiable.length).toBeGreaterThan(0);
  for (const e of verifiable) {
    expect(e.verified, e.stepId).toBe(true);
    expect(e.signatures.find((s: any) => s.meaning === 'performed')).toMatchObject({ username: 'op1', printedName: 'Test OP1' });
    expect(e.signatures.find((s: any) => s.meaning === 'verified'), e.stepId).toMatchObject({ username: 'op2', printedName: 'Test OP2' });
  }
  const projection = (await rebuildProjection(h.ctx, d.id))!;
  expect(projection.cached).toEqual(projection.rebuilt);
  return b;
}


describe('GET /batches lists the batches oldest first (its OpenAPI summary)', () => {
  it('pages through the batches in the order they were started, with a status filter too', async () => {
    const started: string[] = [];
    for (let seq = 1; seq <= 5; seq++) started.push((await createBatch(h, seq % 2 ? 'car-t' : 'nk', seq)).id);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const r = await call(h, 'op1', 'GET', `/batches?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(r.status).toBe(200);
      seen.push(...r.body.items.map((b: { id: string }) => b.id));
      cursor = r.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(started);
    const inProcess = await call(h, 'op1', 'GET', '/batches?status=in_process&limit=500');
    expect(inProcess.body.items.map((b: { id: string }) => b.id)).toEqual(started);
  });
});
describe('a whole batch through its real windows', () => {
  it('takes a CAR-T batch from apheresis receipt to release testing, then to QA review once the release tests pass', async () => {
    const d = await carT();
    await d.run(CART_PLAN);
    await expectCleanRecordAwaitingRelease(d, 'car-t');

    // Computed fields were filled by the server.
    const checks = d.entriesOf('culture-check');
    expect(checks.map((e: any) => e.values.cultureDay)).toEqual([3, 5, 7]);
    expect(checks.map((e: any) => e.values.totalViableCells)).toEqual([84, 425, 2500]);
    expect(d.entriesOf('harvest')[0].values.foldExpansion).toBe(50);
    expect(d.entriesOf('formulation')[0].values).toMatchObject({ patientWeight: 70, targetDose: 2, totalDoseCells: 140 });
    expect(d.entriesOf('fill-bag').map((e: any) => e.values.bagNumber)).toEqual([1, 2]);

    for (const [stepId, values] of Object.entries(CART_RELEASE_VALUES)) {
      const r = await d.record(stepId, values, 'qc1');
      expect(r.status, `${stepId}: ${JSON.stringify(r.body)}`).toBe(201);
      expect(Object.values(r.body.entry.results ?? {}), stepId).not.toContain('fail');
    }
    expect(d.entriesOf('release-dose')[0].values.dosePerKg).toBe(2);
    expect(d.batch.status).toBe('qa_review');
    expect(d.batch.openDeviations).toBe(0);
    expect(ids(d.batch.availableSteps)).toEqual(['release-sterility']);
    const projection = (await rebuildProjection(h.ctx, d.id))!;
    expect(projection.cached).toEqual(projection.rebuilt);
  });

  it('takes a 21-day NK batch, started from the bar-code form of the DIN, to release testing', async () => {
    const catalogue = await registerCatalogue(h, 'nk');
    const created = await call(h, 'op1', 'POST', '/batches', { processId: 'nk', din: din(7).barcode, patient: { id: 'PT-NK-7', weightKg: 70 } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ din: din(7).din, dinCheck: din(7).check, status: 'in_process' });
    const d = new BatchDriver(h, created.body, catalogue);
    await d.run(NK_PLAN);
    await expectCleanRecordAwaitingRelease(d, 'nk');

    const checks = d.entriesOf('culture-check');
    expect(checks.map((e: any) => e.values.cultureDay)).toEqual([4, 7, 10, 14, 17]);
    expect(checks.map((e: any) => e.values.viableCellCount)).toEqual([40, 160, 1200, 4500, 12400]);
    expect(d.entriesOf('harvest')[0].values.foldExpansion).toBe(640);
  });
});

describe('what the machine offers', () => {
  it('offers only the receipt right after creation and says for every other step what it waits for', async () => {
    const d = await carT();
    const def = await definition('car-t');
    expect(ids(d.batch.availableSteps)).toEqual(['apheresis-receipt']);
    const others = stepsOf(def).filter((s) => s.id !== 'apheresis-receipt');
    expect(ids(d.batch.lockedSteps)).toEqual(others.map((s) => s.id).sort());
    const titleOf = (id: string) => stepsOf(def).find((s) => s.id === id).title.en;
    for (const step of others) {
      const { reason } = d.locked(step.id);
      expect(typeof reason).toBe('string');
      if (step.stage === 'release') expect(reason, step.id).toMatch(/release testing/i);
      else expect(reason, step.id).toContain(titleOf(step.after[0]));
    }
  });

  it('keeps the steps after a step that needs verification locked until a second person verifies it', async () => {
    const d = await carT();
    await d.run(CART_PLAN, 'starting-material-sample');
    const sample = await d.record('starting-material-sample', { wbcConcentration: 28.5, viability: 94, cd3Positive: 62 });
    expect(sample.status).toBe(201);
    expect(sample.body.entry.verified).toBe(false);

    expect(d.available('cd4-cd8-selection')).toBeUndefined();
    expect(d.locked('cd4-cd8-selection').reason).toMatch(/verif/i);
    const before = await recordState(h);
    const { lots, equipment } = d.catalogue;
    const refused = await d.record('cd4-cd8-selection', {
      cellProcessor: equipment['cell-processor'], cd4BeadsLot: lots['cd4-microbeads'], cd8BeadsLot: lots['cd8-microbeads'],
      bufferLot: lots.buffer, viableCellsSelected: 420, viability: 96, cd3Purity: 97.5,
    });
    expect(refused.status).toBe(409);
    expect(await recordState(h)).toEqual(before);
    expect((await d.refresh()).version).toBe(d.batch.version);

    expect((await d.verify(sample.body.entry.id)).status).toBe(201);
    expect(d.available('cd4-cd8-selection')).toBeDefined();
  });
});

describe('deviations', () => {
  it('opens an OOS deviation for a value outside its specification and keeps the measured value', async () => {
    const d = await carT();
    await d.run(CART_PLAN, 'starting-material-sample');
    const r = await d.record('starting-material-sample', { wbcConcentration: 28.5, viability: 50, cd3Positive: 62 });
    expect(r.status).toBe(201);
    expect(r.body.entry.values.viability).toBe(50);
    expect(r.body.entry.results.viability).toBe('fail');
    expect(r.body.batch.openDeviations).toBe(1);
    const deviations = await deviationsOf(d.id);
    expect(deviations).toHaveLength(1);
    expect(deviations[0]).toMatchObject({ kind: 'oos', status: 'open', stepId: 'starting-material-sample', entryId: r.body.entry.id, batchId: d.id });
  });

  it('accepts a transduction recorded after its window and opens a timing deviation', async () => {
    const d = await carT();
    await d.run(CART_PLAN, 'transduction');
    await d.toHour(40); // the window is 18–30 h after the activation start
    const r = await d.record('transduction', { vectorLot: d.catalogue.lots['lentiviral-vector'], moi: 5, vectorVolume: 2.5 });
    expect(r.status).toBe(201);
    expect(r.body.batch.openDeviations).toBe(1);
    expect(await deviationsOf(d.id)).toEqual([expect.objectContaining({ kind: 'timing', status: 'open', stepId: 'transduction', entryId: r.body.entry.id })]);
  });

  it('opens a timing deviation for an apheresis received more than 48 h after the end of collection', async () => {
    const d = await carT();
    await advance(h, 72);
    const now = h.ctx.clock.now().getTime();
    const r = await d.record('apheresis-receipt', {
      bagScan: din(1).keyed, collectionEnd: new Date(now - 60 * 3_600_000).toISOString(), receivedAt: new Date(now - 3_600_000).toISOString(),
      transportTemperature: 4, volume: 220,
    });
    expect(r.status).toBe(201);
    expect(await deviationsOf(d.id)).toEqual([expect.objectContaining({ kind: 'timing', status: 'open', stepId: 'apheresis-receipt', entryId: r.body.entry.id })]);
  });
});

describe('corrections', () => {
  it('keeps the original entry, records the correction with its reason and requires a new verification', async () => {
    const d = await carT();
    await d.run(CART_PLAN, 'cd4-cd8-selection');
    const original = d.entriesOf('starting-material-sample')[0];
    const reason = 'Transcription error: the cell counter printout reads 88 %';
    const r = await d.correct(original.id, { viability: 88 }, reason);
    expect(r.status).toBe(201);
    expect(r.body.entry).toMatchObject({ kind: 'correction', correctsEntryId: original.id, stepId: 'starting-material-sample', reason, verified: false });
    expect(r.body.entry.values).toEqual({ viability: 88 });
    expect(r.body.entry.signatures).toEqual([expect.objectContaining({ username: 'op1', meaning: 'performed' })]);

    const kept = r.body.batch.entries.find((e: any) => e.id === original.id);
    expect(kept.values).toEqual({ wbcConcentration: 28.5, viability: 94, cd3Positive: 62 });

    // What follows waits for the correction to be verified, by someone else than its author.
    expect(d.available('cd4-cd8-selection')).toBeUndefined();
    expect(d.locked('cd4-cd8-selection').reason).toMatch(/verif/i);
    expect((await d.verify(r.body.entry.id, 'op1')).status).toBe(403);
    const v = await d.verify(r.body.entry.id, 'op2');
    expect(v.status).toBe(201);
    expect(v.body.entry).toMatchObject({ id: r.body.entry.id, verified: true });
    expect(v.body.entry.signatures).toContainEqual(expect.objectContaining({ username: 'op2', meaning: 'verified', printedName: 'Test OP2' }));
    expect(d.available('cd4-cd8-selection')).toBeDefined();
    expect(d.batch.openDeviations).toBe(0);
  });

  it('opens an OOS deviation when a value is corrected out of its specification', async () => {
    const d = await carT();
    await d.run(CART_PLAN, 'cd4-cd8-selection');
    const original = d.entriesOf('starting-material-sample')[0];
    const r = await d.correct(original.id, { viability: 60 }, 'Re-read of the viability: 60 %');
    expect(r.status).toBe(201);
    expect(r.body.entry.results.viability).toBe('fail');
    expect(r.body.batch.openDeviations).toBe(1);
    expect(await deviationsOf(d.id)).toEqual([expect.objectContaining({ kind: 'oos', status: 'open', stepId: 'starting-material-sample' })]);
  });

  it('recomputes the computed fields from the corrected value and keeps the culture day of the original check', async () => {
    const d = await carT();
    await d.run(CART_PLAN, 'in-process-control'); // now day 5: the day-3 and day-5 checks are recorded
    const day3 = d.entriesOf('culture-check')[0];
    expect(day3.values).toMatchObject({ cultureDay: 3, viableCellDensity: 1.2, totalViableCells: 84 });
    const r = await d.correct(day3.id, { viableCellDensity: 1.5 }, 'Density misread from the counter: 1.5');
    expect(r.status).toBe(201);
    expect(r.body.entry).not.toHaveProperty('verified'); // a culture check needs no verification
    // 1.5 × 10^6/mL × 70 mL; the check still belongs to day 3, though corrected on day 5.
    expect(r.body.entry.values).toEqual({ viableCellDensity: 1.5, totalViableCells: 105 });
  });
});

describe('training mode and language', () => {
  it('marks training batches and every entry as training', async () => {
    const d = await carT();
    await d.run(CART_PLAN.slice(0, 2));
    const b = await d.refresh();
    expect(b.training).toBe(true);
    expect(b.batchNumber).toMatch(/^TRN-/);
    expect(b.entries.length).toBeGreaterThanOrEqual(3);
    for (const e of b.entries) expect(e.training, e.kind).toBe(true);
    const list = await call(h, 'op1', 'GET', '/batches');
    expect(list.body.items.map((i: any) => [i.batchNumber.startsWith('TRN-'), i.training])).toEqual([[true, true]]);
  });

  it('shows the step titles in Vietnamese with ?lang=vi', async () => {
    const d = await carT();
    const vi = await d.refresh('vi');
    const receipt = vi.availableSteps[0];
    expect(receipt.title).not.toBe(d.batch.availableSteps[0].title);
    expect(receipt.title.normalize('NFC')).toMatch(/[ăâđêôơưàáảãạầấẩẫậằắẳẵặèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ]/i);
    const viTitles = Object.fromEntries(stepsOf(await definition('car-t')).map((s) => [s.id, s.title.vi]));
    for (const s of [...vi.availableSteps, ...vi.lockedSteps]) expect(s.title, s.stepId).toBe(viTitles[s.stepId]);
    expect(vi.lockedSteps.find((s: any) => s.stepId === 'starting-material-sample').reason).toContain('Tiếp nhận sản phẩm gạn tách');
  });
});
