// Issue 16: "a definition written by a site for a process nobody here has seen runs end to end, through
// release and the PDF, with no code change". The process is tumour-infiltrating lymphocytes
// (test/workflows/fixtures/til/: a product type and batch prefix of the site's own catalogue, labelled
// options, a lot and an instrument, a step verified by a second person, fold expansion and population
// doublings computed, a censored release result), read from the site folder at start, as a site would
// install it; no code of the product names it. Through HTTP from the first step to QA's release, then
// the record PDF and the certificate of analysis read page by page in both languages.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, din, harness, registerCatalogue, sign, type Harness } from '../helpers.js';
import { expectArchival, pdfFile } from '../reports/pdf-tools.js';

const SITE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../workflows/fixtures/til');

let h: Harness;
let catalogue: Awaited<ReturnType<typeof registerCatalogue>>;
beforeAll(async () => {
  h = await harness({ processesDir: SITE_DIR });
  catalogue = await registerCatalogue(h, 'til-rep');
});
afterAll(() => h.close());

async function pages(document: string, batchId: string, lang: 'en' | 'vi') {
  const r = await h.app.inject({ method: 'GET', url: `/api/v1/batches/${batchId}/${document}?lang=${lang}`, headers: { authorization: `Bearer ${h.tokens.qa1}` } });
  expect(r.statusCode, r.body.slice(0, 200)).toBe(200);
  const f = pdfFile(r.rawPayload);
  try {
    expectArchival(f);
    return f.text().split('\f').filter((p) => p.trim()).map((p) => p.replace(/\s+/g, ' '));
  } finally {
    f.done();
  }
}

describe('a site process nobody here has seen (TIL), with no code change', () => {
  let b: any;
  const step = async (stepId: string, values: Record<string, unknown>, by = 'op1') => {
    const r = await call(h, by, 'POST', `/batches/${b.id}/steps/${stepId}`, { values, signature: sign(by), expectedVersion: b.version });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    b = r.body.batch;
    return r.body.entry;
  };

  it('is installed from the site folder as the effective version of its own product type', async () => {
    const versions = (await call(h, 'qa1', 'GET', '/processes/til-rep/versions')).body.items;
    expect(versions).toEqual([expect.objectContaining({ version: 1, status: 'effective', source: 'site-folder' })]);
    const created = await call(h, 'op1', 'POST', '/batches', { processId: 'til-rep', din: din(901).keyed, patient: { id: 'PT-901', weightKg: 64 } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    b = created.body;
    expect(b).toMatchObject({ productType: 'TIL', autologous: true, status: 'in_process' });
    expect(b.batchNumber).toMatch(/^TRN-TIL-\d{4}-00001$/);
    expect(b.availableSteps[0].fields.find((f: any) => f.name === 'tumourSite').optionLabels).toEqual({ cutaneous: 'Cutaneous metastasis', nodal: 'Lymph node', visceral: 'Visceral' });
  });

  it('runs from the tumour to QA review: a second person verifies, the expansion is computed, a censored result is kept as such', async () => {
    await step('tumour-receipt', { tumourMass: 1.8, tumourSite: 'nodal' });
    const fragments = await step('fragmentation', { fragments: 24, il2Lot: catalogue.lots['il-2'], incubator: catalogue.equipment.incubator });
    const verified = await call(h, 'sup1', 'POST', `/batches/${b.id}/entries/${fragments.id}/verify`, { signature: sign('sup1') });
    expect(verified.status, JSON.stringify(verified.body)).toBe(201);
    b = verified.body.batch;
    const rep = await step('rep', { cellsStart: 40, cellsEnd: 32000 });
    expect(rep.values).toMatchObject({ foldExpansion: 800 });
    expect(rep.values.doublings).toBeCloseTo(Math.log2(800), 1);
    expect(rep.results).toEqual({ foldExpansion: 'pass' });
    await step('harvest', { viability: 88.5, cd3: 97.2 });
    await step('release-sterility', { sterility: 'no growth' }, 'qc1');
    const endotoxin = await step('release-endotoxin', { endotoxin: { below: 0.5 } }, 'qc1');
    expect(endotoxin.results).toEqual({ endotoxin: 'pass' });
    expect(b).toMatchObject({ status: 'qa_review', openDeviations: 0 });
  });

  it('is reviewed and released by QA', async () => {
    expect((await call(h, 'qa1', 'POST', `/batches/${b.id}/review`, { comment: 'Reviewed by exception.', signature: sign('qa1') })).status).toBe(201);
    const released = await call(h, 'qa2', 'POST', `/batches/${b.id}/disposition`, { decision: 'release', signature: sign('qa2') });
    expect(released.status, JSON.stringify(released.body)).toBe(201);
    expect((await call(h, 'op1', 'GET', `/batches/${b.id}`)).body.status).toBe('released');
  });

  it('prints its record and certificate of analysis, archival, in its own words in both languages', async () => {
    const en = (await pages('record.pdf', b.id, 'en')).join(' ');
    for (const s of [
      'Tumour-infiltrating lymphocytes, rapid expansion protocol', 'Product type TIL', 'Process (master record) til-rep v1: TIL, rapid expansion', 'FOR AUTOLOGOUS USE ONLY',
      'Tumour site Lymph node', 'Fragments plated 24', 'L-il-2', 'EQ-incubator', 'verified', 'Fold expansion computed: Cells at REP end ÷ Cells at REP start 800 min. 100 PASS',
      'Population doublings computed: log2(Fold expansion) 9.6', 'Cells at REP end 32,000.0 × 10^6', 'Sterility No growth any of: No growth PASS', 'Endotoxin < 0.5 EU/mL less than 5 EU/mL PASS',
      'Released', 'Test QA2 (qa2) · released',
    ]) expect(en, s).toContain(s);
    const vi = (await pages('record.pdf', b.id, 'vi')).join(' ');
    for (const s of ['Tế bào lympho thâm nhiễm khối u, quy trình tăng sinh nhanh', 'Vị trí khối u Hạch bạch huyết', 'Vô khuẩn Không mọc một trong: Không mọc ĐẠT', 'Nội độc tố < 0,5 EU/mL']) expect(vi, s).toContain(s);
    const coa = (await pages('coa.pdf', b.id, 'en')).join(' ');
    for (const s of ['Certificate of analysis', b.batchNumber, 'Sterility: No growth', 'Endotoxin: < 0.5 EU/mL', 'Released']) expect(coa, s).toContain(s);
  });
});
