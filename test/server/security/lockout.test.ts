// Issue 10, finding 1: the lockout cannot be raced (21 CFR 11.300(d)); a locked account's sessions are
// refused; sessions end on lock, on a password change (the others) and after an absolute lifetime.
// Each attack is the one reported: parallel logins and signatures through app.inject with Promise.all.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, call, createBatch, harness, HOUR, PASSWORD, sign, type Harness } from '../../helpers.js';
import { auditAll, userIdOf } from '../part11/support.js';
import { receiptValues } from '../refusals/support.js';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => h.close());

const WRONG = 'Wrong-Password-000';
const login = (username: string, password: string) => call(h, null, 'POST', '/auth/login', { username, password });
const asToken = (token: string, method: 'GET' | 'POST', url: string, payload?: object) =>
  h.app.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${token}` }, ...(payload && { payload }) });

/**
 * The outcomes of an account's password checks in the order the server made them (one at a time per
 * account): its audit rows in chain order, 200 for a login, 401 for a failure, 423 for a refusal while
 * locked. On SQLite requests reach the account's queue in the order they were sent; on PostgreSQL what
 * they read before it (the per-minute limit) comes back from a pool in any order, so the tests judge
 * the order the server checked them in.
 */
async function checked(username: string, failed: 'login.failed' | 'signature.failed') {
  const id = await userIdOf(h, username);
  return (await auditAll(h, 'qa1')).filter((r) => r.entityId === id && (r.action === failed || (failed === 'login.failed' && r.action === 'login')))
    .map((r) => (r.action === 'login' ? 200 : r.reason === 'account locked' ? 423 : 401));
}

/** The lockout rule (21 CFR 11.300(d)) over outcomes in the order checked: five failures in a row lock, a success resets the count, nothing but 423 after the lock. */
function followsLockout(outcomes: number[]) {
  let failures = 0;
  let locked = false;
  return outcomes.every((s) => {
    if (locked) return s === 423;
    if (s === 200) { failures = 0; return true; }
    if (s !== 401) return false;
    locked = ++failures === 5;
    return true;
  });
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

describe('parallel logins against one account', () => {
  for (const rightAt of [5, 7, 9]) {
    it(`ten at once, nine wrong and the right one ${rightAt + 1}th: five 401s, then only 423, one account.locked row`, async () => {
      const before = (await checked('op2', 'login.failed')).length;
      const attempts = Array.from({ length: 10 }, (_, i) => login('op2', i === rightAt ? PASSWORD : WRONG));
      const replies = await Promise.all(attempts);
      const statuses = replies.map((r) => r.status);
      // Requests are checked in the order they arrived: the first five wrong ones lock the account.
      if (h.ctx.store.dialect === 'sqlite') expect(statuses).toEqual([401, 401, 401, 401, 401, 423, 423, 423, 423, 423]);
      const order = (await checked('op2', 'login.failed')).slice(before);
      expect(sorted(order)).toEqual(sorted(statuses));
      expect(followsLockout(order), order.join(' ')).toBe(true);
      expect(replies.filter((r) => r.body.token).length).toBe(statuses.filter((s) => s === 200).length);
      const op2 = await userIdOf(h, 'op2');
      expect(await auditAll(h, 'qa1', '&action=account.locked')).toHaveLength(1);
      expect((await auditAll(h, 'qa1', '&action=login.failed')).filter((r) => r.entityId === op2)).toHaveLength(statuses.filter((s) => s !== 200).length);
      expect((await call(h, 'admin', 'GET', '/users?limit=500')).body.items.find((u: any) => u.id === op2).locked).toBe(true);
    });
  }

  it('a right password ahead of the failures logs in and resets the count; nothing succeeds after the fifth failure', async () => {
    const order = [PASSWORD, WRONG, WRONG, WRONG, WRONG, WRONG, PASSWORD, WRONG];
    const before = (await checked('op2', 'login.failed')).length;
    const statuses = (await Promise.all(order.map((p) => login('op2', p)))).map((r) => r.status);
    if (h.ctx.store.dialect === 'sqlite') expect(statuses).toEqual([200, 401, 401, 401, 401, 401, 423, 423]);
    const outcomes = (await checked('op2', 'login.failed')).slice(before);
    expect(sorted(outcomes)).toEqual(sorted(statuses));
    expect(followsLockout(outcomes), outcomes.join(' ')).toBe(true);
    // Checked in the order sent, the second right password comes after the fifth failure; checked
    // between the failures, it resets the count and six failures do not lock.
    const fifth = outcomes.map((x) => (x === 200 ? '|' : String(x))).join(',').split('|').some((run) => run.split(',').filter((x) => x === '401').length >= 5);
    expect(await auditAll(h, 'qa1', '&action=account.locked')).toHaveLength(fifth ? 1 : 0);
  });
});

describe('parallel signatures naming one account', () => {
  it('forty at once with wrong passwords: exactly five passwords are checked, the rest are 423 or 429, one lock', async () => {
    const batch = await createBatch(h, 'car-t', 1);
    const replies = await Promise.all(Array.from({ length: 40 }, () =>
      call(h, 'op1', 'POST', `/batches/${batch.id}/steps/apheresis-receipt`, { values: receiptValues(h, 1), signature: sign('op2', WRONG), expectedVersion: batch.version })));
    const count = (s: number) => replies.filter((r) => r.status === s).length;
    expect(count(401)).toBe(5);
    expect(count(423) + count(429)).toBe(35);
    expect(count(423)).toBeGreaterThan(0);
    for (const r of replies.filter((x) => x.status === 429)) expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    expect(await auditAll(h, 'qa1', '&action=account.locked')).toHaveLength(1);
    const failed = await auditAll(h, 'qa1', '&action=signature.failed');
    expect(failed.filter((r) => r.reason !== 'account locked')).toHaveLength(5);
    expect((await h.ctx.store.entriesOfBatch(batch.id)).filter((e) => e.kind === 'step')).toHaveLength(0);
  });

  it('the right signature among wrong ones does not pass once the fifth failure has locked', async () => {
    const batch = await createBatch(h, 'car-t', 1);
    const passwords = [WRONG, WRONG, WRONG, WRONG, WRONG, PASSWORD];
    const replies = await Promise.all(passwords.map((password) =>
      call(h, 'op1', 'POST', `/batches/${batch.id}/steps/apheresis-receipt`, { values: receiptValues(h, 1), signature: sign('op2', password), expectedVersion: batch.version })));
    const statuses = replies.map((r) => r.status);
    if (h.ctx.store.dialect === 'sqlite') {
      expect(statuses).toEqual([401, 401, 401, 401, 401, 423]);
      expect((await h.ctx.store.entriesOfBatch(batch.id)).filter((e) => e.kind === 'step')).toHaveLength(0);
    }
    // Whatever the order: the right one passes only if it was checked before the fifth failure (the
    // others then answer 409, the batch having moved on), and nothing is recorded after the lock.
    expect(followsLockout(await checked('op2', 'signature.failed'))).toBe(true);
    const steps = (await h.ctx.store.entriesOfBatch(batch.id)).filter((e) => e.kind === 'step');
    expect(steps.length).toBe(statuses.filter((s) => s === 201).length);
    const trail = await auditAll(h, 'qa1');
    const lockedAt = trail.findIndex((r) => r.action === 'account.locked');
    const recordedAt = trail.findIndex((r) => r.action === 'step.recorded');
    if (recordedAt >= 0 && lockedAt >= 0) expect(recordedAt).toBeLessThan(lockedAt);
  });
});

describe('sessions of a locked account', () => {
  it('are refused with 423 while it is locked and stay ended after the unlock (revoked with the lock)', async () => {
    expect((await call(h, 'op2', 'GET', '/me')).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await login('op2', WRONG)).status).toBe(401);
    const me = await call(h, 'op2', 'GET', '/me');
    expect(me.status).toBe(423);
    expect(me.headers['content-type']).toMatch(/^application\/problem\+json/);
    // A write with the old session is refused as well, and writes nothing.
    expect((await call(h, 'op2', 'POST', '/batches', { processId: 'car-t', din: 'W123426000001N', patient: { id: 'PT-1', weightKg: 70 } })).status).toBe(423);
    expect(await h.ctx.store.allBatchIds()).toHaveLength(0);
    const op2 = await userIdOf(h, 'op2');
    expect((await call(h, 'admin', 'POST', `/users/${op2}/unlock`, { reason: 'identity confirmed by phone' })).status).toBe(200);
    expect((await call(h, 'op2', 'GET', '/me')).status).toBe(401);
    expect((await login('op2', PASSWORD)).status).toBe(200);
  });

  it('a deactivated account\'s sessions are 401', async () => {
    const token = (await login('op2', PASSWORD)).body.token;
    const op2 = await userIdOf(h, 'op2');
    expect((await call(h, 'admin', 'PATCH', `/users/${op2}`, { active: false, reason: 'left the company' })).status).toBe(200);
    expect((await asToken(token, 'GET', '/me')).statusCode).toBe(401);
  });
});

describe('a password change', () => {
  it('keeps the current session and ends every other session of the user', async () => {
    const other = (await login('op2', PASSWORD)).body.token;
    const third = (await login('op2', PASSWORD)).body.token;
    const r = await call(h, 'op2', 'POST', '/me/password', { currentPassword: PASSWORD, newPassword: 'A-Brand-New-Password-7' });
    expect(r.status).toBe(204);
    expect((await call(h, 'op2', 'GET', '/me')).status).toBe(200);
    expect((await asToken(other, 'GET', '/me')).statusCode).toBe(401);
    expect((await asToken(third, 'GET', '/me')).statusCode).toBe(401);
    // Other users' sessions are untouched.
    expect((await call(h, 'op1', 'GET', '/me')).status).toBe(200);
  });
});

describe('the absolute session lifetime', () => {
  it('ends a session used every ten minutes after 12 hours, audited as session.expired', async () => {
    const token = (await login('op2', PASSWORD)).body.token;
    for (let t = 0; t < 12 * 6; t++) {
      h.tick(10 * 60_000);
      expect((await asToken(token, 'GET', '/me')).statusCode, `after ${(t + 1) * 10} minutes`).toBe(200);
    }
    h.tick(10 * 60_000);
    const r = await asToken(token, 'GET', '/me');
    expect(r.statusCode).toBe(401);
    expect(r.json().detail).toMatch(/12 hours/);
    h.tokens.admin = (await login('admin', ADMIN_PASSWORD)).body.token;
    const expired = await auditAll(h, 'admin', '&action=session.expired');
    expect(expired.some((e) => e.reason === 'absolute session lifetime')).toBe(true);
    expect((await login('op2', PASSWORD)).status).toBe(200);
  });

  it('is a setting: 1 hour', async () => {
    const h1 = await harness({ idleTimeoutMinutes: 120 });
    h1.ctx.config.sessionMaxHours = 1;
    try {
      const token = (await h1.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'op1', password: PASSWORD } })).json().token;
      h1.tick(HOUR - 60_000);
      expect((await h1.app.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200);
      h1.tick(2 * 60_000);
      expect((await h1.app.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(401);
    } finally {
      await h1.close();
    }
  });
});
