// Browser sessions: login also sets an httpOnly SameSite=Strict session cookie and returns a CSRF
// token; a cookie-authenticated change needs that token in x-csrf-token (403 otherwise), bearer
// clients need none, and logout clears the cookies and ends the session.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, call, din, harness, PASSWORD, type Harness } from '../helpers.js';
import { buildApp } from '../../server/app.js';
import { bootstrapAdmin } from '../../server/services/bootstrap.js';
import { expectProblem } from './refusals/support.js';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => h.close());

interface Cookie { name: string; value: string; httpOnly?: boolean; sameSite?: string; secure?: boolean; path?: string; maxAge?: number; expires?: Date }
interface BrowserSession { session: string; csrfSecret: string; csrfToken: string; bearer: string; cookies: Cookie[] }

const batchBody = (seq: number) => ({ processId: 'car-t', din: din(seq).keyed, patient: { id: 'P1', weightKg: 70 } });

async function browserLogin(username = 'op1', password = PASSWORD, headers: Record<string, string> = {}): Promise<BrowserSession> {
  const r = await h.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password }, headers });
  expect(r.statusCode).toBe(200);
  const cookies = r.cookies as Cookie[];
  const session = cookies.find((c) => c.name === 'cellbatch_session');
  const csrf = cookies.find((c) => c.name === 'cellbatch_csrf');
  expect(session, 'session cookie set').toBeDefined();
  expect(csrf, 'CSRF cookie set').toBeDefined();
  return { session: session!.value, csrfSecret: csrf!.value, csrfToken: r.json().csrfToken, bearer: r.json().token, cookies };
}

/** A request the way the browser sends it: the cookies and, if given, the x-csrf-token header. */
async function asBrowser(s: BrowserSession, method: 'GET' | 'POST', url: string, opts: { payload?: object; csrf?: string; withCsrfCookie?: boolean } = {}) {
  const cookies: Record<string, string> = { cellbatch_session: s.session };
  if (opts.withCsrfCookie !== false) cookies.cellbatch_csrf = s.csrfSecret;
  const res = await h.app.inject({
    method, url: `/api/v1${url}`, cookies,
    headers: opts.csrf !== undefined ? { 'x-csrf-token': opts.csrf } : {},
    ...(opts.payload && { payload: opts.payload }),
  });
  let body: any;
  try { body = res.json(); } catch { body = res.body; }
  return { status: res.statusCode, body, headers: res.headers, cookies: res.cookies as Cookie[] };
}

/** What a refused change must leave alone: no batch, no entry, no signature, no audit row. */
async function written() {
  const batches = (await call(h, 'sup1', 'GET', '/batches?limit=500')).body.items.length;
  return { ...await h.ctx.store.counts(), batches };
}

describe('login', () => {
  it('sets an httpOnly, SameSite=Strict, Path=/ session cookie holding the token, plus the CSRF cookie and csrfToken', async () => {
    const s = await browserLogin();
    const session = s.cookies.find((c) => c.name === 'cellbatch_session')!;
    expect(session.value).toBe(s.bearer);
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(session.secure).toBeFalsy(); // plain http here
    const csrf = s.cookies.find((c) => c.name === 'cellbatch_csrf')!;
    expect(csrf).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(typeof s.csrfToken).toBe('string');
    expect(s.csrfToken.length).toBeGreaterThan(0);
  });

  it('keeps the existing body fields', async () => {
    const r = await call(h, null, 'POST', '/auth/login', { username: 'op1', password: PASSWORD });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ token: expect.any(String), user: { username: 'op1' }, mustChangePassword: false, csrfToken: expect.any(String) });
  });

  it('marks the cookies Secure when the request came over https', async () => {
    // app.inject has no TLS socket, so this app marks its sockets encrypted, as a TLS listener would.
    const { app, ctx } = await buildApp({ dbFile: ':memory:', training: true });
    app.addHook('onRequest', async (request) => { (request.raw.socket as { encrypted?: boolean }).encrypted = true; });
    try {
      await bootstrapAdmin(ctx, ADMIN_PASSWORD, () => {});
      const r = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password: ADMIN_PASSWORD } });
      expect(r.statusCode).toBe(200);
      const cookies = r.cookies as Cookie[];
      expect(cookies.find((c) => c.name === 'cellbatch_session')).toMatchObject({ secure: true, httpOnly: true, sameSite: 'Strict' });
      expect(cookies.find((c) => c.name === 'cellbatch_csrf')).toMatchObject({ secure: true, httpOnly: true, sameSite: 'Strict' });
    } finally {
      await app.close();
    }
  });

  it('sets no cookie for a refused login', async () => {
    const r = await h.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'op1', password: 'Wrong-Password-000' } });
    expect(r.statusCode).toBe(401);
    expect(r.cookies).toEqual([]);
  });

  it('starts a new CSRF secret at every login: a token from the previous login does not fit', async () => {
    const first = await browserLogin();
    const second = await browserLogin('op1', PASSWORD, { cookie: `cellbatch_csrf=${first.csrfSecret}` });
    expect(second.csrfSecret).not.toBe(first.csrfSecret);
    expectProblem(await asBrowser(second, 'POST', '/batches', { payload: batchBody(1), csrf: first.csrfToken }), 403);
  });
});

describe('cookie-authenticated requests', () => {
  it('GET /me with only the cookie is 200', async () => {
    const s = await browserLogin();
    const r = await asBrowser(s, 'GET', '/me');
    expect(r.status).toBe(200);
    expect(r.body.username).toBe('op1');
  });

  it('GET needs no CSRF token, even without the CSRF cookie', async () => {
    const s = await browserLogin();
    expect((await asBrowser(s, 'GET', '/batches', { withCsrfCookie: false })).status).toBe(200);
  });

  it('POST /batches without the x-csrf-token header is 403 csrf-token-missing and writes nothing', async () => {
    const s = await browserLogin();
    const before = await written();
    const r = await asBrowser(s, 'POST', '/batches', { payload: batchBody(1) });
    expectProblem(r, 403);
    expect(r.body.type).toMatch(/\/csrf-token-missing$/);
    expect(await written()).toEqual(before);
  });

  it('POST /batches with the right token passes the CSRF check (201)', async () => {
    const s = await browserLogin();
    const before = await written();
    const r = await asBrowser(s, 'POST', '/batches', { payload: batchBody(1), csrf: s.csrfToken });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect((await written()).batches).toBe(before.batches + 1);
  });

  it('a wrong CSRF token is 403 csrf-token-invalid and writes nothing', async () => {
    const s = await browserLogin();
    const other = await browserLogin('op2');
    const before = await written();
    for (const token of ['not-a-token', other.csrfToken, `${s.csrfToken}x`]) {
      const r = await asBrowser(s, 'POST', '/batches', { payload: batchBody(1), csrf: token });
      expectProblem(r, 403);
      expect(r.body.type, token).toMatch(/\/csrf-token-invalid$/);
    }
    expect(await written()).toEqual(before);
  });

  it('the right token without the CSRF cookie is 403 csrf-token-missing', async () => {
    const s = await browserLogin();
    const r = await asBrowser(s, 'POST', '/batches', { payload: batchBody(1), csrf: s.csrfToken, withCsrfCookie: false });
    expectProblem(r, 403);
    expect(r.body.type).toMatch(/\/csrf-token-missing$/);
  });

  it('401 wins over the CSRF check and over body validation for an unknown session cookie', async () => {
    const s = await browserLogin();
    const forged = { ...s, session: 'not-a-real-token' };
    expectProblem(await asBrowser(forged, 'POST', '/batches', { payload: { nonsense: true } }), 401);
    expectProblem(await asBrowser(forged, 'GET', '/me'), 401);
  });

  it('the CSRF check comes before body validation (403, not 400)', async () => {
    const s = await browserLogin();
    expectProblem(await asBrowser(s, 'POST', '/batches', { payload: { nonsense: true } }), 403);
  });

  it('GET /auth/csrf hands out a token that works for the same browser (e.g. after a reload)', async () => {
    const s = await browserLogin();
    const r = await asBrowser(s, 'GET', '/auth/csrf');
    expect(r.status).toBe(200);
    expect(r.cookies.find((c) => c.name === 'cellbatch_csrf'), 'the existing secret is kept').toBeUndefined();
    const created = await asBrowser(s, 'POST', '/batches', { payload: batchBody(2), csrf: r.body.csrfToken });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  });
});

describe('bearer clients', () => {
  it('need no CSRF token, with or without stray cookies, and set no cookies', async () => {
    const r = await call(h, 'op1', 'POST', '/batches', batchBody(1));
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    // The cookie is an inspector's (who may not start batches) and no CSRF header is sent: a 201 shows
    // the bearer token alone decided.
    const s = await browserLogin('insp1');
    const withCookies = await h.app.inject({
      method: 'POST', url: '/api/v1/batches', headers: { authorization: `Bearer ${h.tokens.op1}` },
      cookies: { cellbatch_session: s.session, cellbatch_csrf: s.csrfSecret }, payload: batchBody(2),
    });
    expect(withCookies.statusCode, withCookies.body).toBe(201);
    const logout = await h.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: { authorization: `Bearer ${h.tokens.op1}` } });
    expect(logout.statusCode).toBe(204);
    expect(logout.headers['set-cookie']).toBeUndefined();
  });

  it('an Authorization header is the only credential looked at: a bad one is 401 even with a good cookie', async () => {
    const s = await browserLogin();
    const r = await h.app.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: 'Bearer not-a-real-token' }, cookies: { cellbatch_session: s.session } });
    expect(r.statusCode).toBe(401);
  });
});

describe('logout', () => {
  it('needs the CSRF token when done by cookie', async () => {
    const s = await browserLogin();
    expectProblem(await asBrowser(s, 'POST', '/auth/logout'), 403);
    expect((await asBrowser(s, 'GET', '/me')).status).toBe(200);
  });

  it('clears both cookies, and the old cookie then gets 401', async () => {
    const s = await browserLogin();
    const r = await asBrowser(s, 'POST', '/auth/logout', { csrf: s.csrfToken });
    expect(r.status).toBe(204);
    for (const name of ['cellbatch_session', 'cellbatch_csrf']) {
      const cleared = r.cookies.find((c) => c.name === name);
      expect(cleared, `${name} cleared`).toBeDefined();
      expect(cleared!.value).toBe('');
      expect(cleared!.path).toBe('/');
      expect(cleared!.expires!.getTime()).toBeLessThanOrEqual(Date.now());
    }
    expectProblem(await asBrowser(s, 'GET', '/me'), 401);
    expectProblem(await asBrowser(s, 'POST', '/batches', { payload: batchBody(1), csrf: s.csrfToken }), 401);
  });
});
