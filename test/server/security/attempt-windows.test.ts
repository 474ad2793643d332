// The per-minute limits of login (60 per address) and POST /me/password (30) are counted in the
// database (issue 10; issue 15 item 3), so that two app servers on one database give an address the
// limit once, not once per server as a count in each process's memory did. Runs on SQLite and, with
// npm run test:pg, on PostgreSQL. The counters are not records: an ended window is deleted.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../../server/app.js';
import type { SqliteStore } from '../../../server/store/sqlite/store.js';
import type { PostgresStore } from '../../../server/store/postgres/store.js';
import { harness, PASSWORD, trustEachOther, type Harness } from '../../helpers.js';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => h.close());

const login = (app: FastifyInstance, address: string, username = 'nobody', password = 'Some-Guess-123456') =>
  app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: address, payload: { username, password } });

/** The counter rows as the database holds them, whichever database it is. */
async function windows(): Promise<{ key: string; hits: number }[]> {
  // The harness's own logins (from 127.0.0.1) are left out.
  const query = "select key, hits from attempt_windows where key not like '% 127.0.0.1' order by key";
  const rows = h.ctx.store.dialect === 'sqlite'
    ? (h.ctx.store as SqliteStore).sqlite.prepare(query).all()
    : (await (h.ctx.store as PostgresStore).pool.query(query)).rows;
  return rows as { key: string; hits: number }[];
}

describe('the per-minute login limit, counted in the database', () => {
  it('the 61st login from one address within a minute is 429 problem+json with Retry-After; another address is not counted; a minute later the window has ended and its row is gone', async () => {
    for (let i = 0; i < 60; i++) expect((await login(h.app, '10.3.0.1', `nobody${i}`)).statusCode).toBe(401);
    const refused = await login(h.app, '10.3.0.1', 'op1', PASSWORD);
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.json()).toMatchObject({ status: 429, type: 'https://cellbatch.org/problems/too-many-attempts', title: 'Too many requests' });
    expect(refused.json().detail).toMatch(/^too many attempts from this address in a minute; try again in \d+ s$/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect((await login(h.app, '10.3.0.2', 'op1', PASSWORD)).statusCode).toBe(200);
    expect(await windows()).toEqual([
      { key: '/api/v1/auth/login 10.3.0.1', hits: 61 },
      { key: '/api/v1/auth/login 10.3.0.2', hits: 1 },
    ]);
    // In the reader's language, as every other refusal.
    const vi = await h.app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: '10.3.0.1', headers: { 'accept-language': 'vi' }, payload: { username: 'op1', password: PASSWORD } });
    expect(vi.statusCode).toBe(429);
    expect(vi.headers['content-language']).toBe('vi');
    expect(vi.json()).toMatchObject({ type: 'https://cellbatch.org/problems/too-many-attempts', title: 'Quá nhiều yêu cầu' });
    expect(vi.json().detail).toMatch(/^Quá nhiều lần thử: hãy đợi rồi thử lại\. \(quá nhiều lần thử từ địa chỉ này trong một phút; hãy thử lại sau \d+ giây\)$/);

    h.tick(60_000);
    expect((await login(h.app, '10.3.0.1', 'op1', PASSWORD)).statusCode).toBe(200);
    // The ended windows were deleted (no append-only trigger covers the counters): a fresh one counts 1.
    expect(await windows()).toEqual([{ key: '/api/v1/auth/login 10.3.0.1', hits: 1 }]);
  });

  it('login and POST /me/password count in windows of their own', async () => {
    expect((await login(h.app, '10.3.0.3')).statusCode).toBe(401);
    const r = await h.app.inject({
      method: 'POST', url: '/api/v1/me/password', remoteAddress: '10.3.0.3', headers: { authorization: `Bearer ${h.tokens.op1}` },
      payload: { currentPassword: 'Wrong-Password-000', newPassword: 'A-New-Password-12345' },
    });
    expect(r.statusCode).toBe(401);
    expect(await windows()).toEqual([
      { key: '/api/v1/auth/login 10.3.0.3', hits: 1 },
      { key: '/api/v1/me/password 10.3.0.3', hits: 1 },
    ]);
  });
});

describe('two app servers on one database', () => {
  let other: { app: FastifyInstance; dir: string };
  beforeEach(async () => {
    // On PostgreSQL a second server as deployed (its own key, each trusting the other's); on SQLite a
    // second instance over the same file.
    const dir = h.databaseUrl ? fs.mkdtempSync(path.join(os.tmpdir(), 'cellbatch-test-')) : h.dir;
    if (h.databaseUrl) trustEachOther(path.join(h.dir, 'keys'), path.join(dir, 'keys'));
    const { app } = await buildApp({ dbFile: path.join(dir, 'cellbatch.db'), databaseUrl: h.databaseUrl, training: true, now: () => h.wall.now });
    other = { app, dir };
  });
  afterEach(async () => {
    await other.app.close();
    if (other.dir !== h.dir) fs.rmSync(other.dir, { recursive: true, force: true });
  });

  it('give an address 60 logins a minute in all, not 60 each: alternating between them, the 61st is 429 on either', async () => {
    for (let i = 0; i < 60; i++) {
      const r = await login(i % 2 ? other.app : h.app, '10.4.0.1', `nobody${i}`);
      expect(r.statusCode, `attempt ${i + 1}`).toBe(401);
    }
    for (const app of [h.app, other.app]) {
      const r = await login(app, '10.4.0.1', 'op1', PASSWORD);
      expect(r.statusCode).toBe(429);
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    expect(await windows()).toEqual([{ key: '/api/v1/auth/login 10.4.0.1', hits: 62 }]);
  });

  it('count concurrent attempts on both exactly once each', async () => {
    const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => login(i % 2 ? other.app : h.app, `10.5.0.${i % 4}`, `nobody${i}`)));
    expect(replies.map((r) => r.statusCode).filter((s) => s !== 401 && s !== 429)).toEqual([]);
    expect(await windows()).toEqual([0, 1, 2, 3].map((i) => ({ key: `/api/v1/auth/login 10.5.0.${i}`, hits: 10 })));
  });
});
