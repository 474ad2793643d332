// R9 [21 CFR 11.10(g); FDA data-integrity Q&A Q4]: the administrator manages accounts and signs nothing.
// The inspector's finding, reproduced: the admin PATCHed its own roles to [admin, operator, qa] (200),
// then signed GMP records as "Administrator". Now nobody changes their own roles, `admin` never sits
// beside a signing role, an admin's credentials are refused in any signature (also for an older account
// that still combines them in the database file), and the first account is a named person.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, call, createBatch, freshRecord, harness, PASSWORD, recordState, sign, type Harness } from '../../helpers.js';
import { buildApp } from '../../../server/app.js';
import { bootstrapAdmin, TRAINING_ADMIN_NAME } from '../../../server/services/bootstrap.js';
import { expectProblem, receiptValues } from '../refusals/support.js';
import { auditedBy, userIdOf } from './support.js';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => h.close());

const users = async () => (await call(h, 'admin', 'GET', '/users?limit=500')).body.items as { id: string; username: string; roles: string[] }[];

describe('R9 [11.10(g)]: nobody changes their own roles; admin never combines with a signing role', () => {
  it('refuses the admin giving itself operator and qa (400 on roles, the combination) and any change of its own roles (403)', async () => {
    const admin = await userIdOf(h, 'admin');
    const before = await users();
    const combined = await auditedBy(h, () => call(h, 'admin', 'PATCH', `/users/${admin}`, { roles: ['admin', 'operator', 'qa'], reason: 'cover the night shift' }));
    expectProblem(combined.reply, 400, ['roles']);
    expect(combined.rows.map((r) => r.action)).toEqual(['attempt.refused']);
    const self = await auditedBy(h, () => call(h, 'admin', 'PATCH', `/users/${admin}`, { roles: ['admin', 'inspector'], reason: 'read the records too' }));
    expectProblem(self.reply, 403);
    expect(self.reply.body.detail).toMatch(/own roles/);
    expect(self.rows.map((r) => r.action)).toEqual(['attempt.refused']);
    expect(await users()).toEqual(before);
  });

  it('refuses creating a user with admin and a signing role, or giving admin to a signer, with 400 on roles', async () => {
    for (const roles of [['admin', 'operator'], ['admin', 'supervisor'], ['admin', 'qc'], ['qa', 'admin']]) {
      const state = await recordState(h);
      expectProblem(await call(h, 'admin', 'POST', '/users', { username: `x.${roles.join('')}`, fullName: 'Someone', roles, password: 'Long-Enough-Pass-1' }), 400, ['roles']);
      expect(await recordState(h)).toEqual(state);
    }
    const qa1 = await userIdOf(h, 'qa1');
    expectProblem(await call(h, 'admin', 'PATCH', `/users/${qa1}`, { roles: ['qa', 'admin'], reason: 'deputy admin' }), 400, ['roles']);
    expect((await users()).find((u) => u.username === 'qa1')!.roles).toEqual(['qa']);
  });

  it('lets another administrator change an admin\'s roles, and admin beside inspector (control)', async () => {
    expect((await call(h, 'admin', 'POST', '/users', { username: 'admin2', fullName: 'Second Admin', roles: ['admin', 'inspector'], password: 'Second-Admin-Pass-1' })).status).toBe(201);
    const admin2 = await userIdOf(h, 'admin2');
    const r = await call(h, 'admin', 'PATCH', `/users/${admin2}`, { roles: ['admin'], reason: 'read-only role not needed' });
    expect(r.status).toBe(200);
    expect(r.body.roles).toEqual(['admin']);
  });

  it('refuses an administrator\'s credentials in a signature even where an older account still holds a signing role in the database file', async () => {
    const batch = await createBatch(h, 'car-t', 1);
    // An account made before this rule: admin beside operator, as the file of an older database holds it.
    await h.ctx.store.updateUser(await userIdOf(h, 'admin'), { roles: ['admin', 'operator'] });
    const before = await recordState(h);
    const r = await auditedBy(h, () => call(h, 'op1', 'POST', `/batches/${batch.id}/steps/apheresis-receipt`, { values: receiptValues(h, 1), signature: sign('admin', ADMIN_PASSWORD), expectedVersion: batch.version }));
    expectProblem(r.reply, 403);
    expect(r.reply.body.detail).toMatch(/signs no GMP record/);
    expect(r.rows.map((x) => [x.action, x.reason])).toEqual([['signature.refused', 'an administrator signs nothing']]);
    expect(await recordState(h)).toEqual(before);
    // The operator's own signature on the same terminal goes through (control).
    expect((await call(h, 'op1', 'POST', `/batches/${batch.id}/steps/apheresis-receipt`, { values: receiptValues(h, 1), signature: sign('op1', PASSWORD), expectedVersion: batch.version })).status).toBe(201);
  });
});

describe('the first account is a named person (ALCOA attributable)', () => {
  // An empty record of the store under test (on PostgreSQL a database of its own), with no harness users.
  const records: (() => Promise<void>)[] = [];
  afterEach(async () => { for (const discard of records.splice(0)) await discard(); });
  async function fresh(training: boolean) {
    const r = await freshRecord();
    records.push(r.discard);
    return buildApp({ dbFile: r.dbFile, databaseUrl: r.databaseUrl, training });
  }

  it('creates the first administrator with the configured username and printed name', async () => {
    const { app, ctx } = await fresh(false);
    try {
      const lines: string[] = [];
      await bootstrapAdmin(ctx, ADMIN_PASSWORD, (l) => lines.push(l), { username: 'k.bui', fullName: 'Bùi Quốc Khánh' });
      const row = (await ctx.store.findUserByUsername('k.bui'))!;
      expect(row).toMatchObject({ fullName: 'Bùi Quốc Khánh', roles: ['admin'] });
      expect(lines.join('\n')).toContain('Bùi Quốc Khánh');
    } finally { await app.close(); }
  });

  it('keeps the username admin by default (API.md), with the name from the settings', async () => {
    const { app, ctx } = await fresh(false);
    try {
      await bootstrapAdmin(ctx, ADMIN_PASSWORD, () => {}, { fullName: 'Bùi Quốc Khánh' });
      expect((await ctx.store.findUserByUsername('admin'))?.fullName).toBe('Bùi Quốc Khánh');
    } finally { await app.close(); }
  });

  it('names a GMP database\'s first administrator after the OS account when no name is set, and refuses a bad username', async () => {
    const { app, ctx } = await fresh(false);
    try {
      await expect(bootstrapAdmin(ctx, ADMIN_PASSWORD, () => {}, { username: 'bad name', fullName: 'X Y' })).rejects.toThrow(/CELLBATCH_ADMIN_USERNAME/);
      expect(await ctx.store.countUsers()).toBe(0);
      // A password the policy refuses stops the start naming the setting and the rule, and creates nobody.
      await expect(bootstrapAdmin(ctx, 'short', () => {}, { fullName: 'X Y' })).rejects.toThrow(/^CELLBATCH_ADMIN_PASSWORD cannot be the first administrator's password: the password must be at least 12 characters long/);
      await expect(bootstrapAdmin(ctx, 'Admin.Person', () => {}, { username: 'admin.person', fullName: 'X Y' })).rejects.toThrow(/^CELLBATCH_ADMIN_PASSWORD .*must not be the username/);
      expect(await ctx.store.countUsers()).toBe(0);
      const printed: string[] = [];
      await bootstrapAdmin(ctx, ADMIN_PASSWORD, (line) => printed.push(line));
      expect((await ctx.store.findUserByUsername('admin'))?.fullName).toMatch(/\(operating-system account\)$/);
      expect(printed[0]).toMatch(/WARNING: CELLBATCH_ADMIN_NAME is not set/);
    } finally { await app.close(); }
  });

  it('names a training database\'s administrator "Training Administrator" when no name is set', async () => {
    const { app, ctx } = await fresh(true);
    try {
      await bootstrapAdmin(ctx, ADMIN_PASSWORD, () => {});
      expect((await ctx.store.findUserByUsername('admin'))?.fullName).toBe(TRAINING_ADMIN_NAME);
    } finally { await app.close(); }
  });
});
