// The periodic review as PDF (GET /reports/periodic-review.pdf; EU GMP Annex 11 §11, 21 CFR
// 211.180(e)) as an inspector's tools read it: archival PDF/A-3b with its data attached; batches by
// product and process version, deviations by class and root cause, out-of-specification results,
// what stayed open with its CAPA reference, lockouts, verification; in English and Vietnamese; read by
// qa, inspector and admin; every parameter checked (400 with its field); each export audited.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, harness, PASSWORD, sign, type Harness } from '../helpers.js';
import type { BatchDriver } from '../server/lifecycle-driver.js';
import { batchInQaReview, dispose } from '../server/qa/support.js';
import { expectArchival, pdfFile } from './pdf-tools.js';

let h: Harness;
let released: BatchDriver;
let failing: BatchDriver;
let oosId: string;
const pdfs: ReturnType<typeof pdfFile>[] = [];
const YEAR = '?from=2026-01-01T00:00:00Z&to=2026-12-31T23:59:59Z';

async function reviewPdf(user: string | null, query = YEAR) {
  const r = await h.app.inject({ method: 'GET', url: `/api/v1/reports/periodic-review.pdf${query}`, ...(user && { headers: { authorization: `Bearer ${h.tokens[user]}` } }) });
  return { status: r.statusCode, headers: r.headers, bytes: r.rawPayload, json: () => r.json() };
}

async function opened(query = YEAR, user = 'qa1') {
  const r = await reviewPdf(user, query);
  expect(r.status, r.bytes.toString().slice(0, 300)).toBe(200);
  const f = pdfFile(r.bytes);
  pdfs.push(f);
  return { ...f, bytes: r.bytes, data: () => JSON.parse(f.attachment('periodic-review.json').toString()) };
}

const squeeze = (s: string) => s.replace(/\s+/g, ' ');

beforeAll(async () => {
  h = await harness();
  released = await batchInQaReview(h, 'car-t', 1);
  expect((await call(h, 'qa1', 'POST', `/batches/${released.id}/review`, { comment: 'Reviewed.', signature: sign('qa1') })).status).toBe(201);
  expect((await dispose(h, released.id, { decision: 'release' }, 'qa2')).status).toBe(201);
  // Viability below its specification: a deviation opened by the record, investigated, left open.
  failing = await batchInQaReview(h, 'car-t', 2, { 'release-viability': { viability: 55 } });
  const devs = (await call(h, 'qa1', 'GET', `/batches/${failing.id}/deviations`)).body.items;
  oosId = devs.find((x: any) => x.kind === 'oos').id;
  const investigated = await call(h, 'qa1', 'POST', `/deviations/${oosId}/investigation`, {
    rootCause: 'Thawing delay at the bench', productImpact: 'Viability below specification', otherBatchesImpact: 'None', capaReference: 'CAPA-2026-031', signature: sign('qa1'),
  });
  expect(investigated.status, JSON.stringify(investigated.body)).toBe(201);
  // Five wrong passwords lock sup2 (21 CFR 11.300(d)); the administrator unlocks with a reason.
  for (let i = 0; i < 5; i++) await call(h, null, 'POST', '/auth/login', { username: 'sup2', password: `${PASSWORD}x` });
  const sup2 = (await h.ctx.store.findUserByUsername('sup2'))!.id;
  expect((await h.ctx.store.findUserById(sup2))!.locked).toBe(true);
}, 240_000);

afterAll(async () => {
  for (const f of pdfs) f.done();
  await h.close();
});

describe('the periodic review (PDF/A-3b)', () => {
  it('passes qpdf --check, embeds every font, declares pdfaid part 3 conformance B, attaches its data', async () => {
    const f = await opened();
    const data = f.data();
    expect(data).toMatchObject({ format: 'cellbatch.periodic-review/2', period: { from: '2026-01-01T00:00:00.000Z', to: '2026-12-31T23:59:59.000Z' } });
    expectArchival(f, { date: data.asOf, attachment: 'periodic-review.json' });
  });

  it('counts the batches started, released and rejected by product and process version, and lists each event', async () => {
    const f = await opened();
    const v = released.batch.processVersion;
    expect(failing.batch.processVersion).toBe(v);
    expect(f.data().batches.byProduct).toEqual([
      { productType: 'CAR-T', processId: 'car-t', processVersion: v, started: 2, released: 1, releasedExceptionally: 0, rejected: 0, terminated: 0, training: 2 },
    ]);
    const text = squeeze(f.text());
    expect(text).toContain('Batches by product and process version');
    expect(text).toContain(`CAR-T car-t v${v} 2 of which training: 2 1 0 0 0`);
    expect(text).toContain(`${released.batch.batchNumber} CAR-T car-t v${v} released · conditional`);
    expect(text).toContain(`${failing.batch.batchNumber} CAR-T car-t v${v} started`);
  });

  it('lists the deviations by class and root cause, the result out of specification, and what stayed open with its CAPA reference', async () => {
    const f = await opened();
    const data = f.data();
    expect(data.deviations.byClass).toEqual(expect.arrayContaining([expect.objectContaining({ key: expect.stringMatching(/^oos · /), count: 1 })]));
    expect(data.deviations.byRootCause).toEqual(expect.arrayContaining([{ key: 'Thawing delay at the bench', count: 1 }]));
    expect(data.outOfSpecification).toEqual([expect.objectContaining({ batchNumber: failing.batch.batchNumber, stepId: 'release-viability' })]);
    expect(data.openAtEnd).toEqual([expect.objectContaining({ id: oosId, statusNow: 'investigating', capaReference: 'CAPA-2026-031' })]);
    const text = squeeze(f.text());
    expect(text).toContain('Thawing delay at the bench');
    expect(text).toContain('CAPA-2026-031');
    expect(text).toContain('Results out of specification');
    expect(text).toMatch(/Viability 55 %/);
    expect(text).not.toMatch(/[≥≤]/);
  });

  it('lists the lockout and the failed logins, and how the record verified', async () => {
    const f = await opened();
    const data = f.data();
    const sup2 = (await h.ctx.store.findUserByUsername('sup2'))!.id;
    expect(data.accounts.lockouts).toEqual([expect.objectContaining({ action: 'account.locked', userId: sup2 })]);
    expect(data.accounts.failedLogins).toEqual([{ username: 'sup2', fullName: 'Test SUP2', count: 5 }]);
    expect(data.verification.batches).toEqual(expect.arrayContaining([{ batchNumber: released.batch.batchNumber, intact: true }]));
    const text = squeeze(f.text());
    expect(text).toContain('Test SUP2 (sup2) account.locked');
    expect(text).toContain('Verification of the record');
    const pages = f.text().split('\f').filter((p) => p.trim());
    pages.forEach((p, i) => expect(squeeze(p)).toContain(`Page ${i + 1} of ${pages.length}`));
  });

  it('in Vietnamese (?lang=vi): the labels with their diacritics read back exactly', async () => {
    const text = squeeze((await opened(`${YEAR}&lang=vi`)).text());
    for (const words of ['Xem xét định kỳ', 'Các lô theo sản phẩm và phiên bản quy trình', 'Kết quả ngoài tiêu chuẩn', 'Xác minh hồ sơ', 'Đăng nhập thất bại']) expect(text).toContain(words);
    for (const letter of ['ă', 'ơ', 'ư', 'đ', 'ệ']) expect(text).toContain(letter);
  });

  it('is audited: report.exported with the period, the document and its SHA-256', async () => {
    const r = await reviewPdf('insp1');
    expect(r.status).toBe(200);
    const sha = createHash('sha256').update(r.bytes).digest('hex');
    expect(r.headers.etag).toBe(`"${sha}"`);
    const rows = (await call(h, 'qa1', 'GET', '/audit?action=report.exported&limit=500')).body.items;
    expect(rows.at(-1)).toMatchObject({
      userId: (await h.ctx.store.findUserByUsername('insp1'))!.id, entity: 'report',
      after: { document: 'periodic-review.pdf', period: { from: '2026-01-01T00:00:00.000Z', to: '2026-12-31T23:59:59.000Z' }, lang: 'en', sha256: sha, bytes: r.bytes.length },
    });
  });

  it('an empty period says so in every section', async () => {
    const f = await opened('?from=2025-01-01T00:00:00Z&to=2025-06-30T00:00:00Z');
    const data = f.data();
    expect(data.batches.byProduct).toEqual([]);
    expect(data.deviations.opened).toEqual([]);
    expect(squeeze(f.text())).toContain('None in the period.');
  });

  it('is dated by the newest row it covers, never by the clock: the same record gives the same bytes, whoever reads it and however often (its own exports left out)', async () => {
    const a = await reviewPdf('qa1');
    h.tick(60_000);
    const b = await reviewPdf('insp1');
    expect(b.status).toBe(200);
    expect(b.bytes.equals(a.bytes)).toBe(true);
    const data = (await opened()).data();
    let newest = '';
    for await (const row of h.ctx.store.iterateAudit({ from: data.period.from, to: data.period.to })) if (!row.action.endsWith('.exported') && row.at > newest) newest = row.at;
    expect(data.asOf).toBe([newest, data.verification.checkpoints.last ?? ''].sort().at(-1));
    expect(data.asOf < h.ctx.clock.now().toISOString()).toBe(true);
    expect(squeeze((await opened()).text())).toContain(`Generated from the record as of ${data.asOf.slice(0, 10)}`);
  });

  it('renders a closed period to the same bytes after later acts; a period that takes them in moves its date to them', async () => {
    const year = (await opened()).data();
    const closed = `?from=2026-01-01T00:00:00Z&to=${year.asOf}`;
    const before = await reviewPdf('qa1', closed);
    expect(before.status).toBe(200);
    h.tick(60_000);
    // A later act: a wrong password, audited (login.failed) after the closed period's end.
    expect((await call(h, null, 'POST', '/auth/login', { username: 'op1', password: `${PASSWORD}x` })).status).toBe(401);
    const after = await reviewPdf('qa1', closed);
    expect(after.bytes.equals(before.bytes)).toBe(true);
    const moved = (await opened()).data();
    expect(moved.asOf > year.asOf).toBe(true);
    expect(moved.accounts.failedLogins).toEqual(expect.arrayContaining([{ username: 'op1', fullName: 'Test OP1', count: 1 }]));
  });
});

describe('refusals', () => {
  it('is read by qa, inspector and admin: 403 to the other roles, 401 without a session, nothing recorded', async () => {
    const rows = (await h.ctx.store.counts()).audit;
    expect((await reviewPdf(null)).status).toBe(401);
    for (const user of ['op1', 'sup1', 'qc1']) {
      const r = await reviewPdf(user);
      expect(r.status).toBe(403);
      expect(r.headers['content-type']).toMatch(/application\/problem\+json/);
    }
    expect((await h.ctx.store.counts()).audit).toBe(rows);
    expect((await reviewPdf('admin')).status).toBe(200);
  });

  it('refuses a missing, malformed, reversed, too long or unknown parameter with 400 and its field, writing nothing', async () => {
    const rows = (await h.ctx.store.counts()).audit;
    const cases: [string, string][] = [
      ['?to=2026-12-31T00:00:00Z', 'from'],
      ['?from=2026-01-01T00:00:00Z', 'to'],
      ['?from=yesterday&to=2026-12-31T00:00:00Z', 'from'],
      ['?from=2026-12-31T00:00:00Z&to=2026-01-01T00:00:00Z', 'to'],
      ['?from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z', 'to'],
      [`${YEAR}&lang=fr`, 'lang'],
    ];
    for (const [query, field] of cases) {
      const r = await reviewPdf('qa1', query);
      expect(r.status, query).toBe(400);
      expect(r.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(r.json().errors.map((e: any) => e.field), query).toContain(`querystring.${field}`);
    }
    expect((await reviewPdf('qa1', `${YEAR}&batch=1`)).status).toBe(400);
    expect((await h.ctx.store.counts()).audit).toBe(rows);
  });
});
