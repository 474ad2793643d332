// Honest times (issue 11, finding 4; ALCOA+ contemporaneous, 21 CFR 211.100(b)): a step records when it
// was performed beside when it was recorded; back-dating before the batch or the step it follows is
// refused, a late entry needs a reason, is shown as late and is listed for QA; windows are judged on
// when the work was done.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { advance, call, createBatch, HOUR, recordReceipt, recordState, registerCatalogue, sign, type Harness, harness } from '../../helpers.js';
import { barcodeOf } from '../lifecycle-driver.js';
import { pdfFile } from '../../reports/pdf-tools.js';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => { await h.close(); });

const MIN = 60_000;
const iso = (t: number) => new Date(t).toISOString();
const now = () => h.ctx.clock.now().getTime();

/** The CAR-T receipt's values, received two hours ago. */
const receiptValues = (b: { din: string; dinCheck: string }) => ({
  bagScan: barcodeOf(b), collectionEnd: iso(now() - 10 * HOUR), receivedAt: iso(now() - 2 * HOUR), transportTemperature: 6, volume: 180,
});

async function receipt(b: any, extra: Record<string, unknown>) {
  return call(h, 'op1', 'POST', `/batches/${b.id}/steps/apheresis-receipt`, { values: receiptValues(b), signature: sign('op1'), expectedVersion: b.version, ...extra });
}

describe('performedAt on a step', () => {
  it('defaults to the time the step is recorded, and is shown beside it', async () => {
    await advance(h, 1);
    const b = await createBatch(h, 'car-t', 1);
    const { entry } = await recordReceipt(h, b, 1) as any;
    expect(entry.performedAt).toBe(entry.recordedAt);
    expect(entry.late).toBeUndefined();
  });

  it('keeps a time sent within the tolerance, not late', async () => {
    const b = await createBatch(h, 'car-t', 1);
    await advance(h, 1);
    const at = iso(now() - 20 * MIN);
    const r = await receipt(b, { performedAt: at });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.entry.performedAt).toBe(at);
    expect(r.body.entry.late).toBeUndefined();
  });

  it('refuses a time in the future beyond a small skew (400), and accepts one within it', async () => {
    const b = await createBatch(h, 'car-t', 1);
    const before = await recordState(h);
    const ahead = await receipt(b, { performedAt: iso(now() + 10 * MIN) });
    expect(ahead.status).toBe(400);
    expect(ahead.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(ahead.body.errors).toEqual([expect.objectContaining({ field: 'performedAt' })]);
    expect(await recordState(h)).toEqual(before);
    const skew = await receipt(b, { performedAt: iso(now() + 1 * MIN) });
    expect(skew.status, JSON.stringify(skew.body)).toBe(201);
  });

  it('refuses a malformed time or one with an offset as a body-shape 400', async () => {
    const b = await createBatch(h, 'car-t', 1);
    for (const performedAt of ['yesterday', '2026-03-02T08:00:00+07:00', 12]) {
      const r = await receipt(b, { performedAt });
      expect(r.status).toBe(400);
      expect(r.body.errors[0].field).toBe('performedAt');
    }
  });

  it('refuses a time before the batch was created (422, field performedAt), changing no record and auditing the attempt', async () => {
    await advance(h, 1);
    const b = await createBatch(h, 'car-t', 1);
    await advance(h, 0.1);
    const before = await recordState(h);
    const r = await receipt(b, { performedAt: iso(Date.parse(b.createdAt) - 30 * 24 * HOUR), lateReason: 'entered from the paper form' });
    expect(r.status).toBe(422);
    expect(r.body.errors).toEqual([{ field: 'performedAt', message: expect.stringContaining('before the batch was created') }]);
    expect(await recordState(h)).toEqual(before);
    const audit = await call(h, 'qa1', 'GET', `/batches/${b.id}/audit`);
    const refused = audit.body.items.filter((a: any) => a.action === 'step.refused');
    expect(refused).toHaveLength(1);
    expect(refused[0].reason).toContain('before the batch was created');
  });

  it('refuses a time before the step it follows was performed (422)', async () => {
    const b = await createBatch(h, 'car-t', 1);
    await advance(h, 1);
    const rec = await receipt(b, {});
    expect(rec.status).toBe(201);
    await advance(h, 0.25);
    const sample = (performedAt: string) => call(h, 'op1', 'POST', `/batches/${b.id}/steps/starting-material-sample`, {
      values: { wbcConcentration: 50, viability: 95, cd3Positive: 60 }, signature: sign('op1'), expectedVersion: rec.body.batch.version, performedAt,
    });
    const early = await sample(iso(Date.parse(rec.body.entry.performedAt) - 5 * MIN));
    expect(early.status).toBe(422);
    expect(early.body.errors[0]).toEqual({ field: 'performedAt', message: expect.stringContaining('Apheresis receipt') });
    const ok = await sample(iso(Date.parse(rec.body.entry.performedAt) + 5 * MIN));
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
  });
});

describe('late entries', () => {
  it('needs a reason beyond the tolerance (422 lateReason), then is shown late, in the PDF and in QA\'s review', async () => {
    const b = await createBatch(h, 'car-t', 1);
    await advance(h, 2);
    const at = iso(now() - 45 * MIN);
    const before = await recordState(h);
    const missing = await receipt(b, { performedAt: at });
    expect(missing.status).toBe(422);
    expect(missing.body.errors).toEqual([{ field: 'lateReason', message: expect.stringContaining('30 min') }]);
    expect(await recordState(h)).toEqual(before);

    const r = await receipt(b, { performedAt: at, lateReason: 'Power cut at the terminal; recorded from the bench sheet' });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.entry).toMatchObject({ performedAt: at, late: true, lateReason: 'Power cut at the terminal; recorded from the bench sheet' });

    const review = await call(h, 'qa1', 'GET', `/batches/${b.id}/review`);
    expect(review.status).toBe(200);
    const late = review.body.exceptions.filter((x: any) => x.kind === 'late-entry');
    expect(late).toHaveLength(1);
    expect(late[0].why).toContain('Power cut');

    const pdf = await h.app.inject({ method: 'GET', url: `/api/v1/batches/${b.id}/record.pdf`, headers: { authorization: `Bearer ${h.tokens.qa1}` } });
    expect(pdf.statusCode).toBe(200);
    const f = pdfFile(pdf.rawPayload);
    try {
      const text = f.text().replace(/\s+/g, ' ');
      expect(text).toContain('LATE ENTRY: entered 45 min after it was performed');
      expect(text).toContain('Power cut at the terminal');
    } finally { f.done(); }
  });
});

describe('windows are judged on when the work was performed', () => {
  async function nkToReceipt() {
    const { lots, equipment } = await registerCatalogue(h, 'nk');
    const b = await createBatch(h, 'nk', 7);
    await advance(h, 0.5);
    const receivedAt = iso(now() - 15 * MIN);
    const r = await call(h, 'op1', 'POST', `/batches/${b.id}/steps/blood-receipt`, {
      values: { bagScan: barcodeOf(b), collectedAt: iso(now() - 3 * HOUR), receivedAt, volume: 50, transportTemperature: 21 },
      signature: sign('op1'), expectedVersion: b.version,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const pbmc = (extra: Record<string, unknown>) => call(h, 'op1', 'POST', `/batches/${b.id}/steps/pbmc-isolation`, {
      values: { centrifuge: equipment.centrifuge, biosafetyCabinet: equipment['biosafety-cabinet'], densityGradientLot: lots['density-gradient-medium'], pbmcCount: 45, viability: 96 },
      signature: sign('op1'), expectedVersion: r.body.batch.version, ...extra,
    });
    return { b, receivedAt, pbmc };
  }
  const timingDeviations = async (id: string) => (await call(h, 'qa1', 'GET', `/batches/${id}/deviations`)).body.items.filter((d: any) => d.kind === 'timing');

  it('PBMC isolation performed 3 h after receipt but entered at 6 h opens no timing deviation (a late entry instead)', async () => {
    const { b, receivedAt, pbmc } = await nkToReceipt();
    await advance(h, 6);
    const r = await pbmc({ performedAt: iso(Date.parse(receivedAt) + 3 * HOUR), lateReason: 'Entered after the cabinet was cleaned' });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.entry.late).toBe(true);
    expect(await timingDeviations(b.id)).toEqual([]);
  });

  it('PBMC isolation performed 5 h after receipt opens a timing deviation, however soon it is entered', async () => {
    const { b, receivedAt, pbmc } = await nkToReceipt();
    await advance(h, 5);
    const r = await pbmc({ performedAt: iso(Math.min(now(), Date.parse(receivedAt) + 5 * HOUR)) });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const timing = await timingDeviations(b.id);
    expect(timing).toHaveLength(1);
    expect(timing[0].description).toContain('PBMC isolation');
  });
});
