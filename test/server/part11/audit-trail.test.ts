// R6 [21 CFR 11.10(e); EU GMP Annex 11 §9]: every create, change, state change, user or role change,
// login, logout, failed login, refused signature and export writes EXACTLY ONE audit row, with the
// server's time, the acting user, the action, the entity, the old and new value and the reason; a no-op
// writes none; a change to GMP data without a reason is 400; times and users never come from the client.
// R7 [11.10(e)]: no API changes or deletes an audit row (the database triggers that refuse UPDATE and
// DELETE are proven in test/server/store/append-only.test.ts "the database refuses to change the record";
// an edited or deleted row is located in test/server/store/tampering.test.ts).
// And the audit listing: filters, paging with limit + cursor, CSV and JSON export.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { advance, call, createBatch, din, harness, HOUR, PASSWORD, recordState, registerCatalogue, sign, type Harness } from '../../helpers.js';
import { day, receiptValues, record, sampleValues, selectionValues, toSelection, verify, version } from '../refusals/support.js';
import { auditAll, auditedBy, type AuditItem, serverNow, userIdOf } from './support.js';
import { AUDIT_ACTIONS } from '../../../schemas/audit-actions.js';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => h.close());

/** Exactly one row, of this action, at the server's now, by this user. */
function expectOneRow(rows: AuditItem[], action: string, userId: string | null, at = serverNow(h)): AuditItem {
  expect(rows.map((r) => r.action), `exactly one ${action} row`).toEqual([action]);
  const row = rows[0];
  expect(row.userId).toBe(userId);
  expect(row.at, 'server time').toBe(at);
  expect(typeof row.entity).toBe('string');
  expect(row.entity.length).toBeGreaterThan(0);
  expect(row.hash).toMatch(/^[0-9a-f]{64}$/);
  return row;
}

const noSecrets = (row: AuditItem) => {
  const text = JSON.stringify(row);
  expect(text).not.toContain(PASSWORD);
  expect(text).not.toMatch(/passwordHash|argon2/);
};

describe('R6 [11.10(e)]: exactly one audit row per event, with who, when, what, old and new value, why', () => {
  it('R6 [11.10(e)]: creating a user, changing their roles and deactivating them each write exactly one row', async () => {
    const admin = await userIdOf(h, 'admin');
    const created = await auditedBy(h, () => call(h, 'admin', 'POST', '/users', { username: 'tech.a', fullName: 'Technician A', roles: ['operator'], password: 'Technician-A-Pass-1' }));
    expect(created.reply.status).toBe(201);
    const id = created.reply.body.id;
    const c = expectOneRow(created.rows, 'user.created', admin);
    expect(c).toMatchObject({ entity: 'user', entityId: id, after: { username: 'tech.a', fullName: 'Technician A', roles: ['operator'] } });
    noSecrets(c);

    const roles = await auditedBy(h, () => call(h, 'admin', 'PATCH', `/users/${id}`, { roles: ['operator', 'qc'], reason: 'trained on flow cytometry' }));
    expect(roles.reply.status).toBe(200);
    expect(expectOneRow(roles.rows, 'user.updated', admin)).toMatchObject({
      entity: 'user', entityId: id, before: { roles: ['operator'] }, after: { roles: ['operator', 'qc'] }, reason: 'trained on flow cytometry',
    });

    const off = await auditedBy(h, () => call(h, 'admin', 'PATCH', `/users/${id}`, { active: false, reason: 'left the company' }));
    expect(off.reply.status).toBe(200);
    expect(expectOneRow(off.rows, 'user.updated', admin)).toMatchObject({
      entity: 'user', entityId: id, before: { active: true }, after: { active: false }, reason: 'left the company',
    });
  });

  it('R6 [11.10(e)]: a login, a logout and a failed login each write exactly one row', async () => {
    const op1 = await userIdOf(h, 'op1');
    const login = await auditedBy(h, () => call(h, null, 'POST', '/auth/login', { username: 'op1', password: PASSWORD }));
    expect(login.reply.status).toBe(200);
    expect(expectOneRow(login.rows, 'login', op1)).toMatchObject({ entityId: op1 });
    h.tokens.op1 = login.reply.body.token;

    const logout = await auditedBy(h, () => call(h, 'op1', 'POST', '/auth/logout'));
    expect(logout.reply.status).toBe(204);
    expect(expectOneRow(logout.rows, 'logout', op1)).toMatchObject({ entityId: op1 });

    const failed = await auditedBy(h, () => call(h, null, 'POST', '/auth/login', { username: 'op1', password: 'Wrong-Password-000' }));
    expect(failed.reply.status).toBe(401);
    const f = expectOneRow(failed.rows, 'login.failed', op1);
    expect(f.after).toMatchObject({ username: 'op1' });
    noSecrets(f);
    expect(JSON.stringify(f)).not.toContain('Wrong-Password-000');

    // A wrong current password at POST /me/password is a failed login too: one row, not two.
    const change = await auditedBy(h, () => call(h, 'op2', 'POST', '/me/password', { currentPassword: 'Wrong-Password-000', newPassword: 'Another-Password-77' }));
    expect(change.reply.status).toBe(401);
    expectOneRow(change.rows, 'login.failed', await userIdOf(h, 'op2'));

    // An unknown username is audited too (who tried is the username typed).
    const unknown = await auditedBy(h, () => call(h, null, 'POST', '/auth/login', { username: 'intruder', password: 'Wrong-Password-000' }));
    expect(unknown.reply.status).toBe(401);
    expect(expectOneRow(unknown.rows, 'login.failed', null).after).toMatchObject({ username: 'intruder' });
  });

  it('R6 [11.10(e)]: a refused signature writes exactly one row (wrong password; signer without the role)', async () => {
    const batch = await createBatch(h, 'car-t', 1);
    const op1 = await userIdOf(h, 'op1');
    const qc1 = await userIdOf(h, 'qc1');
    const before = await recordState(h);
    const wrong = await auditedBy(h, () => call(h, 'op1', 'POST', `/batches/${batch.id}/steps/apheresis-receipt`, { values: receiptValues(h, 1), signature: sign('op1', 'Wrong-Password-000'), expectedVersion: batch.version }));
    expect(wrong.reply.status).toBe(401);
    expect(expectOneRow(wrong.rows, 'signature.failed', op1)).toMatchObject({ batchId: batch.id });
    const role = await auditedBy(h, () => call(h, 'op1', 'POST', `/batches/${batch.id}/steps/apheresis-receipt`, { values: receiptValues(h, 1), signature: sign('qc1'), expectedVersion: batch.version }));
    expect(role.reply.status).toBe(403);
    expect(expectOneRow(role.rows, 'signature.refused', qc1)).toMatchObject({ batchId: batch.id, reason: expect.any(String) });
    expect(await recordState(h)).toEqual(before);
  });

  it('R6 [11.10(e)]: a refused step writes exactly one audit row of the attempt (409 wrong order, 400 bad values, 422 expired lot)', async () => {
    const op1 = await userIdOf(h, 'op1');
    const cat = await registerCatalogue(h, 'car-t');
    const batch = await createBatch(h, 'car-t', 2);
    const post = (stepId: string, values: Record<string, unknown>, v: number) =>
      call(h, 'op1', 'POST', `/batches/${batch.id}/steps/${stepId}`, { values, signature: sign('op1'), expectedVersion: v });
    const state = await recordState(h);

    const order = await auditedBy(h, () => post('cd4-cd8-selection', selectionValues(cat), batch.version));
    expect(order.reply.status).toBe(409);
    expect(expectOneRow(order.rows, 'attempt.refused', op1)).toMatchObject({ batchId: batch.id, entityId: batch.id, after: { status: 409 } });

    const values = await auditedBy(h, () => post('apheresis-receipt', { ...receiptValues(h, 2), volume: 'a lot' }, batch.version));
    expect(values.reply.status).toBe(400);
    const v = expectOneRow(values.rows, 'attempt.refused', op1);
    expect(v).toMatchObject({ batchId: batch.id, after: { status: 400 } });
    expect(JSON.stringify(v.after)).toContain('values.volume');
    expect(await recordState(h)).toEqual(state);

    await toSelection(h, batch.id, 2);
    const expired = (await call(h, 'qa1', 'POST', '/materials', { type: 'buffer', name: 'old buffer', lotNumber: 'OLD-1', expiresOn: day(h, -1), status: 'released' })).body.id;
    const state2 = await recordState(h);
    const lot = await auditedBy(h, async () => post('cd4-cd8-selection', { ...selectionValues(cat), bufferLot: expired }, await version(h, batch.id)));
    expect(lot.reply.status).toBe(422);
    expect(expectOneRow(lot.rows, 'step.refused', op1)).toMatchObject({ batchId: batch.id, entity: 'batch', reason: expect.any(String) });
    expect(await recordState(h)).toEqual(state2);
  });

  it('R6 [11.10(e)]: a lot status change and a calibration change write one row with the old and new value and the reason', async () => {
    const qa1 = await userIdOf(h, 'qa1');
    const sup1 = await userIdOf(h, 'sup1');
    const lot = (await call(h, 'qa1', 'POST', '/materials', { type: 'buffer', name: 'buffer', lotNumber: 'B-7', expiresOn: day(h, 100), status: 'released' })).body.id;
    const eq = (await call(h, 'sup1', 'POST', '/equipment', { assetId: 'EQ-7', type: 'cell-processor', name: 'Prodigy', calibrationDueOn: day(h, 10) })).body.id;

    const status = await auditedBy(h, () => call(h, 'qa1', 'PATCH', `/materials/${lot}`, { status: 'quarantined', reason: 'supplier recall' }));
    expect(status.reply.status).toBe(200);
    expect(expectOneRow(status.rows, 'material.status-changed', qa1)).toMatchObject({
      entity: 'material', entityId: lot, before: { status: 'released' }, after: { status: 'quarantined' }, reason: 'supplier recall',
    });

    const cal = await auditedBy(h, () => call(h, 'sup1', 'PATCH', `/equipment/${eq}`, { calibrationDueOn: day(h, 375), reason: 'annual calibration done' }));
    expect(cal.reply.status).toBe(200);
    expect(expectOneRow(cal.rows, 'equipment.calibration-changed', sup1)).toMatchObject({
      entity: 'equipment', entityId: eq, before: { calibrationDueOn: day(h, 10) }, after: { calibrationDueOn: day(h, 375) }, reason: 'annual calibration done',
    });
  });

  it('R6 [11.10(e)]: moving the training clock writes one row with the old and the new time', async () => {
    const sup1 = await userIdOf(h, 'sup1');
    const was = serverNow(h);
    const moved = await auditedBy(h, () => call(h, 'sup1', 'POST', '/training/clock', { advanceHours: 1.5 }));
    expect(moved.reply.status).toBe(200);
    const row = expectOneRow(moved.rows, 'training.clock-moved', sup1);
    expect(row).toMatchObject({ before: { now: was }, after: { now: moved.reply.body.now } });
    expect(Date.parse(moved.reply.body.now) - Date.parse(was)).toBe(1.5 * HOUR);
  });

  it('R6 [11.10(e)]: creating a batch, recording a step, verifying it and correcting it each write exactly one row', async () => {
    const [op1, op2] = [await userIdOf(h, 'op1'), await userIdOf(h, 'op2')];
    const created = await auditedBy(h, () => call(h, 'op1', 'POST', '/batches', { processId: 'car-t', din: din(3).keyed, patient: { id: 'PT-3', weightKg: 70 } }));
    expect(created.reply.status).toBe(201);
    const batchId = created.reply.body.id;
    expect(expectOneRow(created.rows, 'batch.created', op1)).toMatchObject({ entity: 'batch', entityId: batchId, batchId, after: { din: din(3).din } });

    await record(h, batchId, 'apheresis-receipt', receiptValues(h, 3));
    const step = await auditedBy(h, async () => call(h, 'op1', 'POST', `/batches/${batchId}/steps/starting-material-sample`, { values: sampleValues, signature: sign('op1'), expectedVersion: await version(h, batchId) }));
    expect(step.reply.status).toBe(201);
    const entryId = step.reply.body.entry.id;
    expect(expectOneRow(step.rows, 'step.recorded', op1)).toMatchObject({ entity: 'entry', entityId: entryId, batchId, after: { stepId: 'starting-material-sample', values: sampleValues } });

    const verified = await auditedBy(h, () => call(h, 'op2', 'POST', `/batches/${batchId}/entries/${entryId}/verify`, { signature: sign('op2') }));
    expect(verified.reply.status).toBe(201);
    expect(expectOneRow(verified.rows, 'step.verified', op2)).toMatchObject({ entityId: entryId, batchId });

    const corrected = await auditedBy(h, () => call(h, 'op1', 'POST', `/batches/${batchId}/entries/${entryId}/corrections`, { values: { viability: 90 }, reason: 'transcription error', signature: sign('op1') }));
    expect(corrected.reply.status).toBe(201);
    expect(expectOneRow(corrected.rows, 'entry.corrected', op1)).toMatchObject({
      entityId: entryId, batchId, before: { viability: 95 }, after: { viability: 90 }, reason: 'transcription error',
    });
  });

  it('R6 [11.10(e)]: each deviation a step opens is its own audit row (an OOS and a timing deviation: two deviation.opened rows beside step.recorded)', async () => {
    const op1 = await userIdOf(h, 'op1');
    const batch = await createBatch(h, 'car-t', 7);
    const now = Date.parse(serverNow(h));
    // 30 °C in transport (spec 2–25 °C) and received 60 h after the end of collection (window 48 h).
    const values = { ...receiptValues(h, 7), transportTemperature: 30, collectionEnd: new Date(now - 61 * HOUR).toISOString(), receivedAt: new Date(now - HOUR).toISOString() };
    const step = await auditedBy(h, async () => call(h, 'op1', 'POST', `/batches/${batch.id}/steps/apheresis-receipt`, { values, signature: sign('op1'), expectedVersion: batch.version }));
    expect(step.reply.status, JSON.stringify(step.reply.body)).toBe(201);
    const deviations = (await call(h, 'qa1', 'GET', `/batches/${batch.id}/deviations`)).body.items as { id: string; kind: string; description: string }[];
    expect(deviations.map((d) => d.kind).sort()).toEqual(['oos', 'timing']);
    const opened = step.rows.filter((r) => r.action === 'deviation.opened');
    expect(opened.map((r) => r.entityId).sort()).toEqual(deviations.map((d) => d.id).sort());
    for (const r of opened) {
      const d = deviations.find((x) => x.id === r.entityId)!;
      expect(r).toMatchObject({ userId: op1, entity: 'deviation', batchId: batch.id, after: { kind: d.kind, stepId: 'apheresis-receipt', entryId: step.reply.body.entry.id, description: d.description } });
    }
    expect(step.rows.filter((r) => r.action === 'step.recorded')).toHaveLength(1);
    // GET /audit?action=deviation.opened finds them like any other event.
    expect((await auditAll(h, 'qa1', '&action=deviation.opened')).map((r) => r.entityId).sort()).toEqual(opened.map((r) => r.entityId).sort());
  });

  it('R6 [11.10(e)]: every row of the trail names an action of the registry (schemas/audit-actions.ts), about the entity the registry gives it', async () => {
    const batch = await createBatch(h, 'car-t', 4);
    await record(h, batch.id, 'apheresis-receipt', receiptValues(h, 4));
    expect((await call(h, 'op1', 'POST', '/auth/login', { username: 'op1', password: 'wrong-password-1' })).status).toBe(401);
    expect((await call(h, 'op1', 'POST', `/batches/${batch.id}/terminate`, { reason: 'no', signature: sign('sup1') })).status).toBe(403);
    const rows = await auditAll(h);
    expect(rows.length).toBeGreaterThan(5);
    for (const r of rows) {
      expect(Object.keys(AUDIT_ACTIONS), `row ${r.seq}`).toContain(r.action);
      const spec = AUDIT_ACTIONS[r.action as keyof typeof AUDIT_ACTIONS];
      if (r.action !== 'attempt.refused' && r.action !== 'signature.refused') expect(r.entity, `row ${r.seq} (${r.action})`).toBe(spec.entity);
    }
    expect(rows.map((r) => r.action)).toEqual(expect.arrayContaining(['user.created', 'login', 'login.failed', 'batch.created', 'step.recorded', 'attempt.refused']));
  });

  it('R6 [11.10(e)]: an audit export writes exactly one row, in either format', async () => {
    const qa1 = await userIdOf(h, 'qa1');
    for (const format of ['csv', 'json']) {
      const exp = await auditedBy(h, () => call(h, 'qa1', 'GET', `/audit/export?format=${format}`));
      expect(exp.reply.status).toBe(200);
      expect(expectOneRow(exp.rows, 'audit.exported', qa1)).toMatchObject({ entity: 'audit', after: { format } });
    }
  });

  it('R6 [11.10(e)]: a no-op writes no audit row (same roles, same lot status, same due date, clock +0 h, unlocking an unlocked user)', async () => {
    const op2 = await userIdOf(h, 'op2');
    const lot = (await call(h, 'qa1', 'POST', '/materials', { type: 'buffer', name: 'buffer', lotNumber: 'B-8', expiresOn: day(h, 100), status: 'released' })).body.id;
    const eq = (await call(h, 'sup1', 'POST', '/equipment', { assetId: 'EQ-8', type: 'cell-processor', name: 'Prodigy', calibrationDueOn: day(h, 100) })).body.id;
    const noops: [string, 'PATCH' | 'POST', string, unknown][] = [
      ['admin', 'PATCH', `/users/${op2}`, { roles: ['operator'], reason: 'review: unchanged' }],
      ['admin', 'PATCH', `/users/${op2}`, { active: true, reason: 'review: unchanged' }],
      ['qa1', 'PATCH', `/materials/${lot}`, { status: 'released', reason: 'still released' }],
      ['sup1', 'PATCH', `/equipment/${eq}`, { calibrationDueOn: day(h, 100), reason: 'same date' }],
      ['sup1', 'POST', '/training/clock', { advanceHours: 0 }],
      ['admin', 'POST', '/training/clock', { set: serverNow(h) }],
      ['admin', 'POST', `/users/${op2}/unlock`, { reason: 'not locked' }],
    ];
    for (const [user, method, url, body] of noops) {
      const r = await auditedBy(h, () => call(h, user, method, url, body));
      expect(r.reply.status, `${method} ${url}`).toBe(200);
      expect(r.rows.map((x) => x.action), `${method} ${url} ${JSON.stringify(body)} is a no-op`).toEqual([]);
    }
  });

  it('R6 [11.10(e); Annex 11 §9]: a change without a reason is 400, changes nothing and leaves at most the attempt row', async () => {
    const op2 = await userIdOf(h, 'op2');
    const lot = (await call(h, 'qa1', 'POST', '/materials', { type: 'buffer', name: 'buffer', lotNumber: 'B-9', expiresOn: day(h, 100), status: 'released' })).body.id;
    const eq = (await call(h, 'sup1', 'POST', '/equipment', { assetId: 'EQ-9', type: 'cell-processor', name: 'Prodigy', calibrationDueOn: day(h, 100) })).body.id;
    const batch = await createBatch(h, 'car-t', 4);
    const receipt = await record(h, batch.id, 'apheresis-receipt', receiptValues(h, 4));
    for (let i = 0; i < 5; i++) await call(h, null, 'POST', '/auth/login', { username: 'op2', password: 'Wrong-Password-000' });
    const users = (await call(h, 'admin', 'GET', '/users?limit=500')).body.items;
    const lots = (await call(h, 'qa1', 'GET', '/materials?limit=500')).body.items;
    const eqs = (await call(h, 'qa1', 'GET', '/equipment?limit=500')).body.items;
    const changes: [string, 'PATCH' | 'POST', string, Record<string, unknown>][] = [
      ['admin', 'PATCH', `/users/${op2}`, { roles: ['operator', 'qc'] }],
      ['admin', 'PATCH', `/users/${op2}`, { active: false }],
      ['admin', 'POST', `/users/${op2}/password`, { password: 'Reset-Password-123' }],
      ['admin', 'POST', `/users/${op2}/unlock`, {}],
      ['qa1', 'PATCH', `/materials/${lot}`, { status: 'quarantined' }],
      ['sup1', 'PATCH', `/equipment/${eq}`, { calibrationDueOn: day(h, 400) }],
      ['op1', 'POST', `/batches/${batch.id}/entries/${receipt.entry.id}/corrections`, { values: { volume: 150 }, signature: sign('op1') }],
      ['sup1', 'POST', `/batches/${batch.id}/terminate`, { signature: sign('sup1') }],
    ];
    for (const [user, method, url, body] of changes) {
      for (const reason of [undefined, '', '   ']) {
        const state = await recordState(h);
        const r = await auditedBy(h, () => call(h, user, method, url, reason === undefined ? body : { ...body, reason }));
        expect(r.reply.status, `${method} ${url} reason=${JSON.stringify(reason)}`).toBe(400);
        expect(r.reply.body.errors.map((e: { field: string }) => e.field)).toContain('reason');
        expect(r.rows.map((x) => x.action), 'only the refused attempt is audited').toEqual(['attempt.refused']);
        expect(await recordState(h)).toEqual(state);
      }
    }
    expect((await call(h, 'admin', 'GET', '/users?limit=500')).body.items).toEqual(users);
    expect((await call(h, 'qa1', 'GET', '/materials?limit=500')).body.items).toEqual(lots);
    expect((await call(h, 'qa1', 'GET', '/equipment?limit=500')).body.items).toEqual(eqs);
  });

  it('R6 [11.10(e)]: audit times and users come from the server — a client-sent time or user field is refused (strict bodies), headers change nothing', async () => {
    const sup1 = await userIdOf(h, 'sup1');
    const admin = await userIdOf(h, 'admin');
    const batch = await createBatch(h, 'car-t', 5);
    const lot = (await call(h, 'qa1', 'POST', '/materials', { type: 'buffer', name: 'buffer', lotNumber: 'B-10', expiresOn: day(h, 100), status: 'released' })).body.id;
    const forged = { at: '2001-01-01T00:00:00Z', userId: admin, createdAt: '2001-01-01T00:00:00Z', recordedAt: '2001-01-01T00:00:00Z', performedBy: 'qa2', signedAt: '2001-01-01T00:00:00Z' };
    const bodies: [string, 'POST' | 'PATCH', string, Record<string, unknown>][] = [
      ['sup1', 'POST', '/materials', { type: 'buffer', name: 'b', lotNumber: 'F-1', expiresOn: day(h, 100), status: 'released' }],
      ['qa1', 'PATCH', `/materials/${lot}`, { status: 'quarantined', reason: 'recall' }],
      ['op1', 'POST', '/batches', { processId: 'car-t', din: din(6).keyed, patient: { id: 'PT-6', weightKg: 70 } }],
      ['op1', 'POST', `/batches/${batch.id}/steps/apheresis-receipt`, { values: receiptValues(h, 5), signature: sign('op1'), expectedVersion: batch.version }],
      ['admin', 'POST', '/users', { username: 'tech.f', fullName: 'F', roles: ['operator'], password: 'Technician-F-Pass-1' }],
      ['sup1', 'POST', '/training/clock', { advanceHours: 1 }],
    ];
    for (const [user, method, url, body] of bodies) {
      for (const [key, value] of Object.entries(forged)) {
        const state = await recordState(h);
        const r = await auditedBy(h, () => call(h, user, method, url, { ...body, [key]: value }));
        expect(r.reply.status, `${method} ${url} with ${key}`).toBe(400);
        expect(r.reply.body.errors.map((e: { field: string }) => e.field)).toContain(key);
        expect(r.rows.map((x) => x.action)).toEqual(['attempt.refused']);
        expect(await recordState(h)).toEqual(state);
      }
    }
    // A signature cannot carry a time or a user id either.
    const sig = await call(h, 'op1', 'POST', `/batches/${batch.id}/steps/apheresis-receipt`, { values: receiptValues(h, 5), signature: { ...sign('op1'), signedAt: '2001-01-01T00:00:00Z' }, expectedVersion: batch.version });
    expect(sig.status).toBe(400);
    expect(sig.body.errors.map((e: { field: string }) => e.field)).toContain('signature.signedAt');
    // Headers a client controls (Date, a claimed user) do not reach the row: server time, session user.
    const res = await h.app.inject({
      method: 'POST', url: '/api/v1/materials', payload: { type: 'buffer', name: 'b', lotNumber: 'F-2', expiresOn: day(h, 100), status: 'quarantined' },
      headers: { authorization: `Bearer ${h.tokens.sup1}`, date: 'Mon, 01 Jan 2001 00:00:00 GMT', 'x-user-id': admin, 'x-forwarded-user': 'admin' },
    });
    expect(res.statusCode).toBe(201);
    const rows = await auditAll(h, 'qa1', '&action=material.registered');
    const row = rows.find((x) => x.entityId === res.json().id)!;
    expect(row.userId).toBe(sup1);
    expect(row.at).toBe(serverNow(h));
  });
});

describe('R7 [11.10(e)]: no API changes or deletes an audit row, for any role', () => {
  it('R7 [11.10(e)]: PUT, PATCH, DELETE and POST under /audit answer 404/405 for every role and without a token; the trail is unchanged', async () => {
    const batch = await createBatch(h, 'car-t', 7);
    await record(h, batch.id, 'apheresis-receipt', receiptValues(h, 7));
    const before = await auditAll(h);
    const seq = before[before.length - 1].seq;
    const urls = ['/api/v1/audit', '/api/v1/audit/1', `/api/v1/audit/${seq}`, '/api/v1/audit/export', '/api/v1/audit/verify', '/api/v1/audit/keys',
      `/api/v1/batches/${batch.id}/audit`, `/api/v1/batches/${batch.id}/audit/1`, '/api/v1/audit_log', '/api/v1/audit-log/1'];
    const bodies = [{ action: 'nothing.happened', reason: 'rewrite' }, { seq: 1, at: '2000-01-01T00:00:00Z', userId: null }];
    const failures: string[] = [];
    for (const user of [null, 'admin', 'op1', 'sup1', 'qc1', 'qa1', 'insp1']) {
      for (const method of ['PUT', 'PATCH', 'DELETE', 'POST'] as const) {
        for (const url of urls) {
          const res = await h.app.inject({ method, url, headers: user ? { authorization: `Bearer ${h.tokens[user]}` } : {}, ...(method !== 'DELETE' && { payload: bodies[0] }) });
          if (![404, 405].includes(res.statusCode)) failures.push(`${method} ${url} as ${user ?? 'nobody'}: ${res.statusCode}`);
        }
        const res = await h.app.inject({ method, url: `/api/v1/audit/${seq}`, headers: user ? { authorization: `Bearer ${h.tokens[user]}` } : {}, ...(method !== 'DELETE' && { payload: bodies[1] }) });
        if (![404, 405].includes(res.statusCode)) failures.push(`${method} /api/v1/audit/${seq} (row body) as ${user ?? 'nobody'}: ${res.statusCode}`);
      }
    }
    expect(failures).toEqual([]);
    const after = await auditAll(h);
    expect(after.slice(0, before.length), 'every existing row unchanged').toEqual(before);
    expect(after.length).toBe(before.length);
    const v = await call(h, 'qa1', 'GET', '/audit/verify');
    expect(v.body.valid).toBe(true);
  });

  it('R7 [11.10(e)]: the OpenAPI description offers nothing but GET on any audit path', async () => {
    const doc = (await call(h, null, 'GET', '/openapi.json')).body;
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      if (!/audit/.test(path)) continue;
      expect(Object.keys(item).filter((m) => ['post', 'put', 'patch', 'delete'].includes(m)), path).toEqual([]);
    }
    // No route anywhere deletes anything (R4: nothing is deleted).
    for (const item of Object.values(doc.paths as Record<string, Record<string, unknown>>)) expect(Object.keys(item)).not.toContain('delete');
  });
});

/** A tiny RFC 4180 reader: quoted cells may hold commas, quotes and line breaks. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let cell = '';
  let row: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (ch === '"') quoted = false; else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { row.push(cell); cell = ''; } else if (ch === '\r' && text[i + 1] === '\n') { row.push(cell); records.push(row); row = []; cell = ''; i++; } else if (ch === '\n') { row.push(cell); records.push(row); row = []; cell = ''; } else cell += ch;
  }
  if (cell !== '' || row.length) { row.push(cell); records.push(row); }
  return records;
}

describe('the audit listing: filters, paging and export', () => {
  /** Rows at three process times T0 < T1 < T2, by several users, about two batches. */
  async function trail() {
    const t0 = serverNow(h);
    const a = await createBatch(h, 'car-t', 11);
    await record(h, a.id, 'apheresis-receipt', receiptValues(h, 11));
    const lot = (await call(h, 'qa1', 'POST', '/materials', { type: 'buffer', name: 'buffer', lotNumber: 'B-11', expiresOn: day(h, 100), status: 'released' })).body.id;
    await advance(h, 2);
    const t1 = serverNow(h);
    const b = await call(h, 'op2', 'POST', '/batches', { processId: 'car-t', din: din(12).keyed, patient: { id: 'PT-12', weightKg: 60 } });
    expect(b.status).toBe(201);
    expect((await call(h, 'qa1', 'PATCH', `/materials/${lot}`, { status: 'quarantined', reason: 'recall' })).status).toBe(200);
    await advance(h, 2);
    const t2 = serverNow(h);
    expect((await call(h, 'admin', 'POST', '/users', { username: 'tech.t', fullName: 'T', roles: ['operator'], password: 'Technician-T-Pass-1' })).status).toBe(201);
    const sample = await record(h, a.id, 'starting-material-sample', sampleValues);
    await verify(h, a.id, sample.entry.id);
    return { t0, t1, t2, a: a.id, b: b.body.id as string };
  }
  const seqs = (rows: AuditItem[]) => rows.map((r) => r.seq);

  it('Audit [11.10(e)]: GET /audit filters by from/to (server times), user (a username), batchId and action', async () => {
    const t = await trail();
    const all = await auditAll(h);
    // from/to: the rows of T1's hour only, none of T0 or T2.
    const to = new Date(Date.parse(t.t1) + HOUR).toISOString();
    const window = await auditAll(h, 'qa1', `&from=${encodeURIComponent(t.t1)}&to=${encodeURIComponent(to)}`);
    expect(window.length).toBeGreaterThanOrEqual(3);
    expect(seqs(window)).toEqual(seqs(all.filter((r) => r.at >= t.t1 && r.at <= to)));
    expect(all.some((r) => r.at < t.t1) && all.some((r) => r.at > to), 'rows outside the window exist').toBe(true);
    expect(window.map((r) => r.action)).toEqual(expect.arrayContaining(['batch.created', 'material.status-changed']));
    // The same instants written with a zone offset select the same rows.
    const plus7 = (iso: string) => new Date(Date.parse(iso) + 7 * HOUR).toISOString().replace('Z', '+07:00');
    expect(seqs(await auditAll(h, 'qa1', `&from=${encodeURIComponent(plus7(t.t1))}&to=${encodeURIComponent(plus7(to))}`))).toEqual(seqs(window));
    // user: the rows by that user only.
    const op2 = await userIdOf(h, 'op2');
    const byOp2 = await auditAll(h, 'qa1', '&user=op2');
    expect(byOp2.length).toBeGreaterThan(0);
    expect(seqs(byOp2)).toEqual(seqs(all.filter((r) => r.userId === op2)));
    expect((await auditAll(h, 'qa1', '&user=nobody-at-all'))).toEqual([]);
    // batchId: the rows about that batch only.
    const ofA = await auditAll(h, 'qa1', `&batchId=${t.a}`);
    expect(seqs(ofA)).toEqual(seqs(all.filter((r) => r.batchId === t.a)));
    expect(ofA.map((r) => r.action)).toEqual(expect.arrayContaining(['batch.created', 'step.recorded', 'step.verified']));
    expect(ofA.some((r) => r.entityId === t.b || r.batchId === t.b)).toBe(false);
    // action, and filters together.
    const creations = await auditAll(h, 'qa1', '&action=batch.created');
    expect(creations.map((r) => r.entityId).sort()).toEqual([t.a, t.b].sort());
    const later = await auditAll(h, 'qa1', `&action=batch.created&from=${encodeURIComponent(t.t1)}`);
    expect(later.map((r) => r.entityId)).toEqual([t.b]);
    // The batch's own audit route shows the same rows.
    const own = await call(h, 'qa1', 'GET', `/batches/${t.a}/audit?limit=500`);
    expect(seqs(own.body.items)).toEqual(seqs(ofA));
  });

  it('Audit [11.10(e)]: limit + cursor walk every row exactly once — no duplicates, no gaps — with and without a filter', async () => {
    await trail();
    const all = await auditAll(h);
    expect(all.length).toBeGreaterThan(20);
    expect(seqs(all)).toEqual(all.map((_r, i) => i + 1)); // the chain: 1..n, no gaps
    for (const [query, expected] of [['', all], ['&action=login', all.filter((r) => r.action === 'login')]] as const) {
      const walked: AuditItem[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const r = await call(h, 'qa1', 'GET', `/audit?limit=3${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        expect(r.status).toBe(200);
        expect(r.body.items.length).toBeLessThanOrEqual(3);
        if (r.body.nextCursor) expect(r.body.items.length).toBe(3);
        walked.push(...r.body.items);
        cursor = r.body.nextCursor;
        pages++;
      } while (cursor && pages < 1000);
      expect(new Set(seqs(walked)).size, 'no duplicates').toBe(walked.length);
      expect(walked, `every row once${query}`).toEqual(expected);
      expect(pages).toBe(Math.max(1, Math.ceil(expected.length / 3)));
    }
    expect((await call(h, 'qa1', 'GET', '/audit?limit=0')).status).toBe(400);
    expect((await call(h, 'qa1', 'GET', '/audit?limit=501')).status).toBe(400);
    // A cursor is whatever a client sends (one filter builder for both stores, server/store/audit-filter.ts):
    // past any seq the column holds (beyond PostgreSQL's int4 too) it is an empty page, not a 500, with a
    // filter or without; one that is no number reads from the first row.
    const cursorOf = (v: string) => encodeURIComponent(Buffer.from(v).toString('base64url'));
    for (const query of ['', '&action=login', `&from=${encodeURIComponent(all[0]!.at)}&user=op1`]) {
      const past = await call(h, 'qa1', 'GET', `/audit?limit=3${query}&cursor=${cursorOf('99999999999')}`);
      expect(past.status, JSON.stringify(past.body)).toBe(200);
      expect(past.body).toEqual({ items: [] });
    }
    expect((await call(h, 'qa1', 'GET', `/audit?limit=3&cursor=${cursorOf('not-a-seq')}`)).body.items).toEqual(all.slice(0, 3));
  });

  it('Audit [11.10(b), (e)]: the CSV export has a header line and one line per row; the JSON export is an array of the same rows; each writes one audit.exported row', async () => {
    const t = await trail();
    const qa1 = await userIdOf(h, 'qa1');
    const csv = await call(h, 'qa1', 'GET', '/audit/export?format=csv');
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const afterCsv = await auditAll(h);
    expect(afterCsv[afterCsv.length - 1]).toMatchObject({ action: 'audit.exported', userId: qa1, after: { format: 'csv' } });
    const records = parseCsv(csv.body as string);
    // ALCOA attributable: the person's username and printed name stand beside the user id.
    expect(records[0]).toEqual(['seq', 'at', 'userId', 'username', 'printedName', 'action', 'entity', 'entityId', 'batchId', 'before', 'after', 'reason', 'prevHash', 'hash']);
    const lines = records.slice(1);
    // No cell of this trail holds a line break, so the file is literally one physical line per row.
    expect((csv.body as string).split('\r\n')).toHaveLength(afterCsv.length + 2); // header + rows + '' after the last CRLF
    expect(lines.length, 'one line per row, the export itself included').toBe(afterCsv.length);
    expect(lines.map((l) => Number(l[0]))).toEqual(seqs(afterCsv));
    for (const [i, l] of lines.entries()) {
      expect(l).toHaveLength(14);
      expect(l[5]).toBe(afterCsv[i].action);
      expect(l[1]).toBe(afterCsv[i].at);
      expect(l[13]).toBe(afterCsv[i].hash);
      expect(l[3], 'username').toBe(afterCsv[i].username ?? '');
      expect(l[4], 'printedName').toBe(afterCsv[i].printedName ?? '');
    }
    expect(lines.find((l) => l[2] === qa1)?.slice(3, 5)).toEqual(['qa1', 'Test QA1']);

    const json = await call(h, 'qa1', 'GET', '/audit/export?format=json');
    expect(json.status).toBe(200);
    expect(json.headers['content-type']).toMatch(/^application\/json/);
    const afterJson = await auditAll(h);
    expect(afterJson.length).toBe(afterCsv.length + 1);
    expect(afterJson[afterJson.length - 1]).toMatchObject({ action: 'audit.exported', userId: qa1, username: 'qa1', printedName: 'Test QA1', after: { format: 'json' } });
    expect(Array.isArray(json.body)).toBe(true);
    expect(json.body).toEqual(afterJson);

    // A filtered export holds only the rows the filter selects.
    const ofA = await call(h, 'insp1', 'GET', `/audit/export?format=json&batchId=${t.a}`);
    expect(ofA.status).toBe(200);
    expect(ofA.body.length).toBeGreaterThan(0);
    expect(ofA.body.every((r: AuditItem) => r.batchId === t.a)).toBe(true);
    expect((await auditAll(h)).filter((r) => r.action === 'audit.exported')).toHaveLength(3);
  });
});

// Proven elsewhere, not repeated here: the append-only triggers on audit_log (test/server/store/
// append-only.test.ts), an edited or deleted audit row located by /audit/verify (tampering.test.ts),
// and the refused-attempt rows of identity mismatches and 422 lots (refusals/steps.test.ts).
