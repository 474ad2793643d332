// A site's allogeneic umbilical-cord MSC process (docs/examples/uc-msc), written in the definition
// format with no code of its own, runs through HTTP from the donor to release and dose issue: its product type and
// batch prefix from the site catalogue, a donor instead of a patient, the physician's eligibility
// signature, the enzymatic route, culture checks ended by the harvest, computed doublings and
// durations, censored release results, release and the steps after it, and a second batch that names
// the first as its parent; its record PDF reads right for such a product (donor, not patient; no
// autologous banner; censored results and counts in powers of ten as such; the route not taken).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../server/services/accounts.js';
import { advance, call, din, harness, HOUR, PASSWORD, recordState, registerCatalogue, sign, type Harness } from '../helpers.js';
import { pdfFile } from '../reports/pdf-tools.js';

const MSC_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/examples/uc-msc');
const DONOR = { id: 'CORD-DONOR-0042', eligibility: 'pending' };

let h: Harness;
let lots: Record<string, string>;
beforeAll(async () => {
  h = await harness({ processesDir: MSC_DIR });
  await createUser(h.ctx, null, { username: 'doc1', fullName: 'Dr Test Physician', roles: ['physician'], password: PASSWORD }, false);
  h.tokens.doc1 = (await call(h, null, 'POST', '/auth/login', { username: 'doc1', password: PASSWORD })).body.token;
  ({ lots } = await registerCatalogue(h, 'uc-msc'));
});
afterAll(() => h.close());

const iso = (msAgo: number) => new Date(h.ctx.clock.now().getTime() - msAgo).toISOString();

async function record(batch: any, stepId: string, values: Record<string, unknown>, by = 'op1') {
  return call(h, by, 'POST', `/batches/${batch.id}/steps/${stepId}`, { values, signature: sign(by), expectedVersion: batch.version });
}

describe('starting an allogeneic batch', () => {
  it('lists the site process with its own product type', async () => {
    const r = await call(h, 'op1', 'GET', '/processes');
    expect(r.body).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'uc-msc', productType: 'MSC' }), expect.objectContaining({ id: 'car-t', productType: 'CAR-T' })]));
  });

  it('refuses a batch without its donor, with a donor on an autologous process, or without the patient an autologous process needs', async () => {
    const before = await recordState(h);
    const noDonor = await call(h, 'op1', 'POST', '/batches', { processId: 'uc-msc', din: din(501).keyed, patient: { id: 'PT-9', weightKg: 60 } });
    expect(noDonor.status).toBe(400);
    expect(noDonor.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(noDonor.body.errors).toEqual([{ field: 'donor', message: 'process uc-msc is allogeneic: the donor (id and eligibility) is required' }]);
    const donorOnCarT = await call(h, 'op1', 'POST', '/batches', { processId: 'car-t', din: din(502).keyed, patient: { id: 'PT-9', weightKg: 60 }, donor: DONOR });
    expect(donorOnCarT.status).toBe(400);
    expect(donorOnCarT.body.errors).toEqual([{ field: 'donor', message: 'process car-t is autologous: the patient is the donor' }]);
    const noPatient = await call(h, 'op1', 'POST', '/batches', { processId: 'car-t', din: din(503).keyed });
    expect(noPatient.status).toBe(400);
    expect(noPatient.body.errors).toEqual([{ field: 'patient', message: 'process car-t needs the patient (id and weight)' }]);
    const parentsOnCarT = await call(h, 'op1', 'POST', '/batches', { processId: 'car-t', din: din(504).keyed, patient: { id: 'PT-9', weightKg: 60 }, parents: ['x'] });
    expect(parentsOnCarT.body.errors).toEqual([{ field: 'parents', message: 'batches of process car-t are not made from other batches' }]);
    const ineligible = await call(h, 'op1', 'POST', '/batches', { processId: 'uc-msc', din: din(505).keyed, donor: { ...DONOR, eligibility: 'ineligible' } });
    expect(ineligible.status).toBe(422);
    expect(ineligible.body.errors).toEqual([{ field: 'donor.eligibility', message: 'the donor is ineligible' }]);
    expect(await recordState(h)).toEqual(before);
  });
});

describe('an allogeneic UC-MSC batch from donor to QA review', () => {
  let b: any;
  const step = async (stepId: string, values: Record<string, unknown>, by = 'op1') => {
    const r = await record(b, stepId, values, by);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    b = r.body.batch;
    return r.body;
  };
  const locked = (stepId: string) => b.lockedSteps.find((s: any) => s.stepId === stepId)?.reason;

  it('starts with the donor and no patient; the batch number has the catalogue prefix', async () => {
    const r = await call(h, 'op1', 'POST', '/batches', { processId: 'uc-msc', din: din(510).keyed, donor: DONOR });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    b = r.body;
    expect(b.batchNumber).toMatch(/^TRN-MSC-\d{4}-00001$/);
    expect(b).toMatchObject({ donor: DONOR, productType: 'MSC', autologous: false, status: 'in_process' });
    expect(b).not.toHaveProperty('patient');
    expect(b.entries[0].values).toMatchObject({ donorId: DONOR.id, donorEligibility: 'pending' });
  });

  it('takes the maternal sample inside ±7 days of delivery, and the eligibility only from the physician', async () => {
    await step('donor-screening', { cordScan: din(510).keyed, deliveryAt: iso(30 * HOUR), maternalSampleAt: iso(4 * 24 * HOUR), infectiousMarkers: 'negative' });
    expect(b.openDeviations).toBe(0);
    const byOperator = await record(b, 'donor-eligibility', { determination: 'eligible' });
    expect(byOperator.status).toBe(403);
    const body = await step('donor-eligibility', { determination: 'eligible', rationale: 'Screening and history acceptable' }, 'doc1');
    expect(body.entry.signatures).toEqual([expect.objectContaining({ username: 'doc1', meaning: 'performed' })]);
  });

  it('takes the enzymatic route: the explant culture does not apply', async () => {
    await step('tissue-processing', { cordLength: 35, isolationMethod: 'enzymatic' });
    expect(b.availableSteps.map((s: any) => s.stepId)).toEqual(['enzymatic-digestion']);
    expect(locked('explant-culture')).toBe('Does not apply: the batch took another route.');
    const body = await step('enzymatic-digestion', { collagenaseLot: lots.collagenase, digestionStart: iso(3 * HOUR), digestionEnd: iso(0.5 * HOUR) });
    expect(body.entry.values.digestionMinutes).toBe(150);
    expect(b.availableSteps.map((s: any) => s.stepId)).toEqual(['culture-start']);
  });

  it('offers the culture checks until the harvest, which needs one of its two viabilities and computes the doublings', async () => {
    await step('culture-start', { cultureStart: iso(0), seededCells: 10 });
    await advance(h, 3 * 24 + 2);
    await step('culture-check', { confluence: 40, morphology: 'spindle-shaped' });
    await advance(h, 4 * 24);
    await step('culture-check', { confluence: 85, morphology: 'spindle-shaped' });
    await advance(h, 24 - 2);
    const before = await recordState(h);
    const neither = await record(b, 'harvest', { harvestedCells: 640 });
    expect(neither.status).toBe(400);
    expect(neither.body.errors).toEqual([{ field: 'values.viabilityTrypan', message: 'at least one of Viability (trypan blue), Viability (7-AAD) is required' }]);
    expect(await recordState(h)).toEqual(before);
    const body = await step('harvest', { harvestedCells: 640, viabilityFlow: 93 });
    expect(body.entry.values).toMatchObject({ populationDoublings: 6, doublingTime: 32 });
    expect(locked('culture-check')).toBe('Ended when "Harvest" was recorded.');
    const v = await call(h, 'sup1', 'POST', `/batches/${b.id}/entries/${body.entry.id}/verify`, { signature: sign('sup1') });
    expect(v.status).toBe(201);
    b = v.body.batch;
    expect(b.openDeviations).toBe(0);
  });

  it('freezes without a per-kg dose (no recipient yet) and times the freezing from the harvest', async () => {
    await advance(h, 1);
    const body = await step('cryopreservation', { freezeStart: iso(0.5 * HOUR), doses: 20, cellsPerDose: 30 });
    expect(body.entry.values.timeToFreeze).toBe(30);
    expect(body.entry.values).not.toHaveProperty('dosePerKg');
    expect(b.status).toBe('qc_testing');
  });

  it('records censored release results as such and reaches QA review with no deviation', async () => {
    await step('release-sterility', { sterility: 'no growth' }, 'qc1');
    const endotoxin = await step('release-endotoxin', { endotoxin: { below: 0.05 } }, 'qc1');
    expect(endotoxin.entry.values.endotoxin).toEqual({ below: 0.05 });
    expect(endotoxin.entry.results).toEqual({ endotoxin: 'pass' });
    await step('release-phenotype', { cd73: 99.1, cd90: 98.4, cd45: { below: 1 } }, 'qc1');
    expect(b.status).toBe('qa_review');
    expect(b.openDeviations).toBe(0);
    expect(locked('thaw')).toBe('Recorded once the batch is released.');
  });

  it('is released by QA, then offers thaw and dose issue (steps after release), repeatedly', async () => {
    const reviewed = await call(h, 'qa1', 'POST', `/batches/${b.id}/review`, { comment: 'Reviewed by exception.', signature: sign('qa1') });
    expect(reviewed.status, JSON.stringify(reviewed.body)).toBe(201);
    const released = await call(h, 'qa2', 'POST', `/batches/${b.id}/disposition`, { decision: 'release', signature: sign('qa2') });
    expect(released.status, JSON.stringify(released.body)).toBe(201);
    b = (await call(h, 'op1', 'GET', `/batches/${b.id}`)).body;
    expect(b.status).toBe('released');
    expect(b.availableSteps.map((s: any) => s.stepId)).toEqual(['thaw']);
    await step('thaw', { thawedAt: iso(0.2 * HOUR), postThawViability: 88 });
    const issue = await step('dose-issue', { recipientId: 'PT-12', issuedAt: iso(0) }, 'sup1');
    expect(issue.entry.verified).toBe(false);
    await step('thaw', { thawedAt: iso(0), postThawViability: 86 }, 'qc1');
    expect(b.status).toBe('released');
    expect(b.entries.filter((e: any) => e.stepId === 'thaw')).toHaveLength(2);
  });

  it('starts a batch that names this one as its parent; an unknown parent is refused', async () => {
    const unknown = await call(h, 'op1', 'POST', '/batches', { processId: 'uc-msc', din: din(511).keyed, donor: DONOR, parents: ['no-such-batch'] });
    expect(unknown.status).toBe(422);
    expect(unknown.body.errors).toEqual([{ field: 'parents.0', message: 'batch no-such-batch does not exist' }]);
    const child = await call(h, 'op1', 'POST', '/batches', { processId: 'uc-msc', din: din(512).keyed, donor: DONOR, patient: { id: 'PT-77', weightKg: 20 }, parents: [b.id] });
    expect(child.status, JSON.stringify(child.body)).toBe(201);
    expect(child.body.parents).toEqual([{ id: b.id, batchNumber: b.batchNumber, processId: 'uc-msc' }]);
    expect(child.body.patient).toEqual({ id: 'PT-77', weightKg: 20 });
    expect(child.body.batchNumber).toMatch(/^TRN-MSC-\d{4}-00002$/);
  });

  it('prints a record that reads right for an allogeneic MSC product, page by page, in English and Vietnamese', async () => {
    const texts: Record<string, string[]> = {};
    for (const lang of ['en', 'vi'] as const) {
      const r = await h.app.inject({ method: 'GET', url: `/api/v1/batches/${b.id}/record.pdf?lang=${lang}`, headers: { authorization: `Bearer ${h.tokens.qa1}` } });
      expect(r.statusCode).toBe(200);
      const f = pdfFile(r.rawPayload);
      try {
        texts[lang] = f.text().split('\f').filter((p) => p.trim()).map((p) => p.replace(/\s+/g, ' '));
      } finally {
        f.done();
      }
    }
    const en = texts.en.join(' ');
    const [cover] = texts.en;
    // 21 CFR 1271.90(c) applies to autologous products: an allogeneic record never says so.
    expect(en).not.toMatch(/AUTOLOGOUS|Patient id|Patient weight/);
    // The donor (by code, with the eligibility at start) and the recipient, not yet named, instead of a patient.
    expect(cover).toContain(`Donor id ${DONOR.id}`);
    expect(cover).toContain('Donor eligibility at start pending: determined by the physician in the record');
    expect(cover).toContain('Recipient (patient) id none named at manufacture (allogeneic: named at dose issue)');
    expect(cover).toContain('Product type MSC');
    // Counts in powers of ten read as such; censored results as the method gave them; the route not taken does not apply.
    expect(en).toContain('Cells harvested 640.0 × 10^6');
    expect(en).not.toMatch(/\d 10\^6/);
    expect(en).toContain('Endotoxin < 0.05 EU/mL less than 0.5 EU/mL PASS');
    expect(en).toContain('CD45+ < 1 % max. 2 % PASS');
    expect(en.slice(0, en.indexOf('Audit trail of the batch'))).not.toContain('{"below"'); // the audit appendix quotes the stored JSON
    expect(en).toContain('Explant culture Does not apply: Isolation method was "Enzymatic digestion" (this step is for "Explant culture").');
    // Choices print by the labels the definition gives them, in the document's language; the specification too.
    expect(en).toContain('Morphology Spindle-shaped any of: Spindle-shaped PASS');
    expect(en).toContain('Determination Eligible any of: Eligible PASS');
    expect(en).toContain('Sterility No growth any of: No growth PASS');
    // The start in "Other entries": the donor as labelled fields, as the cover prints it, never as JSON.
    const others = en.slice(en.indexOf('Other entries'), en.indexOf('Audit trail of the batch'));
    expect(others).toContain(`Donor id: ${DONOR.id}`);
    expect(others).toContain('Donor eligibility at start: pending: determined by the physician in the record');
    expect(others).toContain('Recipient (patient) id: none named at manufacture');
    expect(others).not.toMatch(/[{}"]/);
    // The record is frozen at release: thaw and issue come after it, and the record says so.
    expect(en).toContain('Dose thaw Done after release: none recorded as of this document (later ones are in the electronic record).');
    const vi = texts.vi.join(' ');
    expect(texts.vi[0]).toContain(`Mã người hiến ${DONOR.id}`);
    expect(vi).not.toMatch(/TỰ THÂN|AUTOLOGOUS|Mã bệnh nhân/);
    expect(vi).toContain('Nội độc tố < 0,05 EU/mL');
    expect(vi).toContain('Không áp dụng: Phương pháp phân lập là "Phân giải bằng enzym" (bước này dành cho "Nuôi cấy mảnh mô").');
    expect(vi).toContain('Hình thái Hình thoi một trong: Hình thoi ĐẠT');
    expect(vi).toContain('Vô khuẩn Không mọc một trong: Không mọc ĐẠT');
    const othersVi = vi.slice(vi.indexOf('Các mục ghi khác'), vi.indexOf('Nhật ký kiểm tra của lô'));
    expect(othersVi).toContain(`Mã người hiến: ${DONOR.id}`);
    expect(othersVi).not.toMatch(/[{}"]/);
  });
});
