// The particulars of a business-rule refusal (409, 422: `detail` and `errors[].message`) in
// Vietnamese when the reader asks for it (Accept-Language: vi), worded by the rule that refuses
// (AppError.inVietnamese) beside its English; English stays the default and the audit row of a refused
// attempt keeps the English. Every 409 and 422 the server throws carries its Vietnamese (the source
// walk below), so a new rule cannot come in English only.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { advance, call, createBatch, din, harness, recordReceipt, registerCatalogue, sign, type Harness } from '../helpers.js';
import { BatchDriver, CART_PLAN, CART_RELEASE_VALUES } from './lifecycle-driver.js';
import { batchInQcTesting } from './qa/support.js';

let h: Harness;
beforeAll(async () => { h = await harness(); });
afterAll(async () => { await h.close(); });

async function ask(user: string, method: 'GET' | 'POST', url: string, payload: unknown, language?: string, on: Harness = h) {
  const res = await on.app.inject({
    method, url: `/api/v1${url}`, payload: payload as object,
    headers: { authorization: `Bearer ${on.tokens[user]}`, ...(language && { 'accept-language': language }) },
  });
  return { status: res.statusCode, body: res.json(), headers: res.headers };
}

/** The same request in English and in Vietnamese: the same status, code and fields; other words. */
async function both(user: string, url: string, payload: unknown, on: Harness = h) {
  const en = await ask(user, 'POST', url, payload, undefined, on);
  const vi = await ask(user, 'POST', url, payload, 'vi', on);
  expect(vi.status).toBe(en.status);
  expect(vi.body.type).toBe(en.body.type);
  expect(vi.body.errors?.map((e: { field: string }) => e.field)).toEqual(en.body.errors?.map((e: { field: string }) => e.field));
  expect(vi.headers['content-language']).toBe('vi');
  return { en: en.body, vi: vi.body };
}

describe('the particulars of a business-rule refusal in Vietnamese', () => {
  it('words a stale version and a step not allowed yet, with the step titles in Vietnamese', async () => {
    const b = await createBatch(h, 'car-t', 71);
    const stale = await both('op1', `/batches/${b.id}/deviations`, { description: 'Label printer jammed', severity: 'minor', expectedVersion: b.version + 3 });
    expect(stale.en.detail).toBe(`the batch is at version ${b.version}, not ${b.version + 3}: reload it and try again`);
    expect(stale.vi.detail).toBe(`Hồ sơ lô đã được người khác cập nhật sau khi bạn mở: hãy tải lại rồi làm lại. (lô đang ở phiên bản ${b.version}, không phải ${b.version + 3})`);

    const early = await both('op1', `/batches/${b.id}/steps/starting-material-sample`, { values: { wbcConcentration: 28.5, viability: 94, cd3Positive: 62 }, signature: sign('op1'), expectedVersion: b.version });
    expect(early.en.detail).toBe('"Starting material sample" is not allowed now: Waiting for "Apheresis receipt" to be recorded.');
    expect(early.vi.detail).toBe('Bước này không ghi được lúc này. (bước «Lấy mẫu nguyên liệu ban đầu» chưa ghi được lúc này: Chờ bước «Tiếp nhận sản phẩm gạn tách» được ghi nhận.)');
  });

  it('words a refused identity scan and a refused lot and instrument, field by field', async () => {
    const b = await createBatch(h, 'car-t', 72);
    const other = din(99);
    const scan = await both('op1', `/batches/${b.id}/steps/apheresis-receipt`, {
      values: { bagScan: other.keyed, collectionEnd: '2026-03-01T20:00:00Z', receivedAt: '2026-03-02T07:00:00Z', transportTemperature: 4, volume: 200 },
      signature: sign('op1'), expectedVersion: b.version,
    });
    expect(scan.en.errors).toEqual([{ field: 'values.bagScan', message: `the scanned DIN ${other.din} does not match this batch's DIN ${b.din}` }]);
    expect(scan.vi.errors).toEqual([{ field: 'values.bagScan', message: `mã DIN quét ${other.din} không khớp với DIN của lô này ${b.din}` }]);
    expect(scan.vi.detail).toBe(`Mã quét không khớp với lô này. (mã DIN quét ${other.din} không khớp với DIN của lô này ${b.din})`);

    // At the selection: a quarantined buffer lot and a cell processor out of calibration (a harness of
    // its own: its catalogue is registered here, not by the QA helpers below).
    const own = await harness();
    try {
      const catalogue = await registerCatalogue(own, 'car-t');
      const d = new BatchDriver(own, await createBatch(own, 'car-t', 73), catalogue);
      await d.run(CART_PLAN, 'cd4-cd8-selection');
      await advance(own, 2);
      const yesterday = new Date(own.ctx.clock.now().getTime() - 86_400_000).toISOString().slice(0, 10);
      const lot = (await call(own, 'sup1', 'POST', '/materials', { type: 'buffer', name: 'CliniMACS buffer', lotNumber: 'BUF-Q-71', expiresOn: '2030-01-01' })).body;
      const eq = (await call(own, 'sup1', 'POST', '/equipment', { assetId: 'PRODIGY-71', type: 'cell-processor', name: 'CliniMACS Prodigy', calibrationDueOn: yesterday })).body;
      const refused = await both('op1', `/batches/${d.id}/steps/cd4-cd8-selection`, {
        values: { cellProcessor: eq.id, cd4BeadsLot: catalogue.lots['cd4-microbeads'], cd8BeadsLot: catalogue.lots['cd8-microbeads'], bufferLot: lot.id, viableCellsSelected: 420, viability: 96, cd3Purity: 97.5 },
        signature: sign('op1'), expectedVersion: d.batch.version,
      }, own);
      expect(refused.en.errors).toEqual([
        { field: 'values.cellProcessor', message: `equipment PRODIGY-71 (CliniMACS Prodigy) is out of calibration since ${yesterday}` },
        { field: 'values.bufferLot', message: 'lot BUF-Q-71 (CliniMACS buffer) is quarantined, not released for use' },
      ]);
      expect(refused.vi.errors).toEqual([
        { field: 'values.cellProcessor', message: `thiết bị PRODIGY-71 (CliniMACS Prodigy) đã quá hạn hiệu chuẩn từ ngày ${yesterday}` },
        { field: 'values.bufferLot', message: 'lô vật tư BUF-Q-71 (CliniMACS buffer) đang biệt trữ, chưa được phê duyệt để sử dụng' },
      ]);
      // Each refused attempt is audited once, in English.
      const audited = (await ask('admin', 'GET', `/batches/${d.id}/audit?limit=200`, undefined, undefined, own)).body.items.filter((a: { action: string }) => a.action === 'step.refused');
      expect(audited).toHaveLength(2);
      expect(JSON.stringify(audited)).toContain('out of calibration since');
      expect(JSON.stringify(audited)).not.toContain('hiệu chuẩn');
    } finally {
      await own.close();
    }
  });

  it('words what keeps a review and a release back: the open deviation, the unsigned review', async () => {
    const d = await batchInQcTesting(h, 'car-t', 74);
    for (const [stepId, values] of Object.entries(CART_RELEASE_VALUES)) expect((await d.record(stepId, values, 'qc1')).status).toBe(201);
    await d.refresh();
    expect((await call(h, 'op1', 'POST', `/batches/${d.id}/deviations`, { description: 'Incubator door found ajar', severity: 'minor', expectedVersion: d.batch.version })).status).toBe(201);
    await d.refresh();
    const deviation = (await call(h, 'qa1', 'GET', `/batches/${d.id}/deviations`)).body.items[0];
    const review = await both('qa1', `/batches/${d.id}/review`, { signature: sign('qa1') });
    expect(review.en.errors).toEqual([{ field: `deviations.${deviation.id}`, message: 'manual deviation (minor, open): Incubator door found ajar' }]);
    expect(review.vi.errors).toEqual([{ field: `deviations.${deviation.id}`, message: 'sai lệch báo cáo thủ công (nhẹ, đang mở): Incubator door found ajar' }]);
    expect(review.vi.detail).toBe(`Còn sai lệch chưa đóng. (1 sai lệch của lô ${d.batch.batchNumber} vẫn còn mở; hãy đóng chúng trước khi xem xét)`);

    const release = await both('qa2', `/batches/${d.id}/disposition`, { decision: 'release', signature: sign('qa2') });
    expect(release.en.detail).toMatch(/^batch .* cannot be released: manual deviation \(minor, open\) is open: Incubator door found ajar; the review of the record and its audit trail is not signed$/);
    expect(release.vi.errors.map((e: { message: string }) => e.message)).toEqual([
      'sai lệch báo cáo thủ công (nhẹ, đang mở) còn mở: Incubator door found ajar',
      'việc xem xét hồ sơ và nhật ký kiểm tra chưa được ký',
    ]);

    // A closed deviation cannot be closed again: said in Vietnamese too.
    const close = { investigation: 'Door alarm log checked', conclusion: 'No impact', signature: sign('qa1') };
    expect((await call(h, 'qa1', 'POST', `/deviations/${deviation.id}/close`, { ...close, expectedVersion: d.batch.version })).status).toBe(200);
    const again = await both('qa1', `/deviations/${deviation.id}/close`, close);
    expect(again.vi.detail).toBe(`Sai lệch đã đóng: không thay đổi được. (sai lệch ${deviation.id} đã đóng)`);
  });

  it('words a late entry without its reason, and a verification not needed', async () => {
    const b = await createBatch(h, 'car-t', 75);
    const { batch } = await recordReceipt(h, b, 75);
    const receipt = batch.entries.find((e: { stepId?: string }) => e.stepId === 'apheresis-receipt');
    const verify = await both('op2', `/batches/${b.id}/entries/${receipt.id}/verify`, { signature: sign('op2') });
    expect(verify.vi.detail).toBe('Bước này không cần người thứ hai xác nhận. (bước «Tiếp nhận sản phẩm gạn tách» không cần người thứ hai xác nhận)');
    await advance(h, 3);
    const performedAt = new Date(h.ctx.clock.now().getTime() - 2 * 3_600_000).toISOString();
    const late = await both('op1', `/batches/${b.id}/steps/starting-material-sample`, {
      values: { wbcConcentration: 28.5, viability: 94, cd3Positive: 62 }, performedAt, signature: sign('op1'), expectedVersion: batch.version,
    });
    expect(late.en.type).toMatch(/late-entry-reason-required$/);
    expect(late.vi.detail).toMatch(/^Bản ghi muộn hơn mức cho phép .*\(bước «Lấy mẫu nguyên liệu ban đầu» được ghi 120 phút sau khi thực hiện, quá \d+ phút cho phép: bản ghi muộn cần có lý do\)$/);
    expect(late.vi.errors).toEqual([{ field: 'lateReason', message: expect.stringMatching(/^bản ghi muộn \(hơn \d+ phút sau performedAt\) cần có lý do$/) }]);
  });
});

/** The statement that starts at `from`: up to its `;`, strings and template literals skipped whole. */
function statementAt(text: string, from: number): string {
  let depth = 0;
  let i = from;
  const skipString = (quote: string) => {
    for (i++; i < text.length && text[i] !== quote; i++) {
      if (text[i] === '\\') i++;
      else if (quote === '`' && text[i] === '$' && text[i + 1] === '{') {
        i += 2;
        let inner = 1;
        for (; i < text.length && inner > 0; i++) {
          if (text[i] === '`' || text[i] === "'" || text[i] === '"') skipString(text[i]);
          else if (text[i] === '{') inner++;
          else if (text[i] === '}') inner--;
        }
        i--;
      }
    }
  };
  for (; i < text.length; i++) {
    const c = text[i];
    if (c === '`' || c === "'" || c === '"') skipString(c);
    else if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) depth--;
    else if (c === ';' && depth <= 0) break;
  }
  return text.slice(from, i + 1);
}

describe('every 409 and 422 the server throws', () => {
  it('carries its particulars in Vietnamese', () => {
    const bare: string[] = [];
    let seen = 0;
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, e.name);
        if (e.isDirectory()) walk(file);
        else if (file.endsWith('.ts') && !file.endsWith('errors.ts')) {
          const text = fs.readFileSync(file, 'utf8');
          for (const m of text.matchAll(/\b(?:conflict|refused)\(\s*(?:'([a-z-]+)'|\w+ \? '([a-z-]+)')/g)) {
            seen++;
            if (!statementAt(text, m.index).includes('.inVietnamese(')) bare.push(`${path.relative(process.cwd(), file)}: ${m[1] ?? m[2]}`);
          }
        }
      }
    };
    walk(path.resolve(import.meta.dirname, '../../server'));
    expect(seen).toBeGreaterThan(30);
    expect(bare).toEqual([]);
  });
});
