// Drives a batch through its process over HTTP, step by step, on the training clock. The plans below
// are the values a technician would write on a good day: every one chosen inside the specification of
// the built-in definitions (workflows/builtin/car-t.ts, nk.ts), every step timed inside its window.
import { expect } from 'vitest';
import { advance, call, HOUR, sign, type Harness, type registerCatalogue } from '../helpers.js';

export type Catalogue = Awaited<ReturnType<typeof registerCatalogue>>;

export interface PlanContext {
  /** The training clock's now, when the step is recorded. */
  now: Date;
  /** An ISO time this many hours before now. */
  hoursAgo(hours: number): string;
  lots: Record<string, string>;
  equipment: Record<string, string>;
  batch: any;
}

export interface PlannedStep {
  stepId: string;
  /** Hours the clock moves before the step (before day 0 is known). */
  advance?: number;
  /** Or: the hour after day 0 (the activation / culture start time) at which the step is recorded. */
  atHour?: number;
  /** Who performs it; op1 unless the step belongs to another role (QC in-process controls). */
  by?: string;
  values: (c: PlanContext) => Record<string, unknown>;
}

export const MOD37 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*';
/** The DIN as the bar code of the bag reads it: `=`, the 13 characters, flags 60 + check value. */
export const barcodeOf = (batch: { din: string; dinCheck: string }) => `=${batch.din}${60 + MOD37.indexOf(batch.dinCheck)}`;

/** Speaks to one batch: records, verifies and corrects through HTTP, keeping the latest Batch view. */
export class BatchDriver {
  /** Day 0: the start time recorded by the step that starts the culture. */
  day0?: number;

  constructor(readonly h: Harness, public batch: any, readonly catalogue: Catalogue) {}

  get id(): string { return this.batch.id; }
  now(): number { return this.h.ctx.clock.now().getTime(); }

  async refresh(lang?: 'vi') {
    const r = await call(this.h, 'op1', 'GET', `/batches/${this.id}${lang ? `?lang=${lang}` : ''}`);
    expect(r.status).toBe(200);
    if (!lang) this.batch = r.body;
    return r.body;
  }

  /** Moves the training clock to this hour after day 0. */
  async toHour(hour: number) {
    if (this.day0 === undefined) throw new Error('day 0 is not recorded yet');
    const hours = (this.day0 + hour * HOUR - this.now()) / HOUR;
    if (hours < 0) throw new Error(`hour ${hour} after day 0 is already past`);
    await advance(this.h, hours);
  }

  available(stepId: string) { return this.batch.availableSteps.find((s: any) => s.stepId === stepId); }
  locked(stepId: string) { return this.batch.lockedSteps.find((s: any) => s.stepId === stepId); }
  entriesOf(stepId: string, kind = 'step') { return this.batch.entries.filter((e: any) => e.kind === kind && e.stepId === stepId); }

  async record(stepId: string, values: Record<string, unknown>, by = 'op1') {
    const r = await call(this.h, by, 'POST', `/batches/${this.id}/steps/${stepId}`, { values, signature: sign(by), expectedVersion: this.batch.version });
    if (r.status === 201) this.batch = r.body.batch;
    return r;
  }

  async verify(entryId: string, by = 'op2') {
    const r = await call(this.h, by, 'POST', `/batches/${this.id}/entries/${entryId}/verify`, { signature: sign(by) });
    if (r.status === 201) this.batch = r.body.batch;
    return r;
  }

  async correct(entryId: string, values: Record<string, unknown>, reason: string, by = 'op1') {
    const r = await call(this.h, by, 'POST', `/batches/${this.id}/entries/${entryId}/corrections`, { values, reason, signature: sign(by) });
    if (r.status === 201) this.batch = r.body.batch;
    return r;
  }

  /**
   * Records the plan in order (stopping before `stopBefore`, if given). For every step: it must be
   * available, the clock must be inside the window the batch shows for it, it must open no deviation,
   * and a step that needs a second person is verified by op2 at once.
   */
  async run(plan: PlannedStep[], stopBefore?: string) {
    for (const p of plan) {
      if (p.stepId === stopBefore) return;
      if (p.advance) await advance(this.h, p.advance);
      if (p.atHour !== undefined) await this.toHour(p.atHour);
      const offered = this.available(p.stepId);
      expect(offered, `${p.stepId} should be available; locked: ${JSON.stringify(this.locked(p.stepId))}`).toBeDefined();
      const now = this.now();
      if (offered.window?.opensAt) expect(now, `${p.stepId} before its window`).toBeGreaterThanOrEqual(Date.parse(offered.window.opensAt));
      if (offered.window?.closesAt) expect(now, `${p.stepId} after its window`).toBeLessThanOrEqual(Date.parse(offered.window.closesAt));
      const values = p.values({
        now: new Date(now), hoursAgo: (hours) => new Date(now - hours * HOUR).toISOString(),
        lots: this.catalogue.lots, equipment: this.catalogue.equipment, batch: this.batch,
      });
      const r = await this.record(p.stepId, values, p.by);
      expect(r.status, `${p.stepId}: ${JSON.stringify(r.body)}`).toBe(201);
      expect(r.body.batch.openDeviations, `${p.stepId} opened a deviation`).toBe(0);
      if (typeof values.startTime === 'string') this.day0 = Date.parse(values.startTime);
      if (offered.signatures.some((s: any) => s.meaning === 'verified')) {
        expect(r.body.entry.verified).toBe(false);
        const v = await this.verify(r.body.entry.id);
        expect(v.status, `verify ${p.stepId}: ${JSON.stringify(v.body)}`).toBe(201);
        expect(v.body.entry.verified).toBe(true);
      }
    }
  }
}

// ─── CAR-T: apheresis receipt → cryopreservation (day 0 = activation start) ────────────────────

export const CART_PLAN: PlannedStep[] = [
  // Received 19.5 h after the end of collection (≤ 48 h), at 4 °C (2–25 °C).
  { stepId: 'apheresis-receipt', values: (c) => ({ bagScan: c.batch.din + c.batch.dinCheck, collectionEnd: c.hoursAgo(20), receivedAt: c.hoursAgo(0.5), transportTemperature: 4, volume: 220 }) },
  // Viability ≥ 70 %.
  { stepId: 'starting-material-sample', advance: 0.5, values: () => ({ wbcConcentration: 28.5, viability: 94, cd3Positive: 62 }) },
  // Viable cells ≥ 100 × 10^6, viability ≥ 70 %.
  {
    stepId: 'cd4-cd8-selection', advance: 2,
    values: (c) => ({
      cellProcessor: c.equipment['cell-processor'], cd4BeadsLot: c.lots['cd4-microbeads'], cd8BeadsLot: c.lots['cd8-microbeads'],
      bufferLot: c.lots.buffer, viableCellsSelected: 420, viability: 96, cd3Purity: 97.5,
    }),
  },
  // Same day as the selection; 80 × 10^6 seeded (50–100); its start time is day 0.
  {
    stepId: 'activation', advance: 1,
    values: (c) => ({
      transactLot: c.lots.transact, mediumLot: c.lots.medium, il7Lot: c.lots['il-7'], il15Lot: c.lots['il-15'],
      viableCellsSeeded: 80, startTime: c.now.toISOString(),
    }),
  },
  // 18–30 h after day 0; MOI 2–10.
  { stepId: 'transduction', atHour: 24, values: (c) => ({ vectorLot: c.lots['lentiviral-vector'], moi: 5, vectorVolume: 2.5 }) },
  // Culture checks on days 3, 5 and 7 (each day runs from day × 24 h for 24 h); viability alert < 70 %.
  { stepId: 'culture-check', atHour: 74, values: (c) => ({ viableCellDensity: 1.2, viability: 91, cultureVolume: 70, mediumAdded: 100, mediumLot: c.lots.medium }) },
  { stepId: 'culture-check', atHour: 122, values: () => ({ viableCellDensity: 2.5, viability: 93, cultureVolume: 170 }) },
  // Day 5 ± 1 (96–144 h); CAR+ ≥ 5 %; a QC step.
  { stepId: 'in-process-control', atHour: 123, by: 'qc1', values: () => ({ carPositive: 32 }) },
  { stepId: 'culture-check', atHour: 170, values: () => ({ viableCellDensity: 5, viability: 94, cultureVolume: 500 }) },
  // 216–264 h; viability ≥ 70 %, CAR+ ≥ 20 %, CD3+ ≥ 70 %; 4000 / 80 seeded = 50-fold.
  { stepId: 'harvest', atHour: 226, values: () => ({ totalViableCells: 4000, viability: 93, carPositive: 34, cd3Positive: 97 }) },
  // ≤ 4 h after the harvest; 2.0 × 10^6/kg (0.4–5.0) × 70 kg = 140 × 10^6; two bags.
  { stepId: 'formulation', atHour: 227, values: (c) => ({ targetDose: 2, bagCount: 2, cryomediumLot: c.lots.cryomedium }) },
  { stepId: 'fill-bag', atHour: 227.5, values: (c) => ({ bagNumber: 1, fractionPercent: 50, volume: 35, labelScan: c.batch.batchNumber }) },
  { stepId: 'fill-bag', atHour: 228, values: (c) => ({ bagNumber: 2, fractionPercent: 50, volume: 35, labelScan: c.batch.batchNumber }) },
  // Freezing starts 15 min after the last bag (≤ 2 h); stored at −185 °C (≤ −150 °C).
  {
    stepId: 'cryopreservation', atHour: 229.5,
    values: (c) => ({
      freezer: c.equipment['controlled-rate-freezer'], freezingProgram: 'CRF-CART-01', freezingStart: c.hoursAgo(1.25), freezingEnd: c.hoursAgo(0.25),
      storageTank: 'LN2-02', storageRack: 'R3', storageBox: 'B12', storagePosition: 'A4', storageTemperature: -185,
    }),
  },
];

/** The CAR-T release panel, every result passing (sterility, which may follow release, is left out). */
export const CART_RELEASE_VALUES: Record<string, Record<string, unknown>> = {
  'release-appearance': { appearance: 'conforms' },
  'release-viability': { viability: 91 },
  'release-car-positive': { carPositive: 34 },
  'release-cd3-positive': { cd3Positive: 97 },
  'release-dose': { totalCarPositiveCells: 140 }, // 140 × 10^6 / 70 kg = 2.0 × 10^6/kg (≥ 0.5)
  'release-mycoplasma': { mycoplasma: 'absent' },
  'release-adventitious-virus': { adventitiousViruses: 'not detected' },
  'release-endotoxin': { endotoxin: 0.12 }, // ≤ 0.5 EU/mL
  'release-vcn': { vectorCopyNumber: 2.4 }, // ≤ 10 copies/cell
  'release-rcl': { rcl: 'absent' },
  'release-potency': { targetSurvival: 42, killingDifference: 63 }, // < 70 % or > 50 %
};

// ─── NK: blood receipt → formulation (day 0 = culture start) ────────────────────────────────────

const nkCheck = (viableCellDensity: number, cultureVolume: number, vesselTransfer = false) => () =>
  ({ viableCellDensity, cultureVolume, viability: 95, vesselTransfer });

export const NK_PLAN: PlannedStep[] = [
  // Received 2.75 h after collection (≤ 24 h); 50 mL (40–60); 21 °C (15–25).
  { stepId: 'blood-receipt', values: (c) => ({ bagScan: barcodeOf(c.batch), collectedAt: c.hoursAgo(3), receivedAt: c.hoursAgo(0.25), volume: 50, transportTemperature: 21 }) },
  // ≤ 4 h after receipt; viability ≥ 90 %.
  {
    stepId: 'pbmc-isolation', advance: 1.5,
    values: (c) => ({
      centrifuge: c.equipment.centrifuge, biosafetyCabinet: c.equipment['biosafety-cabinet'], densityGradientLot: c.lots['density-gradient-medium'],
      pbmcCount: 45, viability: 96,
    }),
  },
  { stepId: 'plasma-preparation', advance: 0.5, values: () => ({ heatInactivated: true, plasmaVolume: 22 }) },
  // 30 × 10^6 seeded; its start time is day 0.
  {
    stepId: 'culture-start', advance: 1,
    values: (c) => ({ mediumLot: c.lots.medium, il2Lot: c.lots['il-2'], activationReagentLot: c.lots['activation-reagent'], cellsSeeded: 30, startTime: c.now.toISOString() }),
  },
  // Culture checks on days 4, 7, 10, 14 and 17.
  { stepId: 'culture-check', atHour: 98, values: (c) => ({ ...nkCheck(0.8, 50)(), mediumAdded: 25, mediumLot: c.lots.medium, il2Lot: c.lots['il-2'] }) },
  { stepId: 'culture-check', atHour: 170, values: nkCheck(1.6, 100, true) },
  { stepId: 'culture-check', atHour: 242, values: nkCheck(2.4, 500) },
  { stepId: 'culture-check', atHour: 338, values: nkCheck(4.5, 1000) },
  // Day 14 ± 1 (312–360 h); a QC step.
  { stepId: 'in-process-control', atHour: 339, by: 'qc1', values: () => ({ nkPercent: 78, viability: 94 }) },
  { stepId: 'culture-check', atHour: 410, values: nkCheck(6.2, 2000) },
  // Day 20–22 (480–528 h); viability ≥ 90 %, NK ≥ 50 %; 19.2 × 10^9 / 30 × 10^6 seeded = 640-fold.
  { stepId: 'harvest', atHour: 484, values: () => ({ totalCells: 19.2, viability: 95, nkPercent: 84 }) },
  // ≤ 2 h after the harvest; 1.5 × 10^9 cells per infusion (0.5–2).
  { stepId: 'formulation', atHour: 485, values: (c) => ({ salineLot: c.lots.saline, finalVolume: 100, cellsPerInfusion: 1.5, labelScan: c.batch.batchNumber }) },
];
