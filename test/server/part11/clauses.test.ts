// 21 CFR Part 11 / EU GMP Annex 11 clauses as behaviour of the HTTP API (shared/domain/regulations.md):
// R2 invalid input, R4 records survive a restart, R5 sessions, R8 process order, R10 materials and
// equipment, S1 signature manifestation, S4 signing needs credentials, S6 four eyes.
//
// Where a clause is proven elsewhere it is not repeated here:
// - R1 [11.10(a)] tamper evidence: test/server/store/tampering.test.ts, append-only.test.ts.
// - R3 [11.10(b)] complete copies: the reports issue.
// - R4 backup and restore: test/server/store/backup.test.ts; restart of a batch's entries:
//   append-only.test.ts "the record survives a restart" (extended here to signatures and the audit trail).
// - R5 every route needs a user: role-matrix.test.ts (generated from /openapi.json) and
//   refusals/accounts.test.ts "a token is required everywhere…" (deactivated user, token after logout).
// - R6, R7: audit-trail.test.ts. R9: role-matrix.test.ts. S3, S5: accounts-policy.test.ts.
// - R8 more orders (dependency on an unverified step, twice, terminated batch, stale version):
//   refusals/steps.test.ts "steps are refused in the wrong order or state (409)".
// - R10 every kind (wrong type, unknown, expired, quarantined, QA re-quarantine, overdue):
//   refusals/steps.test.ts "materials and equipment a step uses are judged (422, audited)".
// - S6 [211.101(d)] the verifier is not the performer, on any terminal:
//   refusals/steps.test.ts "refuses a verification signed by the performer with 403".
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../../server/app.js';
import { advance, call, createBatch, din, harness, HOUR, PASSWORD, recordState, registerCatalogue, sign, type Harness } from '../../helpers.js';
import { day, receiptValues, record, sampleValues, selectionValues, toSelection, verify, version } from '../refusals/support.js';
import { ATTEMPT_ACTIONS, auditAll, auditedBy, ISO_UTC, relogin, userIdOf } from './support.js';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => h.close());

type Reply = Awaited<ReturnType<typeof call>>;

/** A refusal with `status` that writes no entry, no signature, and at most one audit row, of an attempt. */
async function refusedWithoutChange(request: () => Promise<Reply>, status: number, field?: string) {
  const state = await recordState(h);
  const { reply, rows } = await auditedBy(h, request);
  expect(reply.status, JSON.stringify(reply.body)).toBe(status);
  expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
  if (field) expect(reply.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  expect(await recordState(h), 'no entry, no signature, chains valid').toEqual(state);
  expect(rows.length, `at most one audit row: ${JSON.stringify(rows.map((r) => r.action))}`).toBeLessThanOrEqual(1);
  for (const r of rows) expect(ATTEMPT_ACTIONS, `${r.action} is an attempt, not a change`).toContain(r.action);
  return { reply, rows };
}

describe('R2 [11.10(a); Annex 11 §5]: invalid input is refused and writes nothing', () => {
  it('R2 [11.10(a)]: a value of the wrong type is 400 with no entry and no audit row of a change', async () => {
    const batch = await createBatch(h, 'car-t', 1);
    const step = (values: Record<string, unknown>) => () => call(h, 'op1', 'POST', `/batches/${batch.id}/steps/apheresis-receipt`, { values, signature: sign('op1'), expectedVersion: batch.version });
    for (const [field, value] of [['volume', '200'], ['transportTemperature', true], ['collectionEnd', 1234567890], ['bagScan', 42], ['volume', null], ['volume', { value: 200 }]] as [string, unknown][]) {
      const { rows } = await refusedWithoutChange(step({ ...receiptValues(h, 1), [field]: value }), 400, `values.${field}`);
      expect(rows.map((r) => r.action)).toEqual(['attempt.refused']);
    }
    await refusedWithoutChange(() => call(h, 'op1', 'POST', '/batches', { processId: 'car-t', din: din(2).keyed, patient: { id: 'PT-2', weightKg: '70' } }), 400, 'patient.weightKg');
    await refusedWithoutChange(() => call(h, 'qa1', 'POST', '/materials', { type: 'buffer', name: 'b', lotNumber: 'L-1', expiresOn: 20301231, status: 'released' }), 400, 'expiresOn');
    expect((await call(h, 'sup1', 'GET', '/materials')).body.items).toEqual([]);
  });

  it('R2 [11.10(a)]: a value outside the limits of its field is 400 with no entry and no audit row of a change', async () => {
    const batch = await createBatch(h, 'car-t', 3);
    const post = (values: Record<string, unknown>) => () => call(h, 'op1', 'POST', `/batches/${batch.id}/steps/apheresis-receipt`, { values, signature: sign('op1'), expectedVersion: batch.version });
    await refusedWithoutChange(post({ ...receiptValues(h, 3), transportTemperature: 61 }), 400, 'values.transportTemperature'); // limits −200…60 °C
    await refusedWithoutChange(post({ ...receiptValues(h, 3), transportTemperature: -201 }), 400, 'values.transportTemperature');
    await refusedWithoutChange(post({ ...receiptValues(h, 3), volume: -0.1 }), 400, 'values.volume'); // limits ≥ 0
    await refusedWithoutChange(() => call(h, 'op1', 'POST', '/batches', { processId: 'car-t', din: din(4).keyed, patient: { id: 'PT-4', weightKg: 501 } }), 400, 'patient.weightKg');
    // A percentage above 100 on a later step, too.
    await record(h, batch.id, 'apheresis-receipt', receiptValues(h, 3));
    const v = await version(h, batch.id);
    await refusedWithoutChange(() => call(h, 'op1', 'POST', `/batches/${batch.id}/steps/starting-material-sample`, { values: { ...sampleValues, viability: 100.1 }, signature: sign('op1'), expectedVersion: v }), 400, 'values.viability');
    expect(await version(h, batch.id)).toBe(v);
  });

  it('R2 [11.10(a)]: an unknown lot or unknown equipment is refused (422), with no entry and only the attempt row', async () => {
    const cat = await registerCatalogue(h, 'car-t');
    const batch = await createBatch(h, 'car-t', 5);
    await toSelection(h, batch.id, 5);
    const v = await version(h, batch.id);
    for (const [field, value] of [['bufferLot', 'no-such-lot'], ['cellProcessor', 'no-such-equipment']]) {
      const { rows } = await refusedWithoutChange(() => call(h, 'op1', 'POST', `/batches/${batch.id}/steps/cd4-cd8-selection`, { values: { ...selectionValues(cat), [field]: value }, signature: sign('op1'), expectedVersion: v }), 422, `values.${field}`);
      expect(rows.map((r) => r.action)).toEqual(['step.refused']);
    }
    expect(await version(h, batch.id)).toBe(v);
  });
});

describe('R4 [11.10(c); 1271.270(d)]: records survive a restart unchanged', () => {
  it('R4 [11.10(c)]: after closing the app and building it again on the same database, the batch, its entries, signatures and audit trail are identical', async () => {
    const batch = await createBatch(h, 'car-t', 6);
    await record(h, batch.id, 'apheresis-receipt', receiptValues(h, 6));
    const sample = await record(h, batch.id, 'starting-material-sample', sampleValues);
    await verify(h, batch.id, sample.entry.id);
    expect((await call(h, 'op1', 'POST', `/batches/${batch.id}/entries/${sample.entry.id}/corrections`, { values: { viability: 91 }, reason: 'transcription error', signature: sign('op1') })).status).toBe(201);
    await advance(h, 5);
    const view = (await call(h, 'qa1', 'GET', `/batches/${batch.id}`)).body;
    const audit = await auditAll(h);
    const batchAudit = (await call(h, 'qa1', 'GET', `/batches/${batch.id}/audit?limit=500`)).body.items;
    const deviations = (await call(h, 'qa1', 'GET', `/batches/${batch.id}/deviations`)).body;
    const counts = await h.ctx.store.counts();
    const clock = h.ctx.clock.now().toISOString();
    expect(view.entries.flatMap((e: { signatures: unknown[] }) => e.signatures).length).toBeGreaterThanOrEqual(4);

    await h.app.close();
    const { app, ctx } = await buildApp({ ...h.location, training: true, now: () => h.wall.now });
    try {
      const again: Harness = { ...h, app, ctx, tokens: {} };
      for (const u of ['qa1', 'op1']) {
        const l = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: u, password: PASSWORD } });
        expect(l.statusCode).toBe(200);
        again.tokens[u] = l.json().token;
      }
      expect((await ctx.store.counts()).entries).toBe(counts.entries);
      expect((await ctx.store.counts()).signatures).toBe(counts.signatures);
      expect(ctx.clock.now().toISOString(), 'the training clock keeps its offset').toBe(clock);
      expect((await call(again, 'qa1', 'GET', `/batches/${batch.id}`)).body).toEqual(view);
      expect((await call(again, 'qa1', 'GET', `/batches/${batch.id}/deviations`)).body).toEqual(deviations);
      expect((await call(again, 'qa1', 'GET', `/batches/${batch.id}/audit?limit=500`)).body.items).toEqual(batchAudit);
      const auditAfter = await auditAll(again);
      expect(auditAfter.slice(0, audit.length), 'every audit row as before').toEqual(audit);
      expect(auditAfter.slice(audit.length).map((r) => r.action), 'only the two new logins were added').toEqual(['login', 'login']);
      const verified = await call(again, 'qa1', 'GET', '/audit/verify');
      expect(verified.body.valid).toBe(true);
      // The restarted app goes on writing to the same chains.
      expect((await call(again, 'op1', 'GET', `/batches/${batch.id}`)).body.version).toBe(view.version);
    } finally {
      await app.close();
    }
  });
});

describe('R5 [11.10(d)]: sessions', () => {
  it('R5 [11.10(d)]: an idle session (16 minutes without activity, default limit 15) gets 401 on reads and writes; activity keeps a session alive', async () => {
    h.tick(14 * 60_000);
    expect((await call(h, 'op1', 'GET', '/me')).status).toBe(200); // op1 active at 14 min
    h.tick(14 * 60_000); // 28 min after login, 14 after op1's last request
    expect((await call(h, 'op1', 'GET', '/me')).status).toBe(200);
    expect((await call(h, 'op2', 'GET', '/me')).status, 'op2 was idle 28 minutes').toBe(401);
    h.tick(16 * 60_000);
    const state = await recordState(h);
    const read = await call(h, 'op1', 'GET', '/batches');
    expect(read.status).toBe(401);
    expect(read.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect((await call(h, 'qa1', 'POST', '/materials', { type: 'buffer', name: 'b', lotNumber: 'L-9', expiresOn: day(h, 100), status: 'released' })).status).toBe(401);
    expect((await call(h, 'op1', 'GET', '/me')).status, 'an expired session stays expired').toBe(401);
    expect(await recordState(h)).toEqual(state);
    // Logging in again opens a new session.
    await relogin(h, 'op1');
    expect((await call(h, 'op1', 'GET', '/me')).status).toBe(200);
  });

  it('R5 [11.10(d)]: the idle limit is the configured one (idleTimeoutMinutes 5)', async () => {
    await h.close();
    h = await harness({ idleTimeoutMinutes: 5 });
    h.tick(4 * 60_000);
    expect((await call(h, 'op1', 'GET', '/me')).status).toBe(200);
    h.tick(6 * 60_000);
    expect((await call(h, 'op1', 'GET', '/me')).status).toBe(401);
  });

  it('R5 [11.10(d)]: moving the TRAINING clock by 1000 hours logs nobody out', async () => {
    await advance(h, 1000);
    expect((await call(h, 'admin', 'POST', '/training/clock', { set: new Date(h.ctx.clock.now().getTime() + 30 * 24 * HOUR).toISOString() })).status).toBe(200);
    expect(h.ctx.clock.now().getTime() - h.wall.now).toBe((1000 + 30 * 24) * HOUR);
    for (const user of ['admin', 'op1', 'op2', 'sup1', 'sup2', 'qc1', 'qc2', 'qa1', 'qa2', 'insp1']) {
      expect((await call(h, user, 'GET', '/me')).status, user).toBe(200);
    }
  });

  it('R5 [11.10(d)]: a deactivated user\'s session and a token after logout get 401 on writes too, and write nothing', async () => {
    const op2 = await userIdOf(h, 'op2');
    expect((await call(h, 'admin', 'PATCH', `/users/${op2}`, { active: false, reason: 'left' })).status).toBe(200);
    expect((await call(h, 'op1', 'POST', '/auth/logout')).status).toBe(204);
    for (const user of ['op1', 'op2']) {
      const { reply, rows } = await auditedBy(h, () => call(h, user, 'POST', '/batches', { processId: 'car-t', din: din(7).keyed, patient: { id: 'PT-7', weightKg: 70 } }));
      expect(reply.status, user).toBe(401);
      expect(rows).toEqual([]);
    }
    expect((await call(h, 'op2', 'GET', '/me')).status).toBe(401);
    expect((await call(h, 'op1', 'GET', '/me')).status).toBe(401);
  });
});

describe('R8 [11.10(f); 211.100(b)]: steps out of the process order are refused (409)', () => {
  it('R8 [11.10(f)]: a QC step during manufacturing — the day-5 in-process control before transduction, a release test before QC testing — is 409 and changes nothing', async () => {
    const batch = await createBatch(h, 'car-t', 8);
    await record(h, batch.id, 'apheresis-receipt', receiptValues(h, 8));
    const v = await version(h, batch.id);
    for (const [stepId, values] of [['in-process-control', { carPositive: 30 }], ['release-viability', { viability: 90 }], ['release-appearance', { appearance: 'conforms' }]] as const) {
      const { reply, rows } = await refusedWithoutChange(() => call(h, 'qc1', 'POST', `/batches/${batch.id}/steps/${stepId}`, { values, signature: sign('qc1'), expectedVersion: v }), 409);
      expect(reply.body.detail.length).toBeGreaterThan(0);
      expect(rows.map((r) => r.action)).toEqual(['attempt.refused']);
      expect(rows[0].batchId).toBe(batch.id);
    }
    const after = (await call(h, 'qc1', 'GET', `/batches/${batch.id}`)).body;
    expect(after.version).toBe(v);
    expect(after.status).toBe('in_process');
    expect(after.lockedSteps.map((s: { stepId: string }) => s.stepId)).toContain('in-process-control');
  });
});

describe('R10 [11.10(h); 211.188(b)(2)]: equipment known and calibrated, materials released and unexpired', () => {
  it('R10 [11.10(h)]: one of each kind — unknown equipment, overdue calibration, quarantined lot, expired lot — is 422 and audited once; a new calibration makes the instrument usable', async () => {
    const cat = await registerCatalogue(h, 'car-t');
    const batch = await createBatch(h, 'car-t', 9);
    await toSelection(h, batch.id, 9);
    const v = await version(h, batch.id);
    const overdue = (await call(h, 'sup1', 'POST', '/equipment', { assetId: 'EQ-OVERDUE', type: 'cell-processor', name: 'Prodigy 2', calibrationDueOn: day(h, -1) })).body.id;
    const quarantined = (await call(h, 'sup1', 'POST', '/materials', { type: 'cd4-microbeads', name: 'beads', lotNumber: 'Q-1', expiresOn: day(h, 100), status: 'quarantined' })).body.id;
    const expired = (await call(h, 'qa1', 'POST', '/materials', { type: 'cd8-microbeads', name: 'beads', lotNumber: 'E-1', expiresOn: day(h, -1), status: 'released' })).body.id;
    const post = (values: Record<string, unknown>) => () => call(h, 'op1', 'POST', `/batches/${batch.id}/steps/cd4-cd8-selection`, { values: { ...selectionValues(cat), ...values }, signature: sign('op1'), expectedVersion: v });
    for (const [field, value] of [['cellProcessor', 'unknown-instrument'], ['cellProcessor', overdue], ['cd4BeadsLot', quarantined], ['cd8BeadsLot', expired]]) {
      const { rows } = await refusedWithoutChange(post({ [field]: value }), 422, `values.${field}`);
      expect(rows.map((r) => r.action)).toEqual(['step.refused']);
    }
    expect((await call(h, 'sup1', 'PATCH', `/equipment/${overdue}`, { calibrationDueOn: day(h, 365), reason: 'calibrated today' })).status).toBe(200);
    const ok = await post({ cellProcessor: overdue })();
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
  });
});

describe('S1 [11.50]: signature manifestation', () => {
  it('S1 [11.50]: every signature the API shows has printedName, signedAt (ISO-8601 with Z) and meaning', async () => {
    const batch = await createBatch(h, 'car-t', 10);
    const receipt = await record(h, batch.id, 'apheresis-receipt', receiptValues(h, 10));
    const sample = await record(h, batch.id, 'starting-material-sample', sampleValues);
    const verified = await verify(h, batch.id, sample.entry.id);
    const corrected = await call(h, 'op1', 'POST', `/batches/${batch.id}/entries/${receipt.entry.id}/corrections`, { values: { volume: 190 }, reason: 'misread scale', signature: sign('op1') });
    expect(corrected.status).toBe(201);
    const terminated = await call(h, 'sup1', 'POST', `/batches/${batch.id}/terminate`, { reason: 'patient withdrew consent', signature: sign('sup1') });
    expect(terminated.status).toBe(201);

    const shown = [receipt, sample, verified, corrected.body, terminated.body].flatMap((r: any) => r.entry.signatures);
    const view = (await call(h, 'insp1', 'GET', `/batches/${batch.id}`)).body;
    const all = [...shown, ...view.entries.flatMap((e: { signatures: unknown[] }) => e.signatures)];
    expect(all.length).toBeGreaterThanOrEqual(10);
    const names: Record<string, string> = { op1: 'Test OP1', op2: 'Test OP2', sup1: 'Test SUP1' };
    for (const s of all) {
      expect(s).toMatchObject({ userId: expect.any(String), username: expect.any(String), printedName: expect.any(String), meaning: expect.any(String), signedAt: expect.stringMatching(ISO_UTC) });
      expect(s.printedName).toBe(names[s.username]);
      expect(['performed', 'verified', 'reviewed', 'approved', 'released', 'rejected']).toContain(s.meaning);
    }
    const meanings = new Set(view.entries.flatMap((e: { signatures: { meaning: string }[] }) => e.signatures.map((s) => s.meaning)));
    expect([...meanings].sort()).toEqual(['approved', 'performed', 'verified']);
    const sampleEntry = view.entries.find((e: { id: string }) => e.id === sample.entry.id);
    expect(sampleEntry.signatures.map((s: { meaning: string; username: string }) => [s.meaning, s.username])).toEqual([['performed', 'op1'], ['verified', 'op2']]);
  });

  it('S1 [11.50]: what was signed keeps the name at signing: PATCH /users cannot change fullName (400), and a rename behind the API changes no signature', async () => {
    const batch = await createBatch(h, 'car-t', 11);
    const receipt = await record(h, batch.id, 'apheresis-receipt', receiptValues(h, 11));
    const op1 = await userIdOf(h, 'op1');
    const before = (await call(h, 'qa1', 'GET', `/batches/${batch.id}`)).body;
    const signed = before.entries.find((e: { id: string }) => e.id === receipt.entry.id).signatures[0];
    expect(signed).toMatchObject({ username: 'op1', userId: op1, printedName: 'Test OP1', meaning: 'performed' });

    const rename = await call(h, 'admin', 'PATCH', `/users/${op1}`, { fullName: 'Renamed Person', reason: 'marriage' });
    expect(rename.status).toBe(400);
    expect(rename.body.errors.map((e: { field: string }) => e.field)).toContain('fullName');

    // There is no rename route; a rename done in the users table (e.g. a future feature) must not reach signatures.
    await h.ctx.store.updateUser(op1, { fullName: 'Renamed Person' });
    expect((await call(h, 'admin', 'GET', '/users?limit=500')).body.items.find((u: { id: string }) => u.id === op1).fullName).toBe('Renamed Person');
    const after = (await call(h, 'qa1', 'GET', `/batches/${batch.id}`)).body;
    expect(after.entries).toEqual(before.entries);
    expect(after.entries.find((e: { id: string }) => e.id === receipt.entry.id).signatures[0].printedName).toBe('Test OP1');
    expect((await call(h, 'qa1', 'GET', '/audit/verify')).body.valid).toBe(true);
    // A new signature carries the new name; the old one keeps the old.
    const sample = await record(h, batch.id, 'starting-material-sample', sampleValues);
    expect((sample.entry as unknown as { signatures: unknown[] }).signatures).toEqual([expect.objectContaining({ username: 'op1', printedName: 'Renamed Person' })]);
  });
});

describe('S4 [11.200(a)(1)]: each signing re-enters credentials; the signer is who the credentials name', () => {
  it('S4 [11.200(a)(1)]: a session alone never signs: a step without a signature, or with a username but no password, is 400 and writes nothing', async () => {
    const batch = await createBatch(h, 'car-t', 12);
    const url = `/batches/${batch.id}/steps/apheresis-receipt`;
    await refusedWithoutChange(() => call(h, 'op1', 'POST', url, { values: receiptValues(h, 12), expectedVersion: batch.version }), 400, 'signature');
    await refusedWithoutChange(() => call(h, 'op1', 'POST', url, { values: receiptValues(h, 12), signature: { username: 'op1' }, expectedVersion: batch.version }), 400, 'signature.password');
    await refusedWithoutChange(() => call(h, 'op1', 'POST', url, { values: receiptValues(h, 12), signature: { username: 'op1', password: '' }, expectedVersion: batch.version }), 400, 'signature.password');
    await refusedWithoutChange(() => call(h, 'op1', 'POST', url, { values: receiptValues(h, 12), signature: null, expectedVersion: batch.version }), 400, 'signature');
    // (More shapes: refusals/steps.test.ts "malformed step bodies".)
  });

  it('S4 [11.200(a)(1)], S6 [211.101(d)]: op1\'s session signing with op2\'s credentials records op2 as the performer; op2 then cannot verify it, op1 can', async () => {
    const [op1, op2] = [await userIdOf(h, 'op1'), await userIdOf(h, 'op2')];
    const batch = await createBatch(h, 'car-t', 13);
    await record(h, batch.id, 'apheresis-receipt', receiptValues(h, 13));
    const v = await version(h, batch.id);
    const { reply, rows } = await auditedBy(h, () => call(h, 'op1', 'POST', `/batches/${batch.id}/steps/starting-material-sample`, { values: sampleValues, signature: sign('op2'), expectedVersion: v }));
    expect(reply.status).toBe(201);
    expect(reply.body.entry.signatures).toEqual([expect.objectContaining({ username: 'op2', userId: op2, printedName: 'Test OP2', meaning: 'performed' })]);
    const stepRow = rows.find((r) => r.action === 'step.recorded')!;
    expect(stepRow.after.signedBy).toBe('op2');
    expect([op1, op2]).toContain(stepRow.userId);
    const entryId = reply.body.entry.id;
    // Four eyes is about the signer: op2 performed, so op2 may not verify, even from op1's terminal.
    expect((await call(h, 'op1', 'POST', `/batches/${batch.id}/entries/${entryId}/verify`, { signature: sign('op2') })).status).toBe(403);
    expect((await call(h, 'op2', 'POST', `/batches/${batch.id}/entries/${entryId}/verify`, { signature: sign('op1') })).status).toBe(201);
  });
});
