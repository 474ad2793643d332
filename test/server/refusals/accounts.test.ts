// Accounts: logins, lockout after five consecutive failures (logins and signatures together), unlock,
// temporary passwords, the password policy, unique usernames, deactivation and the token requirement.
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, call, createBatch, harness, PASSWORD, sign, type Harness } from '../../helpers.js';
import { expectProblem, receiptValues, refusedWithoutWriting } from './support.js';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => h.close());

const WRONG = 'Wrong-Password-000';
const login = (username: string, password: string) => call(h, null, 'POST', '/auth/login', { username, password });

async function userId(username: string): Promise<string> {
  const r = await call(h, 'admin', 'GET', '/users?limit=500');
  expect(r.status).toBe(200);
  const u = r.body.items.find((x: { username: string }) => x.username === username);
  if (!u) throw new Error(`no user ${username}`);
  return u.id;
}

/** A step attempt on a fresh batch from op2's terminal, signed with the given credentials. */
async function signOnce(batch: { id: string; version: number }, seq: number, signature: { username: string; password: string }) {
  return call(h, 'op2', 'POST', `/batches/${batch.id}/steps/apheresis-receipt`, { values: receiptValues(h, seq), signature, expectedVersion: batch.version });
}

describe('login', () => {
  it('refuses a wrong password with 401 problem+json', async () => {
    expectProblem(await login('op1', WRONG), 401);
  });

  it('refuses an unknown username with 401', async () => {
    expectProblem(await login('nobody', PASSWORD), 401);
  });

  it('refuses a login body without a password with 400 naming password', async () => {
    expectProblem(await call(h, null, 'POST', '/auth/login', { username: 'op1' }), 400, ['password']);
  });

  it('refuses a body that is not JSON with 415 whatever its media type, text/plain included, and writes nothing', async () => {
    const before = await h.ctx.store.counts();
    for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded']) {
      const r = await h.app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': type }, payload: JSON.stringify({ username: 'op1', password: PASSWORD }) });
      expectProblem({ status: r.statusCode, body: r.json(), headers: r.headers }, 415);
      const change = await h.app.inject({ method: 'POST', url: '/api/v1/materials', headers: { 'content-type': type, authorization: `Bearer ${h.tokens.qa1}` }, payload: JSON.stringify({ type: 'media', name: 'TexMACS', lotNumber: 'L-415', expiresOn: '2030-01-01' }) });
      expectProblem({ status: change.statusCode, body: change.json(), headers: change.headers }, 415);
    }
    expect(await h.ctx.store.counts()).toMatchObject({ entries: before.entries, signatures: before.signatures });
    expect((await call(h, 'qa1', 'GET', '/materials?limit=500')).body.items.filter((l: { lotNumber: string }) => l.lotNumber === 'L-415')).toEqual([]);
  });

  it('refuses JSON declared in a charset other than UTF-8, or compressed, with 415, registering nothing; UTF-8 however spelled is accepted', async () => {
    const lot = (lotNumber: string) => JSON.stringify({ type: 'media', name: 'Môi trường', lotNumber, expiresOn: '2030-01-01' });
    for (const type of ['application/json; charset=latin1', 'application/json;charset=UTF-16', 'application/json; charset=""', 'application/json; charset=iso-8859-1']) {
      const r = await h.app.inject({ method: 'POST', url: '/api/v1/materials', headers: { 'content-type': type, authorization: `Bearer ${h.tokens.qa1}` }, payload: lot('L-CHARSET') });
      expectProblem({ status: r.statusCode, body: r.json(), headers: r.headers }, 415);
      expect(r.json().type).toBe('https://cellbatch.org/problems/unsupported-charset');
    }
    expect((await call(h, 'qa1', 'GET', '/materials?limit=500')).body.items.filter((l: { lotNumber: string }) => l.lotNumber === 'L-CHARSET')).toEqual([]);
    // A compressed body (or one said to be) is not decoded either: 415, nothing registered.
    for (const [coding, payload] of [['gzip', gzipSync(lot('L-GZIP'))], ['gzip', Buffer.from(lot('L-GZIP'))], ['br', Buffer.from(lot('L-GZIP'))]] as const) {
      const r = await h.app.inject({ method: 'POST', url: '/api/v1/materials', headers: { 'content-type': 'application/json', 'content-encoding': coding, authorization: `Bearer ${h.tokens.qa1}` }, payload });
      expectProblem({ status: r.statusCode, body: r.json(), headers: r.headers }, 415);
      expect(r.json().type).toBe('https://cellbatch.org/problems/unsupported-content-encoding');
    }
    expect((await call(h, 'qa1', 'GET', '/materials?limit=500')).body.items.filter((l: { lotNumber: string }) => l.lotNumber === 'L-GZIP')).toEqual([]);
    expect((await h.app.inject({ method: 'GET', url: '/api/v1/materials', headers: { 'content-type': 'application/json; charset=latin1', 'content-encoding': 'gzip', authorization: `Bearer ${h.tokens.qa1}` } })).statusCode, 'no body, nothing to judge').toBe(200);
    expect((await h.app.inject({ method: 'POST', url: '/api/v1/materials', headers: { 'content-type': 'application/json', 'content-encoding': 'identity', authorization: `Bearer ${h.tokens.qa1}` }, payload: lot('L-IDENTITY') })).statusCode).toBe(201);
    for (const [i, type] of ['application/json; charset=utf-8', 'application/json; charset="UTF-8"', 'application/json;charset=utf8'].entries()) {
      const r = await h.app.inject({ method: 'POST', url: '/api/v1/materials', headers: { 'content-type': type, authorization: `Bearer ${h.tokens.qa1}` }, payload: lot(`L-UTF8-${i}`) });
      expect(r.statusCode, type).toBe(201);
      expect(r.json().name).toBe('Môi trường');
    }
  });

  it('does not log in with the username in another case and the wrong password', async () => {
    expectProblem(await login('OP1', WRONG), 401);
  });
});

describe('lockout after five consecutive failures', () => {
  it('locks after five failed logins: the sixth login with the right password is 423, and so is a signature', async () => {
    // The batch first: op1's own session ends with the lock (issue 10).
    const batch = await createBatch(h, 'car-t', 1);
    for (let i = 0; i < 5; i++) expectProblem(await login('op1', WRONG), 401);
    expectProblem(await login('op1', PASSWORD), 423);
    await refusedWithoutWriting(h, () => signOnce(batch, 1, sign('op1')), 423);
  });

  it('counts logins and signatures together: three logins and two signatures lock the account', async () => {
    const batch = await createBatch(h, 'car-t', 2);
    for (let i = 0; i < 3; i++) expectProblem(await login('op1', WRONG), 401);
    for (let i = 0; i < 2; i++) await refusedWithoutWriting(h, () => signOnce(batch, 2, sign('op1', WRONG)), 401);
    expectProblem(await login('op1', PASSWORD), 423);
    await refusedWithoutWriting(h, () => signOnce(batch, 2, sign('op1')), 423);
  });

  it('locks after five failed signatures: the sixth attempt, a signature with the right password, is 423', async () => {
    const batch = await createBatch(h, 'car-t', 3);
    for (let i = 0; i < 5; i++) await refusedWithoutWriting(h, () => signOnce(batch, 3, sign('op1', WRONG)), 401);
    await refusedWithoutWriting(h, () => signOnce(batch, 3, sign('op1')), 423);
    expectProblem(await login('op1', PASSWORD), 423);
  });

  it('counts only consecutive failures: a success in between resets the count', async () => {
    for (let i = 0; i < 4; i++) expectProblem(await login('op1', WRONG), 401);
    expect((await login('op1', PASSWORD)).status).toBe(200);
    for (let i = 0; i < 4; i++) expectProblem(await login('op1', WRONG), 401);
    expect((await login('op1', PASSWORD)).status).toBe(200);
  });

  it('is unlocked by an admin with a reason (200), after which login and signatures work', async () => {
    const batch = await createBatch(h, 'car-t', 4);
    for (let i = 0; i < 5; i++) await login('op1', WRONG);
    expectProblem(await login('op1', PASSWORD), 423);
    const id = await userId('op1');
    const unlock = await call(h, 'admin', 'POST', `/users/${id}/unlock`, { reason: 'identity confirmed by phone' });
    expect(unlock.status).toBe(200);
    expect(unlock.body.username).toBe('op1');
    expect((await login('op1', PASSWORD)).status).toBe(200);
    expect((await signOnce(batch, 4, sign('op1'))).status).toBe(201);
  });

  it('refuses unlocking without a reason (400), by a non-admin (403) and of an unknown user (404)', async () => {
    for (let i = 0; i < 5; i++) await login('op1', WRONG);
    const id = await userId('op1');
    expectProblem(await call(h, 'admin', 'POST', `/users/${id}/unlock`, {}), 400, ['reason']);
    expectProblem(await call(h, 'admin', 'POST', `/users/${id}/unlock`, { reason: '   ' }), 400, ['reason']);
    expectProblem(await call(h, 'sup1', 'POST', `/users/${id}/unlock`, { reason: 'please' }), 403);
    expectProblem(await call(h, 'qa1', 'POST', `/users/${id}/unlock`, { reason: 'please' }), 403);
    expectProblem(await call(h, 'admin', 'POST', '/users/unknown/unlock', { reason: 'x' }), 404);
    expectProblem(await login('op1', PASSWORD), 423);
  });
});

describe('temporary passwords', () => {
  async function newUser(username: string, roles: string[] = ['operator']) {
    const r = await call(h, 'admin', 'POST', '/users', { username, fullName: `New ${username}`, roles, password: 'Temporary-Pass-123' });
    expect(r.status).toBe(201);
    expect(r.body.mustChangePassword).toBe(true);
    const l = await login(username, 'Temporary-Pass-123');
    expect(l.status).toBe(200);
    expect(l.body.mustChangePassword).toBe(true);
    h.tokens[username] = l.body.token;
    return r.body;
  }

  it('answers 403 on every route but POST /me/password and POST /auth/logout until the password is changed', async () => {
    await newUser('op3');
    const batch = await createBatch(h, 'car-t', 10);
    const routes: [string, 'GET' | 'POST' | 'PATCH', string, unknown?][] = [
      ['op3', 'GET', '/me'], ['op3', 'GET', '/batches'], ['op3', 'GET', `/batches/${batch.id}`], ['op3', 'GET', '/processes'],
      ['op3', 'GET', '/materials'], ['op3', 'GET', '/equipment'],
      ['op3', 'POST', '/batches', { processId: 'car-t', din: 'G123498654321H', patient: { id: 'PT', weightKg: 70 } }],
      ['op3', 'POST', `/batches/${batch.id}/steps/apheresis-receipt`, { values: receiptValues(h, 10), signature: sign('op3', 'Temporary-Pass-123'), expectedVersion: batch.version }],
    ];
    for (const [user, method, url, body] of routes) {
      await refusedWithoutWriting(h, () => call(h, user, method, url, body), 403);
    }
  });

  it('accepts no signature by that user until the password is changed (403)', async () => {
    await newUser('op3');
    const batch = await createBatch(h, 'car-t', 11);
    await refusedWithoutWriting(h, () => signOnce(batch, 11, sign('op3', 'Temporary-Pass-123')), 403);
  });

  it('lets the user log out while the change is due (204)', async () => {
    await newUser('op3');
    expect((await call(h, 'op3', 'POST', '/auth/logout')).status).toBe(204);
    expectProblem(await call(h, 'op3', 'POST', '/me/password', { currentPassword: 'Temporary-Pass-123', newPassword: 'Brand-New-Password-42' }), 401);
  });

  it('after POST /me/password (204) the same token works and signatures are accepted', async () => {
    await newUser('op3');
    const changed = await call(h, 'op3', 'POST', '/me/password', { currentPassword: 'Temporary-Pass-123', newPassword: 'Brand-New-Password-42' });
    expect(changed.status).toBe(204);
    const me = await call(h, 'op3', 'GET', '/me');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ username: 'op3', mustChangePassword: false });
    expect((await call(h, 'op3', 'GET', '/batches')).status).toBe(200);
    const batch = await createBatch(h, 'car-t', 12);
    expect((await signOnce(batch, 12, sign('op3', 'Brand-New-Password-42'))).status).toBe(201);
  });

  it('refuses a password change with a wrong current password (401) and leaves the change due', async () => {
    await newUser('op3');
    expectProblem(await call(h, 'op3', 'POST', '/me/password', { currentPassword: WRONG, newPassword: 'Brand-New-Password-42' }), 401);
    expectProblem(await call(h, 'op3', 'GET', '/me'), 403);
  });

  it('refuses a new password shorter than 12 characters or equal to the username with 400 on newPassword', async () => {
    await newUser('technician-ab');
    expectProblem(await call(h, 'technician-ab', 'POST', '/me/password', { currentPassword: 'Temporary-Pass-123', newPassword: 'Short-pw-1' }), 400, ['newPassword']);
    expectProblem(await call(h, 'technician-ab', 'POST', '/me/password', { currentPassword: 'Temporary-Pass-123', newPassword: 'technician-ab' }), 400, ['newPassword']);
    expectProblem(await call(h, 'technician-ab', 'POST', '/me/password', { currentPassword: 'Temporary-Pass-123', newPassword: 'TECHNICIAN-AB' }), 400, ['newPassword']);
    expectProblem(await call(h, 'technician-ab', 'GET', '/me'), 403);
  });

  it('refuses a password-change body with unknown keys with 400', async () => {
    await newUser('op3');
    expectProblem(await call(h, 'op3', 'POST', '/me/password', { currentPassword: 'Temporary-Pass-123', newPassword: 'Brand-New-Password-42', username: 'op1' }), 400, ['username']);
  });
});

describe('creating and changing users', () => {
  const body = (over: Record<string, unknown> = {}) => ({ username: 'operator-three', fullName: 'Operator Three', roles: ['operator'], password: 'Long-Enough-Pass-1', ...over });

  it('refuses a password shorter than 12 characters with 400 on password', async () => {
    expectProblem(await call(h, 'admin', 'POST', '/users', body({ password: 'Short-pw-1' })), 400, ['password']);
    expectProblem(await call(h, 'admin', 'POST', '/users', body({ password: '12345678901' })), 400, ['password']);
    // Characters, not UTF-16 units: six emoji are twelve units; a letter with its combining marks is one character.
    expectProblem(await call(h, 'admin', 'POST', '/users', body({ password: '😀🔒🧬💉🧪🩸' })), 400, ['password']);
    expectProblem(await call(h, 'admin', 'POST', '/users', body({ password: 'Mật-khẩu-dà'.normalize('NFD') })), 400, ['password']);
    expect((await call(h, 'admin', 'POST', '/users', body({ username: 'op-nfd', password: 'Mật-khẩu-dài'.normalize('NFD') }))).status).toBe(201);
    expect((await call(h, 'admin', 'POST', '/users', body({ username: 'op-emoji', password: '😀🔒🧬💉🧪🩸😀🔒🧬💉🧪🩸' }))).status).toBe(201);
  });

  it('refuses a password equal to the username (in any case) with 400 on password', async () => {
    expectProblem(await call(h, 'admin', 'POST', '/users', body({ password: 'operator-three' })), 400, ['password']);
    expectProblem(await call(h, 'admin', 'POST', '/users', body({ password: 'OPERATOR-THREE' })), 400, ['password']);
  });

  it('keeps a printed name holding a lone surrogate as stored, with U+FFFD in its place, in the reply, the user list and the audit row', async () => {
    const r = await call(h, 'admin', 'POST', '/users', body({ fullName: 'Trần \udc00 Ánh' }));
    expect(r.status).toBe(201);
    expect(r.body.fullName).toBe('Trần \ufffd Ánh');
    expect((await call(h, 'admin', 'GET', '/users?limit=500')).body.items.find((u: { id: string }) => u.id === r.body.id).fullName).toBe('Trần \ufffd Ánh');
    const audit = (await call(h, 'admin', 'GET', '/audit?action=user.created&limit=500')).body.items as { entityId: string; after: { fullName: string } }[];
    expect(audit.find((a) => a.entityId === r.body.id)?.after.fullName).toBe('Trần \ufffd Ánh');
  });

  it('refuses a username that differs from an existing one only in case with 409', async () => {
    expectProblem(await call(h, 'admin', 'POST', '/users', body({ username: 'OP1' })), 409);
    expectProblem(await call(h, 'admin', 'POST', '/users', body({ username: 'Qa1' })), 409);
    expect((await call(h, 'admin', 'GET', '/users?limit=500')).body.items.filter((u: { username: string }) => u.username.toLowerCase() === 'op1')).toHaveLength(1);
  });

  it('refuses an unknown role or no role with 400 on roles', async () => {
    const unknown = await call(h, 'admin', 'POST', '/users', body({ roles: ['superuser'] }));
    expectProblem(unknown, 400);
    expect(unknown.body.errors.some((e: { field: string }) => e.field.startsWith('roles'))).toBe(true);
    expectProblem(await call(h, 'admin', 'POST', '/users', body({ roles: [] })), 400, ['roles']);
  });

  it('refuses creating users to anyone but admin with 403', async () => {
    for (const user of ['sup1', 'qa1', 'insp1', 'op1']) expectProblem(await call(h, user, 'POST', '/users', body()), 403);
  });

  it('answers PATCH /users/unknown with 404', async () => {
    expectProblem(await call(h, 'admin', 'PATCH', '/users/unknown', { active: false, reason: 'left' }), 404);
  });

  it('refuses PATCH /users by a non-admin with 403 and without a reason with 400', async () => {
    const id = await userId('op2');
    expectProblem(await call(h, 'qa1', 'PATCH', `/users/${id}`, { active: false, reason: 'left' }), 403);
    expectProblem(await call(h, 'admin', 'PATCH', `/users/${id}`, { active: false }), 400, ['reason']);
    expect((await call(h, 'op2', 'GET', '/me')).status).toBe(200);
  });

  it('refuses a deactivated user token immediately with 401, and their login and signature', async () => {
    const id = await userId('op2');
    expect((await call(h, 'op2', 'GET', '/me')).status).toBe(200);
    const r = await call(h, 'admin', 'PATCH', `/users/${id}`, { active: false, reason: 'left the company' });
    expect(r.status).toBe(200);
    expect(r.body.active).toBe(false);
    expectProblem(await call(h, 'op2', 'GET', '/me'), 401);
    expectProblem(await call(h, 'op2', 'GET', '/batches'), 401);
    expectProblem(await login('op2', PASSWORD), 401);
    const batch = await createBatch(h, 'car-t', 20);
    await refusedWithoutWriting(h, () => call(h, 'op1', 'POST', `/batches/${batch.id}/steps/apheresis-receipt`, { values: receiptValues(h, 20), signature: sign('op2'), expectedVersion: batch.version }), 401);
  });

  it('does not let an admin deactivate their own account (403; 409 last-admin first when no other admin could act: last-admin.test.ts)', async () => {
    const id = await userId('admin');
    expectProblem(await call(h, 'admin', 'PATCH', `/users/${id}`, { active: false, reason: 'oops' }), 409);
    expect((await call(h, 'admin', 'POST', '/users', { username: 'admin2', fullName: 'Second Admin', roles: ['admin'], password: 'Temporary-Admin2-Pw' })).status).toBe(201);
    expectProblem(await call(h, 'admin', 'PATCH', `/users/${id}`, { active: false, reason: 'oops' }), 403);
    expect((await call(h, 'admin', 'GET', '/me')).status).toBe(200);
  });
});

describe('a token is required everywhere but /healthz, /openapi.json and POST /auth/login', () => {
  const protectedRoutes: ['GET' | 'POST' | 'PATCH', string, unknown?][] = [
    ['GET', '/me'], ['POST', '/auth/logout'], ['POST', '/me/password', { currentPassword: PASSWORD, newPassword: 'Another-Password-77' }],
    ['GET', '/users'], ['POST', '/users', { username: 'x1', fullName: 'X', roles: ['operator'], password: 'Long-Enough-Pass-1' }],
    ['PATCH', '/users/some-id', { active: false, reason: 'x' }], ['POST', '/users/some-id/unlock', { reason: 'x' }],
    ['GET', '/processes'], ['GET', '/processes/car-t'],
    ['GET', '/materials'], ['POST', '/materials', { type: 'buffer', name: 'b', lotNumber: 'L1', expiresOn: '2030-01-01', status: 'released' }],
    ['PATCH', '/materials/some-id', { status: 'quarantined', reason: 'x' }],
    ['GET', '/equipment'], ['POST', '/equipment', { assetId: 'A1', type: 'cell-processor', name: 'p', calibrationDueOn: '2030-01-01' }],
    ['GET', '/batches'], ['GET', '/batches/some-id'], ['POST', '/batches', { processId: 'car-t', din: 'G123498654321H', patient: { id: 'P', weightKg: 70 } }],
    ['POST', '/batches/some-id/steps/apheresis-receipt', { values: {}, signature: { username: 'op1', password: PASSWORD }, expectedVersion: 1 }],
    ['POST', '/batches/some-id/entries/e/verify', { signature: { username: 'op2', password: PASSWORD } }],
    ['POST', '/batches/some-id/terminate', { reason: 'x', signature: { username: 'sup1', password: PASSWORD } }],
    ['GET', '/batches/some-id/deviations'], ['GET', '/batches/some-id/audit'],
    ['GET', '/audit'], ['GET', '/audit/verify'], ['POST', '/training/clock', { advanceHours: 1 }],
  ];

  it('answers 401 problem+json without a token on every protected route and writes nothing', async () => {
    for (const [method, url, payload] of protectedRoutes) {
      const r = await refusedWithoutWriting(h, () => call(h, null, method, url, payload), 401);
      expect(r.status, `${method} ${url}`).toBe(401);
    }
  });

  it('answers 401 for a token that is not a session and for a token after logout', async () => {
    const bogus = await h.app.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: 'Bearer not-a-real-token' } });
    expect(bogus.statusCode).toBe(401);
    expect(bogus.headers['content-type']).toMatch(/^application\/problem\+json/);
    const notBearer = await h.app.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: `Basic ${h.tokens.op1}` } });
    expect(notBearer.statusCode).toBe(401);
    for (const glued of [`Bearer${h.tokens.op1}`, `Bearerx ${h.tokens.op1}`, 'Bearer ', 'bearer']) {
      expect((await h.app.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: glued } })).statusCode, glued).toBe(401);
    }
    // The scheme is case-insensitive (RFC 9110 §11.1); the token is not.
    for (const scheme of ['bearer', 'BEARER', 'Bearer', 'bEaReR\t']) {
      const r = await h.app.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: `${scheme} ${h.tokens.op1}` } });
      expect(r.statusCode, scheme).toBe(200);
      expect(r.json().username).toBe('op1');
    }
    expect((await h.app.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: `Bearer ${h.tokens.op1.toUpperCase()}` } })).statusCode).toBe(401);
    expect((await call(h, 'op1', 'POST', '/auth/logout')).status).toBe(204);
    expectProblem(await call(h, 'op1', 'GET', '/me'), 401);
  });

  it('serves /healthz, /openapi.json and POST /auth/login without a token', async () => {
    expect((await call(h, null, 'GET', '/healthz')).status).toBe(200);
    expect((await call(h, null, 'GET', '/openapi.json')).status).toBe(200);
    const l = await login('admin', ADMIN_PASSWORD);
    expect(l.status).toBe(200);
    expect(typeof l.body.token).toBe('string');
  });
});
