// Issue 10, finding 3: nothing stopped removing or deactivating the last active administrator. The
// guard (409 last-admin) used to be heard only in a race: only an administrator manages accounts, so
// the last one can only remove themselves, and the 403 self-deactivation / self-role-change answered
// first. API.md's order puts the state (409) before separation of duties (403), so the guard speaks
// first now, in every plain path: deactivating, demoting, and when every other administrator is
// locked out (a locked administrator cannot act until unlocked). Runs on SQLite and PostgreSQL.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, call, harness, type Harness } from '../../helpers.js';
import { auditAll, userIdOf } from '../part11/support.js';
import { updateUser } from '../../../server/services/accounts.js';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => h.close());

const WRONG = 'Wrong-Password-000';
const login = (username: string, password: string) => call(h, null, 'POST', '/auth/login', { username, password });

/** A second administrator, logged in with a password of its own. */
async function secondAdmin() {
  const created = await call(h, 'admin', 'POST', '/users', { username: 'admin2', fullName: 'Second Admin', roles: ['admin'], password: 'Temporary-Admin2-Pw' });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const first = await login('admin2', 'Temporary-Admin2-Pw');
  h.tokens.admin2 = first.body.token;
  expect((await call(h, 'admin2', 'POST', '/me/password', { currentPassword: 'Temporary-Admin2-Pw', newPassword: 'Second-Admin-Password-2' })).status).toBe(204);
  return created.body.id as string;
}

/** The refusal as a client reads it: 409 problem+json last-admin naming the field, and the user unchanged. */
async function expectLastAdmin(r: Awaited<ReturnType<typeof call>>, field: 'active' | 'roles', id: string, detail: RegExp) {
  expect(r.status, JSON.stringify(r.body)).toBe(409);
  expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(r.body).toMatchObject({ type: expect.stringMatching(/\/last-admin$/), status: 409, detail: expect.stringMatching(detail), errors: [{ field }] });
  expect(await h.ctx.store.findUserById(id)).toMatchObject({ active: true, roles: ['admin'] });
}

describe('the last administrator who can act', () => {
  it('the only admin deactivating themselves: 409 last-admin on active, nothing changed, one attempt.refused row', async () => {
    const admin1 = await userIdOf(h, 'admin');
    const before = (await auditAll(h, 'qa1', '&action=user.updated')).length;
    await expectLastAdmin(await call(h, 'admin', 'PATCH', `/users/${admin1}`, { active: false, reason: 'leaving' }), 'active', admin1, /admin is the last active administrator and cannot be deactivated: make another user admin first/);
    expect(await auditAll(h, 'qa1', '&action=user.updated')).toHaveLength(before);
    const refused = (await auditAll(h, 'qa1', '&action=attempt.refused')).filter((r) => r.entityId === admin1);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ after: { status: 409, code: 'last-admin' } });
    expect((await call(h, 'admin', 'GET', '/me')).status).toBe(200); // the session is untouched
  });

  it('words both account rules in Vietnamese for a reader who asks (Accept-Language: vi), the same fields and codes', async () => {
    const admin1 = await userIdOf(h, 'admin');
    const vi = (method: 'POST' | 'PATCH', url: string, payload: object) => h.app.inject({
      method, url: `/api/v1${url}`, payload, headers: { authorization: `Bearer ${h.tokens.admin}`, 'accept-language': 'vi' },
    });
    const last = await vi('PATCH', `/users/${admin1}`, { active: false, reason: 'leaving' });
    expect(last.statusCode).toBe(409);
    expect(last.headers['content-language']).toBe('vi');
    const detail = 'admin là quản trị viên cuối cùng còn hoạt động nên không thể bị vô hiệu hóa: hãy cấp quyền quản trị cho người dùng khác trước';
    expect(last.json()).toMatchObject({ type: expect.stringMatching(/\/last-admin$/), detail: expect.stringContaining(detail), errors: [{ field: 'active', message: detail }] });
    const taken = await vi('POST', '/users', { username: 'op1', fullName: 'Someone Else', roles: ['operator'], password: 'Temporary-Op1-Again-Pw' });
    expect(taken.statusCode).toBe(409);
    expect(taken.json()).toMatchObject({ type: expect.stringMatching(/\/username-taken$/), detail: expect.stringContaining('tên đăng nhập op1 đã có người dùng') });
    expect(await h.ctx.store.findUserById(admin1)).toMatchObject({ active: true, roles: ['admin'] });
  });

  it('the only admin taking away their own admin role (for inspector, or for a signing role): 409 last-admin on roles', async () => {
    const admin1 = await userIdOf(h, 'admin');
    await expectLastAdmin(await call(h, 'admin', 'PATCH', `/users/${admin1}`, { roles: ['inspector'], reason: 'x' }), 'roles', admin1, /cannot be removed from the admin role/);
    await expectLastAdmin(await call(h, 'admin', 'PATCH', `/users/${admin1}`, { roles: ['qa'], reason: 'x' }), 'roles', admin1, /cannot be removed from the admin role/);
    await expectLastAdmin(await call(h, 'admin', 'PATCH', `/users/${admin1}`, { roles: ['inspector'], active: false, reason: 'x' }), 'active', admin1, /cannot be deactivated/);
  });

  it('with a second admin, self-deactivation and self-demotion stay 403 (separation of duties), and the other may be deactivated', async () => {
    const admin2 = await secondAdmin();
    const admin1 = await userIdOf(h, 'admin');
    expect((await call(h, 'admin', 'PATCH', `/users/${admin1}`, { active: false, reason: 'x' })).body).toMatchObject({ status: 403, type: expect.stringMatching(/self-deactivation$/) });
    expect((await call(h, 'admin', 'PATCH', `/users/${admin1}`, { roles: ['inspector'], reason: 'x' })).body).toMatchObject({ status: 403, type: expect.stringMatching(/self-role-change$/) });
    expect((await call(h, 'admin', 'PATCH', `/users/${admin2}`, { active: false, reason: 'left' })).status).toBe(200);
    // Now the only one again: the guard speaks.
    await expectLastAdmin(await call(h, 'admin', 'PATCH', `/users/${admin1}`, { active: false, reason: 'x' }), 'active', admin1, /last active administrator/);
  });

  it('when every other admin is locked out, the one who can act is the last: 409 naming the locked ones; once one is unlocked, 403 self-deactivation again', async () => {
    const admin2 = await secondAdmin();
    const admin1 = await userIdOf(h, 'admin');
    for (let i = 0; i < 5; i++) expect((await login('admin2', WRONG)).status).toBe(401);
    expect((await login('admin2', 'Second-Admin-Password-2')).status).toBe(423);
    await expectLastAdmin(await call(h, 'admin', 'PATCH', `/users/${admin1}`, { active: false, reason: 'x' }), 'active', admin1,
      /admin is the last administrator who is not locked out \(admin2 locked\) and cannot be deactivated: unlock another administrator or make another user admin first/);
    await expectLastAdmin(await call(h, 'admin', 'PATCH', `/users/${admin1}`, { roles: ['inspector'], reason: 'x' }), 'roles', admin1, /admin2 locked/);
    // The locked admin may still be deactivated or demoted by the one who can act (who stays).
    expect((await call(h, 'admin', 'POST', `/users/${admin2}/unlock`, { reason: 'identity checked' })).status).toBe(200);
    expect((await call(h, 'admin', 'PATCH', `/users/${admin1}`, { active: false, reason: 'x' })).body).toMatchObject({ status: 403, type: expect.stringMatching(/self-deactivation$/) });
  });

  it('the locked admin can be deactivated by the admin who can act: that one stays', async () => {
    const admin2 = await secondAdmin();
    for (let i = 0; i < 5; i++) expect((await login('admin2', WRONG)).status).toBe(401);
    expect((await call(h, 'admin', 'PATCH', `/users/${admin2}`, { active: false, reason: 'compromised' })).status).toBe(200);
    expect(await h.ctx.store.activeAdminIds()).toEqual([await userIdOf(h, 'admin')]);
    expect((await login('admin', ADMIN_PASSWORD)).status).toBe(200);
  });

  it('two admins deactivating each other at the same moment: one wins, at least one admin stays active', async () => {
    const admin2 = await secondAdmin();
    const admin1 = await userIdOf(h, 'admin');
    const replies = await Promise.all([
      call(h, 'admin', 'PATCH', `/users/${admin2}`, { active: false, reason: 'left' }),
      call(h, 'admin2', 'PATCH', `/users/${admin1}`, { active: false, reason: 'left' }),
    ]);
    expect(replies.filter((r) => r.status === 200)).toHaveLength(1);
    expect([401, 409]).toContain(replies.find((r) => r.status !== 200)!.status);
    expect(await h.ctx.store.activeAdminIds()).toHaveLength(1);
  });

  it('a request already past authentication cannot deactivate the admin who remains: 409 last-admin, nothing changed', async () => {
    const admin2 = await secondAdmin();
    const admin1 = await userIdOf(h, 'admin');
    const staleAdmin2 = (await h.ctx.store.findUserById(admin2))!; // authenticated before its deactivation landed
    expect((await call(h, 'admin', 'PATCH', `/users/${admin2}`, { active: false, reason: 'left' })).status).toBe(200);
    await expect(updateUser(h.ctx, staleAdmin2, admin1, { active: false, reason: 'race' })).rejects.toMatchObject({ status: 409, code: 'last-admin' });
    await expect(updateUser(h.ctx, staleAdmin2, admin1, { roles: ['qa'], reason: 'race' })).rejects.toMatchObject({ status: 409, code: 'last-admin' });
    expect(await h.ctx.store.findUserById(admin1)).toMatchObject({ active: true, roles: ['admin'] });
  });
});
