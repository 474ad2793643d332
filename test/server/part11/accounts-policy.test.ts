// S5 [21 CFR 11.300]: password policy (length, not the username, history of 5, expiry after 180 days of
// wall-clock time), the forced change after an administrator's reset, lockout after 5 consecutive
// failures of logins and signatures together, with one audit row and an alert for administrators.
// S3 [11.100]: usernames are unique case-insensitively, deactivated accounts included, never reused.
// EU GMP Annex 11 §11: the periodic review of accounts.
//
// Proven in test/server/refusals/accounts.test.ts and not repeated here: 423 after the lock for logins
// and signatures, the count reset by a success, unlocking (200, 400 without reason, 403 non-admin),
// temporary passwords at creation (403 everywhere but /me/password and logout), < 12 characters and
// equal-to-username at creation and at POST /me/password, usernames differing only in case (409).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { advance, call, createBatch, harness, HOUR, PASSWORD, recordState, sign, type Harness } from '../../helpers.js';
import { receiptValues } from '../refusals/support.js';
import { auditAll, auditedBy, DAY, relogin, serverNow, userIdOf } from './support.js';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => h.close());

const WRONG = 'Wrong-Password-000';
const login = (username: string, password: string) => call(h, null, 'POST', '/auth/login', { username, password });
const changeOwn = (user: string, currentPassword: string, newPassword: string) => call(h, user, 'POST', '/me/password', { currentPassword, newPassword });
const receiptSignedBy = (session: string, batch: { id: string; version: number }, seq: number, signature: { username: string; password: string }) =>
  call(h, session, 'POST', `/batches/${batch.id}/steps/apheresis-receipt`, { values: receiptValues(h, seq), signature, expectedVersion: batch.version });

describe('S5 [11.300]: password policy', () => {
  it('S5 [11.300]: a password shorter than 12 characters or equal to the username is 400 at an admin reset too (12 characters are enough)', async () => {
    const op2 = await userIdOf(h, 'op2');
    for (const password of ['Short-pw-1', '12345678901', 'op2', 'OP2']) {
      const r = await call(h, 'admin', 'POST', `/users/${op2}/password`, { password, reason: 'forgot it' });
      expect(r.status, password).toBe(400);
      expect(r.body.errors.map((e: { field: string }) => e.field)).toContain('password');
    }
    const userNamed = await call(h, 'admin', 'POST', '/users', { username: 'technician.long', fullName: 'L', roles: ['operator'], password: 'Technician.Long' });
    expect(userNamed.status).toBe(400);
    expect((await call(h, 'admin', 'POST', `/users/${op2}/password`, { password: 'Abcdefgh-123', reason: 'forgot it' })).status).toBe(200);
  });

  it('S5 [11.300(b)]: none of the last 5 passwords may be reused (400); the 6th-oldest is accepted', async () => {
    const passwords = ['Second-Password-01', 'Third-Password-002', 'Fourth-Password-03', 'Fifth-Password-004', 'Sixth-Password-005'];
    // Right after one change, the previous password is still one of the last five.
    expect((await changeOwn('op1', PASSWORD, passwords[0])).status).toBe(204);
    const early = await changeOwn('op1', passwords[0], PASSWORD);
    expect(early.status).toBe(400);
    expect(early.body.errors.map((e: { field: string }) => e.field)).toContain('newPassword');
    let current = passwords[0];
    for (const next of passwords.slice(1)) {
      expect((await changeOwn('op1', current, next)).status, next).toBe(204);
      current = next;
    }
    // Five changes: the last five are passwords[0..4]; each of them is refused, the current one too.
    for (const reused of passwords) {
      const r = await changeOwn('op1', current, reused);
      expect(r.status, `reusing ${reused}`).toBe(400);
      expect(r.body.errors.map((e: { field: string }) => e.field)).toContain('newPassword');
    }
    // An administrator's reset obeys the same history.
    const op1 = await userIdOf(h, 'op1');
    expect((await call(h, 'admin', 'POST', `/users/${op1}/password`, { password: passwords[1], reason: 'forgot it' })).status).toBe(400);
    // The original password is now the 6th-oldest: accepted.
    expect((await changeOwn('op1', current, PASSWORD)).status).toBe(204);
    expect((await login('op1', PASSWORD)).status).toBe(200);
  });

  it('S5 [11.300(b)]: after 181 days of wall clock a password has expired: login says mustChangePassword, other routes are 403 and signatures 403 until it is changed', async () => {
    const batch = await createBatch(h, 'car-t', 1);
    // op2 changes their password on day 100, so that op2 can still work when op1's expires.
    h.tick(100 * DAY);
    await relogin(h, 'op2');
    expect((await changeOwn('op2', PASSWORD, 'Op2-Day-100-Password')).status).toBe(204);
    h.tick(79 * DAY);
    const day179 = await login('op1', PASSWORD);
    expect(day179.status).toBe(200);
    expect(day179.body.mustChangePassword, 'not yet expired on day 179').toBe(false);

    h.tick(2 * DAY); // day 181
    const expired = await relogin(h, 'op1');
    expect(expired.mustChangePassword).toBe(true);
    expect(expired.user.mustChangePassword).toBe(true);
    for (const [method, url, body] of [['GET', '/me'], ['GET', '/batches'], ['GET', `/batches/${batch.id}`], ['POST', '/batches', { processId: 'car-t', din: 'G123498654321H', patient: { id: 'P', weightKg: 70 } }]] as ['GET' | 'POST', string, unknown][]) {
      const r = await call(h, 'op1', method, url, body);
      expect(r.status, `${method} ${url}`).toBe(403);
      expect(r.body.type).toMatch(/password-change-required/);
    }
    // A signature by op1, from op2's valid session, is refused (403) and audited once.
    await relogin(h, 'op2', 'Op2-Day-100-Password');
    const state = await recordState(h);
    // (Every auditor's password has expired too: the rows are read from the store.)
    const mark = (await h.ctx.store.lastAudit())!.seq;
    const refused = await receiptSignedBy('op2', batch, 1, sign('op1'));
    expect(refused.status).toBe(403);
    expect((await h.ctx.store.listAudit({}, 500, Buffer.from(String(mark)).toString('base64url'))).items.map((r) => r.action)).toEqual(['signature.refused']);
    expect(await recordState(h)).toEqual(state);

    // Changing it lifts the block at once, on the same token.
    expect((await changeOwn('op1', PASSWORD, 'Op1-Renewed-Password')).status).toBe(204);
    const me = await call(h, 'op1', 'GET', '/me');
    expect(me.status).toBe(200);
    expect(me.body.mustChangePassword).toBe(false);
    const ok = await receiptSignedBy('op2', batch, 1, sign('op1', 'Op1-Renewed-Password'));
    expect(ok.status).toBe(201);
    expect(ok.body.entry.signatures[0].username).toBe('op1');
  });

  it('S5 [11.300(b)], R5 [11.10(d)]: moving the TRAINING clock by 200 days expires no password (expiry runs on wall-clock time)', async () => {
    await advance(h, 200 * 24);
    const r = await login('op1', PASSWORD);
    expect(r.status).toBe(200);
    expect(r.body.mustChangePassword).toBe(false);
    expect((await call(h, 'op1', 'GET', '/me')).status).toBe(200);
  });

  it('S5 [11.300]: an admin reset revokes the user\'s token (401), forces a change at next login (mustChangePassword) and blocks their signatures until then', async () => {
    const op1 = await userIdOf(h, 'op1');
    const admin = await userIdOf(h, 'admin');
    const batch = await createBatch(h, 'car-t', 2);
    expect((await call(h, 'op1', 'GET', '/me')).status).toBe(200);
    const reset = await auditedBy(h, () => call(h, 'admin', 'POST', `/users/${op1}/password`, { password: 'Temporary-Reset-01', reason: 'forgot the password' }));
    expect(reset.reply.status).toBe(200);
    expect(reset.reply.body.mustChangePassword).toBe(true);
    const row = reset.rows.find((r) => r.action === 'password.reset');
    expect(reset.rows.filter((r) => r.action === 'password.reset')).toHaveLength(1);
    expect(row).toMatchObject({ userId: admin, entityId: op1, reason: 'forgot the password' });
    expect(JSON.stringify(reset.rows)).not.toContain('Temporary-Reset-01');

    expect((await call(h, 'op1', 'GET', '/me')).status, 'the old token is revoked').toBe(401);
    expect((await login('op1', PASSWORD)).status, 'the old password is gone').toBe(401);
    const again = await relogin(h, 'op1', 'Temporary-Reset-01');
    expect(again.mustChangePassword).toBe(true);
    expect((await call(h, 'op1', 'GET', '/me')).status).toBe(403);
    expect((await receiptSignedBy('op2', batch, 2, sign('op1', 'Temporary-Reset-01'))).status).toBe(403);

    expect((await changeOwn('op1', 'Temporary-Reset-01', 'Op1-Own-Password-77')).status).toBe(204);
    expect((await call(h, 'op1', 'GET', '/me')).body.mustChangePassword).toBe(false);
    expect((await receiptSignedBy('op2', batch, 2, sign('op1', 'Op1-Own-Password-77'))).status).toBe(201);
  });
});

describe('S5 [11.300(d)]: lockout after five consecutive failures, audited, with an alert for administrators', () => {
  async function lockOp2ByMixedFailures() {
    const batch = await createBatch(h, 'car-t', 3);
    for (let i = 0; i < 3; i++) expect((await login('op2', WRONG)).status).toBe(401);
    for (let i = 0; i < 2; i++) expect((await receiptSignedBy('op1', batch, 3, sign('op2', WRONG))).status).toBe(401);
    return batch;
  }

  it('S5 [11.300(d)]: logins and signatures mixed lock the account with exactly one account.locked row, and admins see an open alert; unlock closes it', async () => {
    const op2 = await userIdOf(h, 'op2');
    const batch = await lockOp2ByMixedFailures();
    // Further attempts, even with the right password, are 423 and do not lock it "again".
    expect((await login('op2', PASSWORD)).status).toBe(423);
    expect((await receiptSignedBy('op1', batch, 3, sign('op2'))).status).toBe(423);
    expect((await login('op2', WRONG)).status).toBe(423);
    const locks = await auditAll(h, 'qa1', '&action=account.locked');
    expect(locks).toHaveLength(1);
    expect(locks[0]).toMatchObject({ userId: op2, entityId: op2, entity: 'user', before: { locked: false }, after: { locked: true }, reason: expect.any(String) });

    const alerts = await call(h, 'admin', 'GET', '/alerts');
    expect(alerts.status).toBe(200);
    const mine = alerts.body.items.filter((a: { userId: string }) => a.userId === op2);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ kind: 'account-locked', username: 'op2', open: true, at: locks[0].at });

    expect((await call(h, 'admin', 'POST', `/users/${op2}/unlock`, { reason: 'identity confirmed' })).status).toBe(200);
    const after = (await call(h, 'admin', 'GET', '/alerts')).body.items.filter((a: { userId: string }) => a.userId === op2);
    expect(after).toHaveLength(1);
    expect(after[0].open).toBe(false);
    expect((await login('op2', PASSWORD)).status).toBe(200);
    expect(await auditAll(h, 'qa1', '&action=account.locked')).toHaveLength(1);
  });

  it('S5 [11.300(d)]: GET /alerts is for administrators and QA: others get 403', async () => {
    for (const user of ['op1', 'sup1', 'qc1', 'insp1']) expect((await call(h, user, 'GET', '/alerts')).status, user).toBe(403);
    expect((await call(h, 'qa1', 'GET', '/alerts')).status).toBe(200);
    expect((await call(h, null, 'GET', '/alerts')).status).toBe(401);
  });

  it('S5 [11.300(d)]: an alert closed by an unlock stays closed when the account is locked again; only the new lockout is open', async () => {
    const op2 = await userIdOf(h, 'op2');
    await lockOp2ByMixedFailures();
    expect((await call(h, 'admin', 'POST', `/users/${op2}/unlock`, { reason: 'first lockout handled' })).status).toBe(200);
    h.tick(60_000);
    for (let i = 0; i < 5; i++) await login('op2', WRONG);
    expect((await login('op2', PASSWORD)).status).toBe(423);
    await relogin(h, 'admin');
    const alerts = (await call(h, 'admin', 'GET', '/alerts')).body.items.filter((a: { userId: string }) => a.userId === op2);
    expect(alerts).toHaveLength(2);
    const locks = await auditAll(h, 'qa1', '&action=account.locked');
    const open = alerts.filter((a: { open: boolean }) => a.open);
    expect(open, 'only the lockout not yet handled is open').toHaveLength(1);
    expect(open[0].id).toBe(String(locks[locks.length - 1].seq));
  });
});

describe('S3 [11.100]: usernames are unique and never reused', () => {
  it('S3 [11.100]: a deactivated account keeps its username: creating it again, in any case, is 409', async () => {
    const created = await call(h, 'admin', 'POST', '/users', { username: 'tech.u', fullName: 'Technician U', roles: ['operator'], password: 'Technician-U-Pass-1' });
    expect(created.status).toBe(201);
    expect((await call(h, 'admin', 'PATCH', `/users/${created.body.id}`, { active: false, reason: 'left' })).status).toBe(200);
    for (const username of ['tech.u', 'TECH.U', 'Tech.U']) {
      const r = await call(h, 'admin', 'POST', '/users', { username, fullName: 'Someone Else', roles: ['qa'], password: 'Someone-Else-Pass-1' });
      expect(r.status, username).toBe(409);
    }
    const all = (await call(h, 'admin', 'GET', '/users?limit=500')).body.items.filter((u: { username: string }) => u.username.toLowerCase() === 'tech.u');
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ id: created.body.id, active: false, fullName: 'Technician U' });
    expect((await login('tech.u', 'Technician-U-Pass-1')).status).toBe(401);
    // Re-activating is the only way back to that name: the same account, not a new one.
    expect((await call(h, 'admin', 'PATCH', `/users/${created.body.id}`, { active: true, reason: 'rehired' })).body.id).toBe(created.body.id);
  });

  it('S3 [11.100]: PATCH /users cannot rename an account (unknown key username or fullName: 400)', async () => {
    const op1 = await userIdOf(h, 'op1');
    for (const body of [{ username: 'op1-renamed', reason: 'x' }, { fullName: 'Someone Else', reason: 'x' }]) {
      const r = await call(h, 'admin', 'PATCH', `/users/${op1}`, body);
      expect(r.status).toBe(400);
      expect(r.body.errors.map((e: { field: string }) => e.field)).toContain(Object.keys(body)[0]);
    }
  });
});

describe('EU GMP Annex 11 §11: periodic review of accounts', () => {
  it('Annex 11 §11: GET /reports/periodic-review lists users with roles and last login, and the privilege changes and lockouts of the period only', async () => {
    await advance(h, 48);
    const from = serverNow(h);
    const created = await call(h, 'admin', 'POST', '/users', { username: 'tech.p', fullName: 'Technician P', roles: ['operator'], password: 'Technician-P-Pass-1' });
    expect(created.status).toBe(201);
    const techP = created.body.id;
    expect((await call(h, 'admin', 'PATCH', `/users/${techP}`, { roles: ['operator', 'supervisor'], reason: 'promoted' })).status).toBe(200);
    const op2 = await userIdOf(h, 'op2');
    expect((await call(h, 'admin', 'POST', `/users/${op2}/password`, { password: 'Temporary-Reset-02', reason: 'forgot it' })).status).toBe(200);
    const qc2 = await userIdOf(h, 'qc2');
    for (let i = 0; i < 5; i++) await login('qc2', WRONG);
    expect((await call(h, 'admin', 'POST', `/users/${qc2}/unlock`, { reason: 'identity confirmed' })).status).toBe(200);
    const to = new Date(Date.parse(from) + HOUR).toISOString();
    await advance(h, 48);
    expect((await call(h, 'admin', 'PATCH', `/users/${techP}`, { active: false, reason: 'left (after the period)' })).status).toBe(200);

    const r = await call(h, 'qa1', 'GET', `/reports/periodic-review?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const review = r.body;
    // Privilege changes in the period, in order; none from before (the roster's creation) or after.
    expect(review.privilegeChanges.map((c: { action: string; userId: string }) => [c.action, c.userId])).toEqual([
      ['user.created', techP], ['user.updated', techP], ['password.reset', op2], ['account.unlocked', qc2],
    ]);
    expect(review.privilegeChanges[1]).toMatchObject({ before: { roles: ['operator'] }, after: { roles: ['operator', 'supervisor'] }, reason: 'promoted' });
    for (const c of review.privilegeChanges) expect(c.at >= from && c.at <= to, c.at).toBe(true);
    expect(review.lockouts.map((l: { userId: string }) => l.userId)).toEqual([qc2]);
    // Users: everyone, with roles and last login.
    const byName = Object.fromEntries(review.users.map((u: { username: string }) => [u.username, u]));
    for (const name of ['admin', 'op1', 'op2', 'sup1', 'sup2', 'qc1', 'qc2', 'qa1', 'qa2', 'insp1', 'tech.p']) expect(byName[name], name).toBeDefined();
    expect(byName.op1).toMatchObject({ roles: ['operator'], active: true, lastLoginAt: expect.stringMatching(/Z$/) });
    expect(byName['tech.p'].roles).toEqual(expect.arrayContaining(['operator', 'supervisor']));
    expect(byName['tech.p'].lastLoginAt, 'never logged in').toBeUndefined();

    // A period with no events lists none.
    const later = new Date(Date.parse(to) + HOUR).toISOString();
    const laterTo = new Date(Date.parse(to) + 2 * HOUR).toISOString();
    const empty = await call(h, 'insp1', 'GET', `/reports/periodic-review?from=${encodeURIComponent(later)}&to=${encodeURIComponent(laterTo)}`);
    expect(empty.status).toBe(200);
    expect(empty.body.privilegeChanges).toEqual([]);
    expect(empty.body.lockouts).toEqual([]);
    for (const user of ['op1', 'sup1', 'qc1']) expect((await call(h, user, 'GET', `/reports/periodic-review?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`)).status).toBe(403);
    // A period that ends before (or as) it starts is invalid input, as for the PDF: 400 on `to`.
    for (const [a, b] of [[to, from], [from, from]]) {
      const reversed = await call(h, 'qa1', 'GET', `/reports/periodic-review?from=${encodeURIComponent(a)}&to=${encodeURIComponent(b)}`);
      expect(reversed.status).toBe(400);
      expect(reversed.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(reversed.body.errors).toEqual([{ field: 'querystring.to', message: 'to must be later than from' }]);
    }
  });
});
