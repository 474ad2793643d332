// The evidence packet as PDF (GET /batches/{id}/review.pdf): what QA sends an auditor about a batch's
// review by exception, or about one deviation, as an inspector's tools read it — archival PDF/A-3b,
// the packet's JSON attached, the exceptions, the deviation with its investigation and closure, the
// signed review, in English and Vietnamese; read by the roles that read GET /review, audited.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, harness, sign, type Harness } from '../helpers.js';
import type { BatchDriver } from '../server/lifecycle-driver.js';
import { batchInQaReview } from '../server/qa/support.js';
import { expectArchival, pdfFile } from './pdf-tools.js';

let h: Harness;
let d: BatchDriver;
let other: BatchDriver;
let deviationId: string;
const pdfs: ReturnType<typeof pdfFile>[] = [];

const DESCRIPTION = 'Nhiệt độ tủ ấm lệch khi mở cửa: ă ơ ư đ ệ';

async function packetPdf(user: string | null, batchId: string, query = '') {
  const r = await h.app.inject({ method: 'GET', url: `/api/v1/batches/${batchId}/review.pdf${query}`, ...(user && { headers: { authorization: `Bearer ${h.tokens[user]}` } }) });
  return { status: r.statusCode, headers: r.headers, bytes: r.rawPayload, json: () => r.json() };
}

async function opened(query = '', user = 'qa1') {
  const r = await packetPdf(user, d.id, query);
  expect(r.status, r.bytes.toString().slice(0, 300)).toBe(200);
  const f = pdfFile(r.bytes);
  pdfs.push(f);
  return { ...f, bytes: r.bytes };
}

const pagesOf = (text: string) => text.split('\f').filter((p) => p.trim());
const squeeze = (s: string) => s.replace(/\s+/g, ' ');

beforeAll(async () => {
  h = await harness();
  d = await batchInQaReview(h, 'car-t', 1);
  other = await batchInQaReview(h, 'car-t', 2);
  const opened = await call(h, 'op1', 'POST', `/batches/${d.id}/deviations`, { description: DESCRIPTION, severity: 'minor', stepId: 'cryopreservation' });
  expect(opened.status, JSON.stringify(opened.body)).toBe(201);
  deviationId = opened.body.deviation.id;
  const investigated = await call(h, 'qa1', 'POST', `/deviations/${deviationId}/investigation`, {
    rootCause: 'Door opened during loading', productImpact: 'None: within 2 °C for under a minute', otherBatchesImpact: 'None', capaReference: 'CAPA-2026-021', signature: sign('qa1'),
  });
  expect(investigated.status, JSON.stringify(investigated.body)).toBe(201);
  const closed = await call(h, 'qa1', 'POST', `/deviations/${deviationId}/close`, { investigation: 'Door alarm log read.', conclusion: 'No impact on product quality.', signature: sign('qa1') });
  expect(closed.status, JSON.stringify(closed.body)).toBe(200);
  const reviewed = await call(h, 'qa1', 'POST', `/batches/${d.id}/review`, { comment: 'Reviewed by exception.', signature: sign('qa1') });
  expect(reviewed.status, JSON.stringify(reviewed.body)).toBe(201);
}, 180_000);

afterAll(async () => {
  for (const f of pdfs) f.done();
  await h.close();
});

describe('the evidence packet of a batch (PDF/A-3b)', () => {
  it('passes qpdf --check, embeds every font, declares pdfaid part 3 conformance B and is dated from the record', async () => {
    const f = await opened();
    const packet = JSON.parse(f.attachment('review.json').toString());
    const { meta } = expectArchival(f, { date: packet.generatedAt, attachment: 'review.json' });
    expect(meta).toContain(`Evidence packet: review by exception · ${d.batch.batchNumber}`);
  });

  it('attaches the packet GET /batches/{id}/review serves (review.json), as of the record rather than the clock', async () => {
    const f = await opened();
    const attached = JSON.parse(f.attachment('review.json').toString());
    const served = (await call(h, 'qa1', 'GET', `/batches/${d.id}/review`)).body;
    const { generatedAt: _a, format, ...rest } = attached;
    const { generatedAt: _b, ...expected } = served;
    expect(format).toBe('cellbatch.evidence-packet/1');
    expect(rest).toEqual(expected);
    expect(attached.generatedAt <= served.generatedAt).toBe(true);
  });

  it('lists every exception with why it is listed and whether the review covers it, the deviation investigated and closed, and the signed review', async () => {
    const f = await opened();
    const text = squeeze(f.text());
    const served = (await call(h, 'qa1', 'GET', `/batches/${d.id}/review`)).body;
    expect(served.exceptions.length).toBeGreaterThan(2);
    for (const kind of new Set(served.exceptions.map((x: any) => x.kind))) {
      const label = { deviation: 'Deviation', 'pending-result': 'Result pending', 'repeated-verifier-pair': 'Same performer and verifier' }[kind as string];
      if (label) expect(text).toContain(label);
    }
    expect(text).toContain(DESCRIPTION);
    expect(text).toContain('Root cause: Door opened during loading');
    expect(text).toContain('CAPA: CAPA-2026-021');
    expect(text).toContain('No impact on product quality.');
    expect(text).toMatch(/Test QA1 \(qa1\) · reviewed · \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC/);
    expect(text).toMatch(/Test QA1 \(qa1\) · approved/);
    expect(text).toContain('covers every exception drawn from the record');
    expect(text).not.toContain('NOT COVERED');
    const pages = pagesOf(f.text());
    pages.forEach((p, i) => {
      expect(squeeze(p)).toContain(`Batch ${d.batch.batchNumber}`);
      expect(squeeze(p)).toContain(`Page ${i + 1} of ${pages.length}`);
    });
    // A sign the font has no glyph for is written out (a specification ≥ 70 % reads ">= 70 %").
    expect(text).not.toMatch(/[≥≤]/);
  });

  it('in Vietnamese (?lang=vi): the labels and the recorded texts with their diacritics intact', async () => {
    const text = squeeze((await opened('?lang=vi')).text());
    expect(text).toContain('Hồ sơ bằng chứng: xem xét theo ngoại lệ');
    expect(text).toContain('Những điểm QA phải xem xét (ngoại lệ)');
    expect(text).toContain(DESCRIPTION);
    for (const letter of ['ă', 'ơ', 'ư', 'đ', 'ệ']) expect(text).toContain(letter);
    expect(text).toMatch(/Trang 1\/\d+/);
  });

  it('renders twice to identical bytes, each export audited as record.exported with the document and its SHA-256', async () => {
    const a = await packetPdf('qa1', d.id);
    const b = await packetPdf('insp1', d.id);
    expect(b.bytes.equals(a.bytes)).toBe(true);
    const sha = createHash('sha256').update(a.bytes).digest('hex');
    expect(a.headers.etag).toBe(`"${sha}"`);
    expect(a.headers['content-type']).toBe('application/pdf');
    const audit = (await call(h, 'qa1', 'GET', `/audit?batchId=${d.id}&action=record.exported&limit=500`)).body.items;
    expect(audit.slice(-2).map((x: any) => x.after)).toEqual([
      { document: 'review.pdf', lang: 'en', format: 'cellbatch.evidence-packet/1', sha256: sha, bytes: a.bytes.length },
      { document: 'review.pdf', lang: 'en', format: 'cellbatch.evidence-packet/1', sha256: sha, bytes: a.bytes.length },
    ]);
  });
});

describe('the record PDF of the same batch', () => {
  it('prints the deviation with its investigation and closure, each signed, the signed review and the final containers', async () => {
    const r = await h.app.inject({ method: 'GET', url: `/api/v1/batches/${d.id}/record.pdf`, headers: { authorization: `Bearer ${h.tokens.qa1}` } });
    expect(r.statusCode).toBe(200);
    const f = pdfFile(r.rawPayload);
    pdfs.push(f);
    const text = squeeze(f.text());
    const deviations = text.slice(text.indexOf('Deviations'), text.indexOf('QA review and disposition'));
    for (const s of [DESCRIPTION, 'Root cause: Door opened during loading', 'CAPA: CAPA-2026-021', 'Door alarm log read.', 'No impact on product quality.', 'Test QA1 (qa1) · approved']) expect(deviations, s).toContain(s);
    expect(text.slice(text.indexOf('QA review and disposition'))).toMatch(/Reviewed by exception\.[\s\S]*Test QA1 \(qa1\) · reviewed/);
    const containers = (await call(h, 'qa1', 'GET', `/batches/${d.id}/containers`)).body.items;
    expect(containers.length).toBeGreaterThan(0);
    const printed = text.slice(text.indexOf('Containers'));
    for (const c of containers) expect(printed).toContain(c.containerId);
  });
});

describe('the evidence packet of one deviation (?deviation=)', () => {
  it('holds that deviation and the exceptions that point to it, its entry or its step, and says so', async () => {
    const f = await opened(`?deviation=${deviationId}`);
    const text = squeeze(f.text());
    expect(text.replace(/\s/g, '')).toContain(`Evidencepacket:deviation${deviationId}`);
    expect(text).toContain(DESCRIPTION);
    const attached = JSON.parse(f.attachment('review.json').toString());
    expect(attached.scope).toEqual({ deviationId });
    expect(attached.deviations.map((x: any) => x.id)).toEqual([deviationId]);
    expect(attached.exceptions.length).toBeGreaterThan(0);
    for (const x of attached.exceptions) expect(x.target.id === deviationId || x.stepId === 'cryopreservation').toBe(true);
    const audit = (await call(h, 'qa1', 'GET', `/audit?batchId=${d.id}&action=record.exported&limit=500`)).body.items;
    expect(audit.at(-1).after).toMatchObject({ document: 'review.pdf', deviationId, sha256: createHash('sha256').update(f.bytes).digest('hex') });
  });
});

describe('refusals', () => {
  it('is read by qa, inspector and admin (as GET /review): 403 to an operator, a supervisor and a QC analyst, nothing recorded', async () => {
    const rows = (await h.ctx.store.counts()).audit;
    for (const user of ['op1', 'sup1', 'qc1']) {
      const r = await packetPdf(user, d.id);
      expect(r.status).toBe(403);
      expect(r.headers['content-type']).toMatch(/application\/problem\+json/);
    }
    expect((await h.ctx.store.counts()).audit).toBe(rows);
    expect((await packetPdf('admin', d.id)).status).toBe(200);
  });

  it('answers 401 without a session, 404 for an unknown batch or a deviation the batch does not have, 400 with the field for a bad parameter', async () => {
    const foreign = await call(h, 'op1', 'POST', `/batches/${other.id}/deviations`, { description: 'Label smudged', severity: 'minor' });
    expect(foreign.status).toBe(201);
    const rows = (await h.ctx.store.counts()).audit;
    expect((await packetPdf(null, d.id)).status).toBe(401);
    const missing = await packetPdf('qa1', 'no-such-batch');
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toMatch(/application\/problem\+json/);
    expect((await packetPdf('qa1', d.id, '?deviation=no-such-deviation')).status).toBe(404);
    // A deviation of another batch is not this batch's.
    expect((await packetPdf('qa1', d.id, `?deviation=${foreign.body.deviation.id}`)).status).toBe(404);
    // API.md: 404 before 403.
    expect((await packetPdf('op1', d.id, '?deviation=no-such-deviation')).status).toBe(404);
    const lang = await packetPdf('qa1', d.id, '?lang=fr');
    expect(lang.status).toBe(400);
    expect(lang.json().errors[0].field).toMatch(/lang/);
    const unknown = await packetPdf('qa1', d.id, '?batch=1');
    expect(unknown.status).toBe(400);
    const empty = await packetPdf('qa1', d.id, '?deviation=');
    expect(empty.status).toBe(400);
    expect(empty.json().errors[0].field).toMatch(/deviation/);
    expect((await h.ctx.store.counts()).audit).toBe(rows);
  });
});
