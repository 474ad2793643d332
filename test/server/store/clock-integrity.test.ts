// Clock integrity (21 CFR 11.10(e); ALCOA consistent). The inspector's finding, reproduced: a GMP
// database opened in training mode took a step dated 72 h ahead, and nothing refused a time earlier
// than the last row of a chain. Now a database is bound to one mode when it is created, and a write
// dated before a chain's last row is refused (503) with an alert row for QA and the administrator.
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../../server/app.js';
import { call, createBatch, din, freshRecord, harness, HOUR, recordState, type Harness } from '../../helpers.js';
import { expectProblem } from '../refusals/support.js';

// Each record is the store under test's: a SQLite file, or on PostgreSQL a database of its own.
const records: (() => Promise<void>)[] = [];
afterEach(async () => { for (const discard of records.splice(0)) await discard(); });
async function record() {
  const r = await freshRecord();
  records.push(r.discard);
  return { dbFile: r.dbFile, databaseUrl: r.databaseUrl };
}

describe('a database is bound to one mode for its life', () => {
  it('refuses to start a GMP database in training mode, and a training database in GMP mode, with a clear message', async () => {
    const gmp = await record();
    await (await buildApp({ ...gmp, training: false })).app.close();
    await expect(buildApp({ ...gmp, training: true })).rejects.toThrow(/is a GMP database: it cannot be started in training mode/);
    const training = await record();
    await (await buildApp({ ...training, training: true })).app.close();
    await expect(buildApp({ ...training, training: false })).rejects.toThrow(/is a training database: it can never become a GMP database/);
    // The same mode starts (control), and the binding is one audit row of the record.
    const again = await buildApp({ ...gmp, training: false });
    try {
      expect((await again.ctx.store.listAudit({ action: 'database.mode-bound' }, 10)).items.map((r) => JSON.parse(r.after!))).toEqual([{ mode: 'gmp' }]);
    } finally {
      await again.app.close();
    }
  });
});

describe('time on every chain never goes backwards', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  it('refuses a write while the clock reads earlier than the last row (503), records nothing, and writes one clock.went-back alert for QA and the administrator', async () => {
    h = await harness({ training: false, idleTimeoutMinutes: 600 });
    await createBatch(h, 'car-t', 1);
    const lastAt = (await h.ctx.store.lastAudit())!.at;
    const before = await recordState(h);
    h.tick(-2 * HOUR); // the server's clock is set back two hours
    const r = await call(h, 'op1', 'POST', '/batches', { processId: 'car-t', din: din(2).keyed, patient: { id: 'PT-2', weightKg: 70 } });
    expectProblem(r, 503);
    expect(r.body.type).toMatch(/clock-went-back/);
    expect(await recordState(h)).toEqual(before);
    const alerts = (await call(h, 'qa1', 'GET', '/audit?action=clock.went-back')).body.items;
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ userId: null, entity: 'clock', at: lastAt, after: { clockReads: new Date(h.wall.now).toISOString() } });
    expect(alerts[0].before.lastRecordedAt >= alerts[0].after.clockReads).toBe(true);
    expect((await call(h, 'admin', 'GET', '/audit?action=clock.went-back')).body.items).toHaveLength(1);
    // GET /alerts shows it to QA and the administrator, open while the clock is still behind.
    for (const reader of ['qa1', 'admin']) {
      const shown = (await call(h, reader, 'GET', '/alerts')).body.items.filter((a: any) => a.kind === 'clock-went-back');
      expect(shown, reader).toEqual([expect.objectContaining({ id: String(alerts[0].seq), userId: null, at: lastAt, open: true, detail: expect.stringContaining(alerts[0].before.lastRecordedAt) })]);
    }
    expect((await call(h, 'op1', 'GET', '/alerts')).status).toBe(403);
    // The chains still verify, and once the clock is right again work goes on.
    expect((await call(h, 'qa1', 'GET', '/audit/verify')).body.valid).toBe(true);
    h.tick(3 * HOUR);
    expect((await call(h, 'op1', 'POST', '/batches', { processId: 'car-t', din: din(2).keyed, patient: { id: 'PT-2', weightKg: 70 } })).status).toBe(201);
    expect((await call(h, 'qa1', 'GET', '/alerts')).body.items.find((a: any) => a.kind === 'clock-went-back').open).toBe(false);
  });

  it('checks each chain against its own last row: a write whose entry would pass is refused when the audit chain ends later', async () => {
    h = await harness({ training: false, idleTimeoutMinutes: 600 });
    await createBatch(h, 'car-t', 1);
    h.tick(HOUR);
    // A refused login is audited at the clock's reading: the audit chain now ends an hour after the entries chain.
    expect((await h.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'op1', password: 'not-the-password-1!' } })).statusCode).toBe(401);
    const lastAuditAt = (await h.ctx.store.lastAudit())!.at;
    const before = { ...await recordState(h), audit: (await h.ctx.store.counts()).audit };
    h.tick(-HOUR / 2); // after the last entry, before the last audit row
    const r = await call(h, 'op1', 'POST', '/batches', { processId: 'car-t', din: din(2).keyed, patient: { id: 'PT-2', weightKg: 70 } });
    expectProblem(r, 503);
    expect(r.body.type).toMatch(/clock-went-back/);
    expect(r.body.detail).toContain('audit_log chain');
    // Nothing of the refused write (its entry rolled back with it); one alert row, naming the audit chain.
    expect({ ...await recordState(h), audit: (await h.ctx.store.counts()).audit }).toEqual({ ...before, audit: before.audit + 1 });
    const alerts = (await call(h, 'qa1', 'GET', '/audit?action=clock.went-back')).body.items;
    expect(alerts).toEqual([expect.objectContaining({ at: lastAuditAt, before: { lastRecordedAt: lastAuditAt, chain: 'audit_log' }, after: { clockReads: new Date(h.wall.now).toISOString() } })]);
  });
});
