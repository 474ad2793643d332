// The executed batch record (GET /batches/{id}/record.pdf) as an inspector's tools read it: archival
// PDF/A-3b, the JSON record attached, every step, value and signature in its text, the same bytes for
// the same record, and a cover that says when the record no longer verifies (regulations.md R3, C1–C6,
// S1, P1–P5).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createBatch, harness, PASSWORD, registerCatalogue, type Harness } from '../helpers.js';
import { owner } from '../owner.js';
import { BatchDriver, CART_PLAN, CART_RELEASE_VALUES } from '../server/lifecycle-driver.js';
import { expectArchival, pdfFile } from './pdf-tools.js';
import { forgetLayouts } from '../../reports/archival.js';

let h: Harness;
let d: BatchDriver;
const pdfs: ReturnType<typeof pdfFile>[] = [];

async function recordPdf(user: string, batchId: string, query = '') {
  const r = await h.app.inject({ method: 'GET', url: `/api/v1/batches/${batchId}/record.pdf${query}`, headers: { authorization: `Bearer ${h.tokens[user]}` } });
  return { status: r.statusCode, headers: r.headers, bytes: r.rawPayload, json: () => r.json() };
}

async function opened(query = '') {
  const r = await recordPdf('qa1', d.id, query);
  expect(r.status).toBe(200);
  const f = pdfFile(r.bytes);
  pdfs.push(f);
  return { ...f, bytes: r.bytes };
}

/** The pages of the text, split at form feeds. */
const pagesOf = (text: string) => text.split('\f').filter((p) => p.trim());
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-/;
const squeeze = (s: string) => s.replace(/\s+/g, ' ');

beforeAll(async () => {
  h = await harness();
  d = new BatchDriver(h, await createBatch(h, 'car-t', 1), await registerCatalogue(h, 'car-t'));
  await d.run(CART_PLAN);
  const sample = d.entriesOf('starting-material-sample')[0];
  const correction = await d.correct(sample.id, { viability: 93 }, 'Transcription error: the counter read 93 %');
  expect(correction.status).toBe(201);
  // The corrected step needs its second person again before the batch can be released (P5 releases it).
  expect((await d.verify(correction.body.entry.id, 'op2')).status).toBe(201);
  for (const [stepId, values] of Object.entries(CART_RELEASE_VALUES)) expect((await d.record(stepId, values, 'qc1')).status).toBe(201);
}, 120_000);

afterAll(async () => {
  for (const f of pdfs) f.done();
  await h.close();
});

describe('P1: an archival PDF (PDF/A-3b)', () => {
  it('is PDF/A-3b: PDF 1.7, qpdf --check passes, unencrypted, no JavaScript, every font embedded, pdfaid part 3 conformance B in an XMP that agrees with the document information, dated from the record', async () => {
    const f = await opened();
    const exported = (await call(h, 'qa1', 'GET', `/batches/${d.id}/export`)).body;
    // The document's date is the record's latest time, in the information dictionary and the XMP alike.
    const { info, meta } = expectArchival(f, { date: exported.asOf, attachment: 'record.json' });
    const title = /Title:\s+(.+)/.exec(info)![1].trim();
    expect(title).toBe(`Executed batch record ${d.batch.batchNumber}`);
    expect(meta).toContain(`<rdf:li xml:lang="x-default">${title}</rdf:li>`);
  });

  it('P2: attaches the JSON record (record.json), byte for byte what GET /export serves', async () => {
    const f = await opened();
    const exported = await h.app.inject({ method: 'GET', url: `/api/v1/batches/${d.id}/export`, headers: { authorization: `Bearer ${h.tokens.inspector ?? h.tokens.insp1}` } });
    expect(exported.statusCode).toBe(200);
    expect(f.attachment('record.json').equals(exported.rawPayload)).toBe(true);
  });
});

describe('R3, C1–C6, S1: what the record says', () => {
  it('holds every step title, every recorded value, and each signature with printed name, meaning and zoned time', async () => {
    const f = await opened();
    const text = squeeze(f.text());
    const def = (await call(h, 'qa1', 'GET', '/processes/car-t')).body;
    for (const step of def.phases.flatMap((p: any) => p.steps)) {
      if (step.id === 'release-sterility') continue; // may follow release: not recorded here
      expect(text, step.id).toContain(step.title.en);
    }
    const batch = await d.refresh();
    for (const e of batch.entries.filter((x: any) => x.kind === 'step')) {
      for (const [name, v] of Object.entries(e.values as Record<string, unknown>)) {
        if (typeof v === 'number') expect(text, `${e.stepId}.${name}`).toMatch(new RegExp(`(^|[^\\d.])${String(v).replace('.', '\\.')}(\\.0+)?([^\\d]|$)`));
        if (typeof v === 'string' && !/^\d{4}-/.test(v) && !UUID.test(v)) expect(text, `${e.stepId}.${name}`).toContain(v);
      }
    }
    expect(text).toMatch(/Test OP1 \(op1\) · performed · 2026-03-02 08:00:00 UTC/);
    expect(text).toMatch(/Test OP2 \(op2\) · verified · \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC/);
    expect(text).toMatch(/Test QC1 \(qc1\) · performed · \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC/);
  });

  it('C1, C5, C6, P3: the cover names product, process, DIN with check character and chain of identity; every page carries the batch number, DIN, process, "Page X of N" and the record time', async () => {
    const f = await opened();
    const b = d.batch;
    const pages = pagesOf(f.text());
    const cover = squeeze(pages[0]);
    for (const s of ['CAR-T', `car-t v${b.processVersion}`, b.processHash, b.batchNumber, `${b.din} ${b.dinCheck}`, b.chainOfIdentityId, b.patient.id, 'FOR AUTOLOGOUS USE ONLY', 'TRAINING RECORD', 'QA review', 'VERIFIED INTACT']) {
      expect(cover, s).toContain(s);
    }
    expect(pages.length).toBeGreaterThan(3);
    pages.forEach((page, i) => {
      const p = squeeze(page);
      expect(p, `page ${i + 1}`).toContain(`Page ${i + 1} of ${pages.length}`);
      expect(p).toContain(`Batch ${b.batchNumber} · DIN ${b.din}${b.dinCheck} · car-t v${b.processVersion}`);
      expect(p).toMatch(/Generated from the record as of \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC/);
      expect(p).toContain('FOR AUTOLOGOUS USE ONLY');
    });
  });

  it('P4: a correction shows the old value and the new one, who corrected it, when and why', async () => {
    const f = await opened();
    const text = squeeze(f.text());
    expect(text).toMatch(/Viability 94\.0 % 93\.0 % min\. 70 % PASS/);
    expect(text).toMatch(/Correction \(entry \d+\) of entry 3/);
    expect(text).toContain('Corrected to Viability: 93.0 %');
    expect(text).toContain('Reason Transcription error: the counter read 93 %');
    expect(text).toMatch(/Signed Test OP1 \(op1\) · performed · \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC/);
  });

  it('lists the release results as a certificate of analysis and the audit trail as an appendix', async () => {
    const text = squeeze((await opened()).text());
    expect(text).toContain('Release results (certificate of analysis)');
    expect(text).toMatch(/Endotoxin .*0\.12/);
    expect(text).toContain('Audit trail of the batch');
    expect(text).toContain('step.recorded');
    expect(text).toContain('entry.corrected');
  });

  it('in Vietnamese (?lang=vi): labels, definition texts and numbers of the language, diacritics intact', async () => {
    const f = await opened('?lang=vi');
    const pages = pagesOf(f.text());
    const text = squeeze(f.text());
    for (const s of ['Hồ sơ lô đã thực hiện', 'Tiếp nhận sản phẩm gạn tách', 'Lấy mẫu nguyên liệu ban đầu', 'Chờ QA xem xét', 'Tính toàn vẹn của hồ sơ', 'ĐÃ XÁC MINH NGUYÊN VẸN', 'Mục ghi', 'Quyết định xuất xưởng', 'thực hiện', 'xác minh']) {
      expect(text, s).toContain(s);
    }
    expect(text).toMatch(/Khả năng sống 94,0 % 93,0 % tối thiểu 70 % ĐẠT/);
    expect(squeeze(pages[0])).toContain(`Trang 1/${pages.length}`);
    expect(f.meta()).toMatch(/<pdfaid:part>3<\/pdfaid:part>/);
  });
});

describe('P5: the same record gives the same bytes, and every export is audited', () => {
  it('renders twice to identical bytes, each export audited with the SHA-256 of what was served', async () => {
    const { createHash } = await import('node:crypto');
    const a = await recordPdf('qa1', d.id);
    const b = await recordPdf('insp1', d.id);
    expect(a.status).toBe(200);
    expect(b.bytes.equals(a.bytes)).toBe(true);
    const sha = createHash('sha256').update(a.bytes).digest('hex');
    expect(a.headers.etag).toBe(`"${sha}"`);
    const audit = (await call(h, 'qa1', 'GET', `/audit?batchId=${d.id}&action=record.exported&limit=500`)).body.items;
    const last2 = audit.slice(-2);
    expect(last2.map((x: any) => x.after.sha256)).toEqual([sha, sha]);
    expect(last2.map((x: any) => x.after.document)).toEqual(['record.pdf', 'record.pdf']);
    expect(last2.map((x: any) => x.userId)).toEqual([(await h.ctx.store.findUserByUsername('qa1'))!.id, (await h.ctx.store.findUserByUsername('insp1'))!.id]);
  });

  it('gives the same bytes whether or not earlier documents laid its words out (the shared word cache)', async () => {
    const warm = await recordPdf('qa1', d.id, '?lang=vi');
    forgetLayouts();
    const cold = await recordPdf('qa1', d.id, '?lang=vi');
    expect(cold.status).toBe(200);
    expect(cold.bytes.equals(warm.bytes)).toBe(true);
  });

  it('renders anew once the record changes', async () => {
    const before = await recordPdf('qa1', d.id);
    expect((await d.record('release-sterility', { sterility: 'no growth' }, 'qc1')).status).toBe(201);
    const after = await recordPdf('qa1', d.id);
    expect(after.bytes.equals(before.bytes)).toBe(false);
    expect(squeeze(pdfFile(after.bytes).text())).toContain('Sterility');
  });
});

describe('refusals', () => {
  it('is read by qa, inspector and admin only: 403 to an operator, a supervisor and a QC analyst, and nothing recorded', async () => {
    const rows = (await h.ctx.store.counts()).audit;
    for (const user of ['op1', 'sup1', 'qc1']) {
      const r = await recordPdf(user, d.id);
      expect(r.status).toBe(403);
      expect(r.headers['content-type']).toMatch(/application\/problem\+json/);
      expect((await call(h, user, 'GET', `/batches/${d.id}/export`)).status).toBe(403);
    }
    expect((await h.ctx.store.counts()).audit).toBe(rows);
    expect((await recordPdf('admin', d.id)).status).toBe(200);
  });

  it('answers 401 without a session, 404 for an unknown batch, 400 for an unknown language', async () => {
    expect((await h.app.inject({ method: 'GET', url: `/api/v1/batches/${d.id}/record.pdf` })).statusCode).toBe(401);
    const missing = await recordPdf('qa1', 'no-such-batch');
    expect(missing.status).toBe(404);
    const lang = await recordPdf('qa1', d.id, '?lang=fr');
    expect(lang.status).toBe(400);
    expect(lang.json().errors[0].field).toMatch(/lang/);
  });
});

describe('R1: a record altered in the database', () => {
  it('says on its cover that verification failed', async () => {
    const db = owner(h.location);
    const seq = d.entriesOf('apheresis-receipt')[0].seq;
    const edit = (payload: string) => db.behindTriggers('entries', (o) => o.run('update entries set payload = ? where batch_id = ? and batch_seq = ?', payload, d.id, seq));
    const original = (await db.value<string>('select payload from entries where batch_id = ? and batch_seq = ?', d.id, seq))!;
    const payload = JSON.parse(original);
    payload.values.transportTemperature = 8;
    await edit(JSON.stringify(payload));
    const cover = squeeze(pagesOf((await opened()).text())[0]);
    expect(cover).toContain('VERIFICATION FAILED');
    expect(cover).not.toContain('VERIFIED INTACT');
    await edit(original); // put back: the tests after this one work on an intact record
    expect(squeeze(pagesOf((await opened()).text())[0])).toContain('VERIFIED INTACT');
  });
});

describe('the certificate of analysis (GET /batches/{id}/coa.pdf)', () => {
  it('is an archival PDF of the release results, read by every role that reads the batch, audited with its SHA-256, the same bytes when read again', async () => {
    const { createHash } = await import('node:crypto');
    const { asOf } = (await call(h, 'qa1', 'GET', `/batches/${d.id}/export`)).body;
    const r = await h.app.inject({ method: 'GET', url: `/api/v1/batches/${d.id}/coa.pdf`, headers: { authorization: `Bearer ${h.tokens.op1}` } });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('application/pdf');
    const f = pdfFile(r.rawPayload);
    pdfs.push(f);
    expectArchival(f, { date: asOf });
    const text = squeeze(f.text());
    for (const s of ['Certificate of analysis', d.batch.batchNumber, `${d.batch.din} ${d.batch.dinCheck}`, 'FOR AUTOLOGOUS USE ONLY', 'Endotoxin: 0.12 EU/mL', 'Mycoplasma: absent', 'Page 1 of']) expect(text, s).toContain(s);
    const rows = (await call(h, 'qa1', 'GET', `/audit?batchId=${d.id}&action=record.exported&limit=500`)).body.items;
    expect(rows[rows.length - 1].after).toMatchObject({ document: 'coa.pdf', lang: 'en', sha256: createHash('sha256').update(r.rawPayload).digest('hex') });
    // Dated by the record, never the clock: read again by another role, the same bytes (its export rows left out).
    h.tick(60_000);
    const again = await h.app.inject({ method: 'GET', url: `/api/v1/batches/${d.id}/coa.pdf`, headers: { authorization: `Bearer ${h.tokens.qa1}` } });
    expect(again.rawPayload.equals(r.rawPayload)).toBe(true);
    const vi = await h.app.inject({ method: 'GET', url: `/api/v1/batches/${d.id}/coa.pdf?lang=vi`, headers: { authorization: `Bearer ${h.tokens.qc1}` } });
    const viFile = pdfFile(vi.rawPayload);
    pdfs.push(viFile);
    expect(squeeze(viFile.text())).toContain('Phiếu kiểm nghiệm');
  });
});

describe('P5: frozen at disposition', () => {
  it('renders and stores the PDF in both languages when QA disposes of the batch, and serves those bytes afterwards, whatever happens to the record', async () => {
    const { createHash } = await import('node:crypto');
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect((await call(h, 'qa1', 'POST', `/batches/${d.id}/review`, { comment: 'Reviewed by exception.', signature: { username: 'qa1', password: PASSWORD } })).status).toBe(201);
    const released = await call(h, 'qa2', 'POST', `/batches/${d.id}/disposition`, { decision: 'release', signature: { username: 'qa2', password: PASSWORD } });
    expect(released.status, JSON.stringify(released.body)).toBe(201);
    const frozen = (await call(h, 'qa1', 'GET', `/audit?batchId=${d.id}&action=record.frozen`)).body.items;
    expect(frozen.map((a: any) => a.after.lang)).toEqual(['en', 'vi']);

    const first = await recordPdf('qa1', d.id);
    expect(sha(first.bytes)).toBe(frozen[0].after.sha256);
    const text = squeeze(pdfFile(first.bytes).text());
    expect(text).toMatch(/Disposition Released/);
    expect(text).toMatch(/Test QA2 \(qa2\) · released · \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC/);
    expect(text).toMatch(/Test QA1 \(qa1\) · reviewed · /);
    const vi = await recordPdf('insp1', d.id, '?lang=vi');
    expect(sha(vi.bytes)).toBe(frozen[1].after.sha256);

    // The record moves on (a refused attempt on the batch is audited): the JSON export follows it, the PDF does not.
    const exportBefore = (await h.app.inject({ method: 'GET', url: `/api/v1/batches/${d.id}/export`, headers: { authorization: `Bearer ${h.tokens.qa1}` } })).rawPayload;
    expect(pdfFile(first.bytes).attachment('record.json').equals(exportBefore)).toBe(true);
    expect((await call(h, 'op1', 'POST', `/batches/${d.id}/steps/culture-check`, { values: {}, signature: { username: 'op1', password: PASSWORD }, expectedVersion: 0 })).status).toBe(409);
    const exportAfter = (await h.app.inject({ method: 'GET', url: `/api/v1/batches/${d.id}/export`, headers: { authorization: `Bearer ${h.tokens.qa1}` } })).rawPayload;
    expect(exportAfter.equals(exportBefore)).toBe(false);
    const later = await recordPdf('admin', d.id);
    expect(later.bytes.equals(first.bytes)).toBe(true);
    // The frozen row cannot be changed in the database.
    await expect(owner(h.location).run('update record_pdfs set sha256 = ? where batch_id = ?', '0', d.id)).rejects.toThrow(/append-only/);
    await expect(owner(h.location).run('delete from record_pdfs where batch_id = ?', d.id)).rejects.toThrow(/append-only/);
  });
});
