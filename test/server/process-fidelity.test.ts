// Process fidelity of the built-in definitions against ../shared/domain/processes.md (issue 11,
// finding 9): CAR-T activation with IL-7 + IL-15 or IL-2, the adventitious-agent PCR tests among the
// release tests, bag fractions that add up to the whole dose, and NK 4-hour windows from the recorded
// receipt time. Each change is a new version of the built-in, never an edit of version 1.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { advance, call, createBatch, HOUR, registerCatalogue, type Harness, harness } from '../helpers.js';
import { barcodeOf, BatchDriver, CART_PLAN } from './lifecycle-driver.js';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => { await h.close(); });

const steps = (def: any) => def.phases.flatMap((p: any) => p.steps);

describe('CAR-T, version 2', () => {
  it('is the effective built-in, with mycoplasma and adventitious-virus PCR, RCL and VCN among its release tests', async () => {
    const def = (await call(h, 'op1', 'GET', '/processes/car-t')).body;
    expect(def.version).toBe(2);
    const release = steps(def).filter((s: any) => s.stage === 'release').map((s: any) => s.id);
    expect(release).toEqual(expect.arrayContaining(['release-mycoplasma', 'release-adventitious-virus', 'release-rcl', 'release-vcn']));
  });

  async function toActivation() {
    const catalogue = await registerCatalogue(h, 'car-t');
    const d = new BatchDriver(h, await createBatch(h, 'car-t', 11), catalogue);
    await d.refresh();
    await d.run(CART_PLAN, 'activation');
    await advance(h, 1);
    const values = (extra: Record<string, unknown>) => ({ transactLot: catalogue.lots.transact, mediumLot: catalogue.lots.medium, viableCellsSeeded: 80, startTime: new Date(d.now()).toISOString(), ...extra });
    return { d, catalogue, values };
  }

  it('activates with IL-2 instead of IL-7 and IL-15', async () => {
    const { d, catalogue, values } = await toActivation();
    const r = await d.record('activation', values({ il2Lot: catalogue.lots['il-2'] }));
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.batch.openDeviations).toBe(0);
  });

  it('refuses an activation with no cytokine (400, naming the fields), and one with IL-7 alone', async () => {
    const { d, catalogue, values } = await toActivation();
    const none = await d.record('activation', values({}));
    expect(none.status).toBe(400);
    expect(none.body.errors.map((e: any) => e.field)).toEqual(['values.il7Lot', 'values.il15Lot']);
    const il7 = await d.record('activation', values({ il7Lot: catalogue.lots['il-7'] }));
    expect(il7.status).toBe(400);
    expect(il7.body.errors.map((e: any) => e.field)).toEqual(['values.il15Lot']);
    const both = await d.record('activation', values({ il7Lot: catalogue.lots['il-7'], il15Lot: catalogue.lots['il-15'] }));
    expect(both.status, JSON.stringify(both.body)).toBe(201);
  });

  it('opens an OOS deviation at cryopreservation when the bag fractions do not add up to the whole dose', async () => {
    const catalogue = await registerCatalogue(h, 'car-t');
    const d = new BatchDriver(h, await createBatch(h, 'car-t', 12), catalogue);
    await d.refresh();
    const plan = CART_PLAN.map((p, i) => (p.stepId === 'fill-bag' && CART_PLAN.findIndex((q) => q.stepId === 'fill-bag') !== i
      ? { ...p, values: (c: any) => ({ ...p.values(c), fractionPercent: 40 }) } : p));
    await d.run(plan, 'cryopreservation');
    const cryo = plan.find((p) => p.stepId === 'cryopreservation')!;
    await d.toHour(cryo.atHour!);
    const now = d.now();
    const r = await d.record('cryopreservation', cryo.values({
      now: new Date(now), hoursAgo: (x) => new Date(now - x * HOUR).toISOString(), lots: catalogue.lots, equipment: catalogue.equipment, batch: d.batch,
    }));
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.entry.values.fractionTotal).toBe(90);
    expect(r.body.entry.results.fractionTotal).toBe('fail');
    const devs = (await call(h, 'qa1', 'GET', `/batches/${d.id}/deviations`)).body.items;
    expect(devs).toEqual([expect.objectContaining({ kind: 'oos', stepId: 'cryopreservation', description: expect.stringContaining('Fractions of all bags') })]);
  });

  it('passes the fraction check when the bags add up to 100 %', async () => {
    const catalogue = await registerCatalogue(h, 'car-t');
    const d = new BatchDriver(h, await createBatch(h, 'car-t', 13), catalogue);
    await d.refresh();
    await d.run(CART_PLAN);
    const cryo = d.entriesOf('cryopreservation')[0];
    expect(cryo.values.fractionTotal).toBe(100);
    expect(cryo.results.fractionTotal).toBe('pass');
  });
});

describe('NK, version 2', () => {
  it('judges the 4-hour PBMC window from the receipt time the receipt records, not from when it was entered', async () => {
    const def = (await call(h, 'op1', 'GET', '/processes/nk')).body;
    expect(def.version).toBe(2);
    const { lots, equipment } = await registerCatalogue(h, 'nk');
    const b = await createBatch(h, 'nk', 14);
    await advance(h, 3);
    const now = h.ctx.clock.now().getTime();
    // Received 3 h ago, entered now (with its reason: the receipt itself was performed at receipt).
    const receipt = await call(h, 'op1', 'POST', `/batches/${b.id}/steps/blood-receipt`, {
      values: { bagScan: barcodeOf(b), collectedAt: new Date(now - 5 * HOUR).toISOString(), receivedAt: new Date(now - 3 * HOUR).toISOString(), volume: 50, transportTemperature: 21 },
      signature: { username: 'op1', password: 'Correct-Horse-Battery-9' }, expectedVersion: b.version,
    });
    expect(receipt.status, JSON.stringify(receipt.body)).toBe(201);
    const pbmc = (receipt.body.batch.availableSteps as any[]).find((s) => s.stepId === 'pbmc-isolation');
    expect(pbmc.window.closesAt).toBe(new Date(now + 1 * HOUR).toISOString());
    await advance(h, 1.5);
    const r = await call(h, 'op1', 'POST', `/batches/${b.id}/steps/pbmc-isolation`, {
      values: { centrifuge: equipment.centrifuge, biosafetyCabinet: equipment['biosafety-cabinet'], densityGradientLot: lots['density-gradient-medium'], pbmcCount: 45, viability: 96 },
      signature: { username: 'op1', password: 'Correct-Horse-Battery-9' }, expectedVersion: receipt.body.batch.version,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const devs = (await call(h, 'qa1', 'GET', `/batches/${b.id}/deviations`)).body.items;
    expect(devs).toEqual([expect.objectContaining({ kind: 'timing', stepId: 'pbmc-isolation', description: expect.stringContaining('4.5 h after blood-receipt.receivedAt') })]);
  });
});
