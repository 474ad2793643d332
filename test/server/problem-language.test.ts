// Problem details in Vietnamese (server/problem-texts.ts): `Accept-Language: vi` answers the title of
// the status, the meaning of the problem type ahead of the particulars, and the body-validation
// messages in Vietnamese, with Content-Language: vi; English stays the default, and the audit row of a
// refused attempt keeps the English. Every code the server throws has its Vietnamese.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBatch, harness, recordReceipt, sign, type Harness } from '../helpers.js';
import { PROBLEM_TYPES_VI } from '../../server/problem-texts.js';

let h: Harness;
beforeAll(async () => { h = await harness(); });
afterAll(async () => { await h.close(); });

async function ask(user: string, method: 'GET' | 'POST', url: string, payload: unknown, language?: string) {
  const res = await h.app.inject({
    method, url: `/api/v1${url}`, payload: payload as object,
    headers: { authorization: `Bearer ${h.tokens[user]}`, ...(language && { 'accept-language': language }) },
  });
  return { status: res.statusCode, body: res.json(), headers: res.headers };
}

describe('problem details in the reader\'s language', () => {
  it('answers a stale version in Vietnamese, its particulars too (test/server/problem-particulars.test.ts), and in English by default', async () => {
    const b = await createBatch(h, 'car-t', 61);
    await recordReceipt(h, b, 61);
    const body = { values: { wbcConcentration: 28.5, viability: 94, cd3Positive: 62 }, signature: sign('op1'), expectedVersion: b.version };
    const vi = await ask('op1', 'POST', `/batches/${b.id}/steps/starting-material-sample`, body, 'vi-VN,vi;q=0.9,en;q=0.5');
    expect(vi.status).toBe(409);
    expect(vi.headers['content-language']).toBe('vi');
    expect(vi.headers['content-type']).toContain('application/problem+json');
    expect(vi.body.type).toBe('https://cellbatch.org/problems/stale-version');
    expect(vi.body.title).toBe('Xung đột');
    expect(vi.body.detail).toMatch(/^Hồ sơ lô đã được người khác cập nhật sau khi bạn mở: hãy tải lại rồi làm lại\. \(lô đang ở phiên bản \d+, không phải \d+\)$/);
    const en = await ask('op1', 'POST', `/batches/${b.id}/steps/starting-material-sample`, body);
    expect(en.status).toBe(409);
    expect(en.headers['content-language']).toBeUndefined();
    expect(en.body.title).toBe('Conflict');
    expect(en.body.detail).toMatch(/^the batch is at version \d+, not \d+: reload it and try again$/);
  });

  it('words body-validation messages in Vietnamese, with what was sent, and audits the refusal in English', async () => {
    const b = await createBatch(h, 'car-t', 62);
    const vi = await ask('op1', 'POST', `/batches/${b.id}/deviations`, { description: 42, severity: 'huge', expectedVersion: b.version, extra: 1 }, 'vi');
    expect(vi.status).toBe(400);
    expect(vi.body.title).toBe('Dữ liệu không hợp lệ');
    const byField = Object.fromEntries(vi.body.errors.map((e: { field: string; message: string }) => [e.field, e.message]));
    expect(byField.description).toBe('Đầu vào không hợp lệ: mong đợi string, nhận được số');
    expect(byField.severity).toMatch(/^Tùy chọn không hợp lệ: mong đợi một trong các giá trị "minor"\|"major"\|"critical"$/);
    expect(byField.extra).toBe('trường không được nhận dạng');
    expect(vi.body.detail).toMatch(/^Dữ liệu nhập không hợp lệ\. \(.*description: Đầu vào không hợp lệ/);
    const refused = (await ask('admin', 'GET', `/audit?action=attempt.refused&limit=100`, undefined)).body.items
      .filter((a: { entityId?: string; after?: unknown }) => JSON.stringify(a).includes(b.id));
    expect(refused.length).toBeGreaterThan(0);
    expect(JSON.stringify(refused.at(-1))).toContain('expected string');
    expect(JSON.stringify(refused.at(-1))).not.toContain('mong đợi');
  });

  it('weighs Accept-Language: the Vietnamese or English range of highest q wins, wherever it stands in the list', async () => {
    const asked = async (header: string) => {
      const r = await h.app.inject({ method: 'GET', url: '/api/v1/me', headers: { 'accept-language': header } });
      expect(r.statusCode).toBe(401);
      return { lang: r.headers['content-language'] ?? 'en', title: r.json().title as string };
    };
    for (const header of ['vi', 'VI-vn', 'fr-FR, vi;q=0.8', 'en;q=0.1, vi', 'de, *;q=0.1, vi;q=0.5', 'en;q=0, vi;q=0.2', 'vi-VN,vi;q=0.9,en;q=0.5', 'vi;q=0.5, en;q=0.5x', 'EN;Q=2, vi;q=0.001']) {
      expect(await asked(header), header).toEqual({ lang: 'vi', title: 'Chưa xác thực' });
    }
    for (const header of ['en', 'en-US,en;q=0.9,vi;q=0.8', 'vi;q=0, en', 'fr', '*', 'fr, *;q=0.5, vi;q=0.4', 'vi;q=0.5, en;q=1.000', 'vietnamese', ';;,,', 'vi;q=abc']) {
      expect(await asked(header), header).toEqual({ lang: 'en', title: 'Not authenticated' });
    }
  });

  it('answers a wrong signature password in Vietnamese', async () => {
    const b = await createBatch(h, 'car-t', 63);
    const vi = await ask('op1', 'POST', `/batches/${b.id}/steps/apheresis-receipt`, {
      values: { bagScan: b.din + b.dinCheck, collectionEnd: '2026-03-01T20:00:00Z', receivedAt: '2026-03-02T07:00:00Z', transportTemperature: 4, volume: 200 },
      signature: sign('op1', 'not-the-password'), expectedVersion: b.version,
    }, 'vi');
    expect(vi.status).toBe(401);
    expect(vi.body.title).toBe('Chưa xác thực');
    expect(vi.body.detail).toMatch(/^Tên đăng nhập hoặc mật khẩu không đúng/);
  });

  it('has Vietnamese for every problem code the server throws', () => {
    const codes = new Set<string>();
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, e.name);
        if (e.isDirectory()) walk(file);
        else if (file.endsWith('.ts')) {
          const text = fs.readFileSync(file, 'utf8');
          for (const m of text.matchAll(/\b(?:refused|conflict|forbidden|tooManyRequests|AppError)\(\s*'([a-z-]+)'/g)) codes.add(m[1]);
          for (const m of text.matchAll(/refused\(\w+ \? '([a-z-]+)' : '([a-z-]+)'/g)) codes.add(m[1]).add(m[2]);
        }
      }
    };
    walk(path.resolve(import.meta.dirname, '../../server'));
    expect(codes.size).toBeGreaterThan(30);
    expect([...codes].filter((c) => !PROBLEM_TYPES_VI[c])).toEqual([]);
  });
});
