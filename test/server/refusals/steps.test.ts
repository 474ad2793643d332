// Refusals when recording and verifying steps: each answers problem+json, writes no entry and no
// signature, and leaves every chain valid (API.md "Conventions", "Which error wins").
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, advance, call, createBatch, din, harness, HOUR, PASSWORD, registerCatalogue, sign, type Harness } from '../../helpers.js';
import {
  auditOf, day, expectProblem, iso, nowMs, receiptValues, record, refusedWithoutWriting, sampleValues, selectionValues,
  toCultureCheck, toSelection, version,
} from './support.js';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => h.close());

const post = (user: string, batchId: string, stepId: string, body: unknown) => call(h, user, 'POST', `/batches/${batchId}/steps/${stepId}`, body);
const receipt = (seq: number, overrides: Record<string, unknown> = {}) => ({ ...receiptValues(h, seq), ...overrides });

describe('steps are refused in the wrong order or state (409)', () => {
  it('refuses cd4-cd8-selection on a fresh batch with 409', async () => {
    const batch = await createBatch(h, 'car-t', 1);
    const cat = await registerCatalogue(h, 'car-t');
    const r = await refusedWithoutWriting(h, () => post('op1', batch.id, 'cd4-cd8-selection', { values: selectionValues(cat), signature: sign('op1'), expectedVersion: batch.version }), 409);
    expect(r.body.detail).toMatch(/./);
  });

  it('refuses a stale expectedVersion with 409', async () => {
    const batch = await createBatch(h, 'car-t', 2);
    await refusedWithoutWriting(h, () => post('op1', batch.id, 'apheresis-receipt', { values: receipt(2), signature: sign('op1'), expectedVersion: batch.version + 1 }), 409);
    await refusedWithoutWriting(h, () => post('op1', batch.id, 'apheresis-receipt', { values: receipt(2), signature: sign('op1'), expectedVersion: 0 }), 409);
  });

  it('refuses a write stating the version the batch had before another write with 409', async () => {
    const batch = await createBatch(h, 'car-t', 3);
    await record(h, batch.id, 'apheresis-receipt', receipt(3));
    await refusedWithoutWriting(h, () => post('op2', batch.id, 'starting-material-sample', { values: sampleValues, signature: sign('op2'), expectedVersion: batch.version }), 409);
  });

  it('refuses recording a non-repeatable step twice with 409', async () => {
    const batch = await createBatch(h, 'car-t', 4);
    await record(h, batch.id, 'apheresis-receipt', receipt(4));
    const v = await version(h, batch.id);
    await refusedWithoutWriting(h, () => post('op1', batch.id, 'apheresis-receipt', { values: receipt(4), signature: sign('op1'), expectedVersion: v }), 409);
  });

  it('refuses a step that depends on an unverified step with 409', async () => {
    const batch = await createBatch(h, 'car-t', 5);
    const cat = await registerCatalogue(h, 'car-t');
    await record(h, batch.id, 'apheresis-receipt', receipt(5));
    await record(h, batch.id, 'starting-material-sample', sampleValues);
    const v = await version(h, batch.id);
    await refusedWithoutWriting(h, () => post('op1', batch.id, 'cd4-cd8-selection', { values: selectionValues(cat), signature: sign('op1'), expectedVersion: v }), 409);
  });

  it('refuses verifying an entry twice with 409', async () => {
    const batch = await createBatch(h, 'car-t', 6);
    await record(h, batch.id, 'apheresis-receipt', receipt(6));
    const sample = await record(h, batch.id, 'starting-material-sample', sampleValues);
    expect((await call(h, 'op2', 'POST', `/batches/${batch.id}/entries/${sample.entry.id}/verify`, { signature: sign('op2') })).status).toBe(201);
    await refusedWithoutWriting(h, () => call(h, 'sup1', 'POST', `/batches/${batch.id}/entries/${sample.entry.id}/verify`, { signature: sign('sup1') }), 409);
  });

  it('refuses verifying a step that needs no verification with 409', async () => {
    const batch = await createBatch(h, 'car-t', 7);
    const rec = await record(h, batch.id, 'apheresis-receipt', receipt(7));
    await refusedWithoutWriting(h, () => call(h, 'op2', 'POST', `/batches/${batch.id}/entries/${rec.entry.id}/verify`, { signature: sign('op2') }), 409);
  });

  it('refuses any step on a terminated batch with 409', async () => {
    const batch = await createBatch(h, 'car-t', 8);
    const t = await call(h, 'sup1', 'POST', `/batches/${batch.id}/terminate`, { reason: 'patient withdrew', signature: sign('sup1') });
    expect(t.status).toBe(201);
    const v = await version(h, batch.id);
    await refusedWithoutWriting(h, () => post('op1', batch.id, 'apheresis-receipt', { values: receipt(8), signature: sign('op1'), expectedVersion: v }), 409);
  });
});

describe('signature credentials are checked (401)', () => {
  it('refuses a wrong signature password with 401 and writes nothing', async () => {
    const batch = await createBatch(h, 'car-t', 11);
    await refusedWithoutWriting(h, () => post('op1', batch.id, 'apheresis-receipt', { values: receipt(11), signature: sign('op1', 'not-the-password-123'), expectedVersion: batch.version }), 401);
  });

  it('refuses an unknown signer username with 401', async () => {
    const batch = await createBatch(h, 'car-t', 12);
    await refusedWithoutWriting(h, () => post('op1', batch.id, 'apheresis-receipt', { values: receipt(12), signature: sign('nobody-here'), expectedVersion: batch.version }), 401);
  });

  it('refuses a verification with a wrong password with 401', async () => {
    const batch = await createBatch(h, 'car-t', 13);
    await record(h, batch.id, 'apheresis-receipt', receipt(13));
    const sample = await record(h, batch.id, 'starting-material-sample', sampleValues);
    await refusedWithoutWriting(h, () => call(h, 'op2', 'POST', `/batches/${batch.id}/entries/${sample.entry.id}/verify`, { signature: sign('op2', 'wrong-password-xyz') }), 401);
  });
});

describe('roles and separation of duties (403)', () => {
  it('refuses a verification signed by the performer with 403', async () => {
    const batch = await createBatch(h, 'car-t', 21);
    await record(h, batch.id, 'apheresis-receipt', receipt(21));
    const sample = await record(h, batch.id, 'starting-material-sample', sampleValues);
    await refusedWithoutWriting(h, () => call(h, 'op1', 'POST', `/batches/${batch.id}/entries/${sample.entry.id}/verify`, { signature: sign('op1') }), 403);
    // On another user's terminal too: the signer, not the session, is the person.
    await refusedWithoutWriting(h, () => call(h, 'op2', 'POST', `/batches/${batch.id}/entries/${sample.entry.id}/verify`, { signature: sign('op1') }), 403);
  });

  it('refuses a QC session performing an operator step with 403', async () => {
    const batch = await createBatch(h, 'car-t', 22);
    await refusedWithoutWriting(h, () => post('qc1', batch.id, 'apheresis-receipt', { values: receipt(22), signature: sign('qc1'), expectedVersion: batch.version }), 403);
  });

  it('refuses an operator session signed with QC credentials with 403', async () => {
    const batch = await createBatch(h, 'car-t', 23);
    await refusedWithoutWriting(h, () => post('op1', batch.id, 'apheresis-receipt', { values: receipt(23), signature: sign('qc1'), expectedVersion: batch.version }), 403);
  });

  it('refuses a QC session even when an operator signs (the session user needs a role of the step) with 403', async () => {
    const batch = await createBatch(h, 'car-t', 24);
    await refusedWithoutWriting(h, () => post('qc1', batch.id, 'apheresis-receipt', { values: receipt(24), signature: sign('op1'), expectedVersion: batch.version }), 403);
  });

  it('refuses admin and inspector sessions recording steps with 403', async () => {
    const batch = await createBatch(h, 'car-t', 25);
    await refusedWithoutWriting(h, () => post('admin', batch.id, 'apheresis-receipt', { values: receipt(25), signature: sign('op1'), expectedVersion: batch.version }), 403);
    await refusedWithoutWriting(h, () => post('insp1', batch.id, 'apheresis-receipt', { values: receipt(25), signature: sign('op1'), expectedVersion: batch.version }), 403);
  });

  it('refuses admin and inspector sessions verifying entries with 403', async () => {
    const batch = await createBatch(h, 'car-t', 26);
    await record(h, batch.id, 'apheresis-receipt', receipt(26));
    const sample = await record(h, batch.id, 'starting-material-sample', sampleValues);
    await refusedWithoutWriting(h, () => call(h, 'admin', 'POST', `/batches/${batch.id}/entries/${sample.entry.id}/verify`, { signature: sign('op2') }), 403);
    await refusedWithoutWriting(h, () => call(h, 'insp1', 'POST', `/batches/${batch.id}/entries/${sample.entry.id}/verify`, { signature: sign('op2') }), 403);
  });

  it('refuses an admin signature on a step, a verification and a termination with 403', async () => {
    const batch = await createBatch(h, 'car-t', 27);
    await refusedWithoutWriting(h, () => post('op1', batch.id, 'apheresis-receipt', { values: receipt(27), signature: sign('admin', ADMIN_PASSWORD), expectedVersion: batch.version }), 403);
    await record(h, batch.id, 'apheresis-receipt', receipt(27));
    const sample = await record(h, batch.id, 'starting-material-sample', sampleValues);
    await refusedWithoutWriting(h, () => call(h, 'op2', 'POST', `/batches/${batch.id}/entries/${sample.entry.id}/verify`, { signature: sign('admin', ADMIN_PASSWORD) }), 403);
    await refusedWithoutWriting(h, () => call(h, 'sup1', 'POST', `/batches/${batch.id}/terminate`, { reason: 'test', signature: sign('admin', ADMIN_PASSWORD) }), 403);
  });

  it('refuses an operator session terminating a batch with 403', async () => {
    const batch = await createBatch(h, 'car-t', 28);
    await refusedWithoutWriting(h, () => call(h, 'op1', 'POST', `/batches/${batch.id}/terminate`, { reason: 'test', signature: sign('sup1') }), 403);
  });
});

describe('materials and equipment a step uses are judged (422, audited)', () => {
  async function selectionBatch(seq: number) {
    const batch = await createBatch(h, 'car-t', seq);
    const cat = await registerCatalogue(h, 'car-t');
    await toSelection(h, batch.id, seq);
    return { batch, cat, v: await version(h, batch.id) };
  }
  const lot = async (type: string, expiresOn: string, status: 'released' | 'quarantined' = 'released') => {
    const r = await call(h, 'qa1', 'POST', '/materials', { type, name: `${type} lot`, lotNumber: `X-${type}-${expiresOn}-${status}`, expiresOn, status });
    expect(r.status).toBe(201);
    return r.body.id as string;
  };
  const equipment = async (assetId: string, type: string, calibrationDueOn: string) => {
    const r = await call(h, 'sup1', 'POST', '/equipment', { assetId, type, name: `${type} unit`, calibrationDueOn });
    expect(r.status).toBe(201);
    return r.body.id as string;
  };

  async function expectRefusedAndAudited(seq: number, field: string, make: (cat: Awaited<ReturnType<typeof selectionBatch>>['cat']) => Promise<string> | string) {
    const { batch, cat, v } = await selectionBatch(seq);
    const values = { ...selectionValues(cat), [field]: await make(cat) };
    const before = (await auditOf(h, batch.id)).filter((a) => a.action === 'step.refused').length;
    await refusedWithoutWriting(h, () => post('op1', batch.id, 'cd4-cd8-selection', { values, signature: sign('op1'), expectedVersion: v }), 422, [`values.${field}`]);
    const rows = (await auditOf(h, batch.id)).filter((a) => a.action === 'step.refused');
    expect(rows.length).toBe(before + 1);
    expect(rows[rows.length - 1].batchId).toBe(batch.id);
    expect(await version(h, batch.id)).toBe(v);
  }

  it('refuses an expired lot with 422 naming the field, and audits the attempt', async () => {
    await expectRefusedAndAudited(31, 'cd4BeadsLot', () => lot('cd4-microbeads', day(h, -1)));
  });

  it('refuses a lot that expires later on the process clock once the clock has passed its date', async () => {
    const { batch, cat, v } = await selectionBatch(32);
    const soon = await lot('buffer', day(h, 1));
    await advance(h, 72);
    await refusedWithoutWriting(h, () => post('op1', batch.id, 'cd4-cd8-selection', { values: { ...selectionValues(cat), bufferLot: soon }, signature: sign('op1'), expectedVersion: v }), 422, ['values.bufferLot']);
  });

  it('refuses a quarantined lot with 422', async () => {
    await expectRefusedAndAudited(33, 'cd8BeadsLot', () => lot('cd8-microbeads', day(h, 300), 'quarantined'));
  });

  it('refuses a lot that QA put back into quarantine with 422', async () => {
    await expectRefusedAndAudited(34, 'bufferLot', async (cat) => {
      const r = await call(h, 'qa1', 'PATCH', `/materials/${cat.lots.buffer}`, { status: 'quarantined', reason: 'supplier recall' });
      expect(r.status).toBe(200);
      return cat.lots.buffer;
    });
  });

  it('refuses a lot of the wrong material type with 422', async () => {
    await expectRefusedAndAudited(35, 'cd4BeadsLot', (cat) => cat.lots['cd8-microbeads']);
  });

  it('refuses an unknown lot id with 422', async () => {
    await expectRefusedAndAudited(36, 'bufferLot', () => 'no-such-lot');
  });

  it('refuses equipment whose calibration is overdue with 422', async () => {
    await expectRefusedAndAudited(37, 'cellProcessor', () => equipment('EQ-OVERDUE', 'cell-processor', day(h, -1)));
  });

  it('refuses equipment of the wrong type with 422', async () => {
    await expectRefusedAndAudited(38, 'cellProcessor', () => equipment('EQ-FREEZER', 'controlled-rate-freezer', day(h, 300)));
  });

  it('refuses unknown equipment with 422', async () => {
    await expectRefusedAndAudited(39, 'cellProcessor', () => 'no-such-equipment');
  });
});

describe('identity scans (422 audited, 400 malformed)', () => {
  it('refuses an apheresis bag with another valid DIN with 422 and audits identity.mismatch', async () => {
    const batch = await createBatch(h, 'car-t', 41);
    for (const other of [din(42).keyed, din(42).barcode]) {
      const r = await refusedWithoutWriting(h, () => post('op1', batch.id, 'apheresis-receipt', { values: receipt(41, { bagScan: other }), signature: sign('op1'), expectedVersion: batch.version }), 422);
      expect(r.body.errors?.map((e: { field: string }) => e.field)).toContain('values.bagScan');
    }
    const rows = (await auditOf(h, batch.id)).filter((a) => a.action === 'identity.mismatch');
    expect(rows).toHaveLength(2);
    expect(rows.every((a) => a.batchId === batch.id)).toBe(true);
  });

  it('accepts the batch DIN in bar-code form and in lower case (control for the mismatch test)', async () => {
    const batch = await createBatch(h, 'car-t', 43);
    const r = await post('op1', batch.id, 'apheresis-receipt', { values: receipt(43, { bagScan: din(43).barcode.toLowerCase() }), signature: sign('op1'), expectedVersion: batch.version });
    expect(r.status).toBe(201);
  });

  it('refuses a malformed DIN in bagScan with 400 naming values.bagScan, unaudited as a mismatch', async () => {
    const batch = await createBatch(h, 'car-t', 44);
    const d = din(44);
    const wrongCheck = d.din + (d.check === 'A' ? 'B' : 'A');
    for (const bad of ['W1234', wrongCheck, `=${d.din}97`, `O${d.din.slice(1)}${d.check}`]) {
      await refusedWithoutWriting(h, () => post('op1', batch.id, 'apheresis-receipt', { values: receipt(44, { bagScan: bad }), signature: sign('op1'), expectedVersion: batch.version }), 400, ['values.bagScan']);
    }
    expect((await auditOf(h, batch.id)).filter((a) => a.action === 'identity.mismatch')).toHaveLength(0);
  });

  it('judges a malformed bagScan (values, 400) before the signature credentials (401)', async () => {
    const batch = await createBatch(h, 'car-t', 45);
    await refusedWithoutWriting(h, () => post('op1', batch.id, 'apheresis-receipt', { values: receipt(45, { bagScan: 'not-a-din' }), signature: sign('op1', 'wrong-password-xyz'), expectedVersion: batch.version }), 400, ['values.bagScan']);
  });
});

describe('malformed step bodies (400 with dotted field paths)', () => {
  let batch: { id: string; version: number };
  beforeEach(async () => { batch = await createBatch(h, 'car-t', 51); });
  const good = () => ({ values: receipt(51), signature: sign('op1'), expectedVersion: batch.version });
  const refuse = (body: unknown, fields: string[]) => refusedWithoutWriting(h, () => post('op1', batch.id, 'apheresis-receipt', body), 400, fields);

  it('refuses a body without a signature, naming signature', async () => {
    const { signature: _s, ...body } = good();
    await refuse(body, ['signature']);
  });

  it('refuses values that are not an object, naming values', async () => {
    await refuse({ ...good(), values: 'bagScan=x' }, ['values']);
    await refuse({ ...good(), values: [1, 2] }, ['values']);
  });

  it('refuses expectedVersion given as a string, naming expectedVersion', async () => {
    await refuse({ ...good(), expectedVersion: String(batch.version) }, ['expectedVersion']);
  });

  it('refuses a missing expectedVersion on a step, naming expectedVersion', async () => {
    const { expectedVersion: _v, ...body } = good();
    await refuse(body, ['expectedVersion']);
  });

  it('refuses an unknown top-level key, naming it', async () => {
    await refuse({ ...good(), recordedAt: iso(nowMs(h)) }, ['recordedAt']);
  });

  it('refuses an unknown key inside signature, naming signature.<key>', async () => {
    await refuse({ ...good(), signature: { ...sign('op1'), userId: 'x' } }, ['signature.userId']);
  });

  it('refuses a signature without a password, naming signature.password', async () => {
    await refuse({ ...good(), signature: { username: 'op1' } }, ['signature.password']);
  });

  it('refuses the meaning "verified" on a step, naming signature.meaning', async () => {
    await refuse({ ...good(), signature: { ...sign('op1'), meaning: 'verified' } }, ['signature.meaning']);
  });

  it('accepts the meaning "performed" on a step (control)', async () => {
    const r = await post('op1', batch.id, 'apheresis-receipt', { ...good(), signature: { ...sign('op1'), meaning: 'performed' } });
    expect(r.status).toBe(201);
  });

  it('refuses an unknown field inside values, naming values.<field>', async () => {
    await refuse({ ...good(), values: { ...receipt(51), viability: 90 } }, ['values.viability']);
  });

  it('refuses a number sent as a string, naming values.volume', async () => {
    await refuse({ ...good(), values: receipt(51, { volume: '200' }) }, ['values.volume']);
  });

  it('refuses a missing required value, naming it', async () => {
    const { transportTemperature: _t, ...values } = receipt(51);
    await refuse({ ...good(), values }, ['values.transportTemperature']);
  });

  it('refuses a datetime in the future, naming values.receivedAt', async () => {
    await refuse({ ...good(), values: receipt(51, { receivedAt: iso(nowMs(h) + HOUR) }) }, ['values.receivedAt']);
  });

  it('refuses a datetime that is not ISO-8601 UTC, naming values.collectionEnd', async () => {
    await refuse({ ...good(), values: receipt(51, { collectionEnd: '02/03/2026 08:00' }) }, ['values.collectionEnd']);
    await refuse({ ...good(), values: receipt(51, { collectionEnd: '2026-03-02T01:00:00+07:00' }) }, ['values.collectionEnd']);
  });

  it('refuses a datetime naming no real instant (30 February, 24:00, second 60) instead of rolling it over, naming values.collectionEnd', async () => {
    for (const collectionEnd of ['2026-02-30T08:00:00Z', '2026-04-31T08:00:00Z', '2025-02-29T08:00:00Z', '2026-03-01T24:00:00Z', '2026-03-01T08:60:00Z', '2026-03-01T08:00:60Z']) {
      await refuse({ ...good(), values: receipt(51, { collectionEnd }) }, ['values.collectionEnd']);
    }
    // Control: a leap day and minute precision are real times and are recorded.
    const r = await post('op1', batch.id, 'apheresis-receipt', { ...good(), values: receipt(51, { collectionEnd: '2024-02-29T08:00Z' }) });
    expect(r.status).toBe(201);
  });

  it('refuses a value outside the physical limits, naming values.transportTemperature', async () => {
    await refuse({ ...good(), values: receipt(51, { transportTemperature: 500 }) }, ['values.transportTemperature']);
  });

  it('judges a datetime against the process clock: a time that was future becomes acceptable after advancing it', async () => {
    const later = iso(nowMs(h) + 2 * HOUR);
    await refuse({ ...good(), values: receipt(51, { receivedAt: later }) }, ['values.receivedAt']);
    await advance(h, 3);
    const r = await post('op1', batch.id, 'apheresis-receipt', { ...good(), values: receipt(51, { receivedAt: later }) });
    expect(r.status).toBe(201);
  });

  it('refuses a value sent for a computed field (culture-check cultureDay), naming values.cultureDay', async () => {
    const b = await createBatch(h, 'car-t', 52);
    const cat = await registerCatalogue(h, 'car-t');
    await toCultureCheck(h, b.id, 52, cat);
    const v = await version(h, b.id);
    const values = { viableCellDensity: 1.5, viability: 90, cultureVolume: 100 };
    await refusedWithoutWriting(h, () => post('op1', b.id, 'culture-check', { values: { ...values, cultureDay: 3 }, signature: sign('op1'), expectedVersion: v }), 400, ['values.cultureDay']);
    await refusedWithoutWriting(h, () => post('op1', b.id, 'culture-check', { values: { ...values, totalViableCells: 150 }, signature: sign('op1'), expectedVersion: v }), 400, ['values.totalViableCells']);
    // Control: the same values without the computed field are recorded.
    expect((await post('op1', b.id, 'culture-check', { values, signature: sign('op1'), expectedVersion: v })).status).toBe(201);
  });

  it('refuses a verification body with an unknown key or a wrong meaning', async () => {
    await record(h, batch.id, 'apheresis-receipt', receipt(51));
    const sample = await record(h, batch.id, 'starting-material-sample', sampleValues);
    const url = `/batches/${batch.id}/entries/${sample.entry.id}/verify`;
    await refusedWithoutWriting(h, () => call(h, 'op2', 'POST', url, { signature: sign('op2'), values: {} }), 400, ['values']);
    await refusedWithoutWriting(h, () => call(h, 'op2', 'POST', url, { signature: { ...sign('op2'), meaning: 'performed' } }), 400, ['signature.meaning']);
    await refusedWithoutWriting(h, () => call(h, 'op2', 'POST', url, { signature: sign('op2'), expectedVersion: 'x' }), 400, ['expectedVersion']);
    await refusedWithoutWriting(h, () => call(h, 'op2', 'POST', url, {}), 400, ['signature']);
  });

  it('refuses a stale expectedVersion on a verification with 409', async () => {
    await record(h, batch.id, 'apheresis-receipt', receipt(51));
    const sample = await record(h, batch.id, 'starting-material-sample', sampleValues);
    await refusedWithoutWriting(h, () => call(h, 'op2', 'POST', `/batches/${batch.id}/entries/${sample.entry.id}/verify`, { signature: sign('op2'), expectedVersion: sample.batch.version - 1 }), 409);
  });
});

describe('unknown ids (404)', () => {
  it('answers GET /batches/nope with 404', async () => {
    expectProblem(await call(h, 'op1', 'GET', '/batches/nope'), 404);
  });

  it('answers a step id the process does not have with 404', async () => {
    const batch = await createBatch(h, 'car-t', 61);
    await refusedWithoutWriting(h, () => post('op1', batch.id, 'no-such-step', { values: {}, signature: sign('op1'), expectedVersion: batch.version }), 404);
  });

  it('answers a step on an unknown batch with 404', async () => {
    await refusedWithoutWriting(h, () => post('op1', 'nope', 'apheresis-receipt', { values: receipt(62), signature: sign('op1'), expectedVersion: 1 }), 404);
  });

  it('answers verifying an unknown entry with 404', async () => {
    const batch = await createBatch(h, 'car-t', 63);
    await refusedWithoutWriting(h, () => call(h, 'op2', 'POST', `/batches/${batch.id}/entries/nope/verify`, { signature: sign('op2') }), 404);
  });

  it('answers verifying an entry of another batch with 404', async () => {
    const a = await createBatch(h, 'car-t', 64);
    const b = await createBatch(h, 'car-t', 65);
    await record(h, a.id, 'apheresis-receipt', receipt(64));
    const sample = await record(h, a.id, 'starting-material-sample', sampleValues);
    await refusedWithoutWriting(h, () => call(h, 'op2', 'POST', `/batches/${b.id}/entries/${sample.entry.id}/verify`, { signature: sign('op2') }), 404);
  });

  it('answers GET /batches/nope/deviations and /batches/nope/audit with 404', async () => {
    expectProblem(await call(h, 'op1', 'GET', '/batches/nope/deviations'), 404);
    expectProblem(await call(h, 'qa1', 'GET', '/batches/nope/audit'), 404);
  });
});

describe('corrections are refused like steps', () => {
  async function recorded(seq: number) {
    const batch = await createBatch(h, 'car-t', seq);
    const rec = await record(h, batch.id, 'apheresis-receipt', receipt(seq));
    return { batch, entryId: rec.entry.id, url: `/batches/${batch.id}/entries/${rec.entry.id}/corrections` };
  }
  const correction = (values: Record<string, unknown>, over: Record<string, unknown> = {}) => ({ values, reason: 'typing error', signature: sign('op1'), ...over });

  it('answers a correction of an unknown entry with 404', async () => {
    const { batch } = await recorded(91);
    await refusedWithoutWriting(h, () => call(h, 'op1', 'POST', `/batches/${batch.id}/entries/nope/corrections`, correction({ volume: 210 })), 404);
  });

  it('refuses a correction without a reason, with no values, or with an unknown field with 400 naming the field', async () => {
    const { url } = await recorded(92);
    await refusedWithoutWriting(h, () => call(h, 'op1', 'POST', url, { values: { volume: 210 }, signature: sign('op1') }), 400, ['reason']);
    await refusedWithoutWriting(h, () => call(h, 'op1', 'POST', url, correction({})), 400, ['values']);
    await refusedWithoutWriting(h, () => call(h, 'op1', 'POST', url, correction({ viability: 80 })), 400, ['values.viability']);
    await refusedWithoutWriting(h, () => call(h, 'op1', 'POST', url, correction({ volume: '210' })), 400, ['values.volume']);
    await refusedWithoutWriting(h, () => call(h, 'op1', 'POST', url, correction({ volume: 210 }, { signature: { ...sign('op1'), meaning: 'verified' } })), 400, ['signature.meaning']);
  });

  it('refuses a correction that erases a required value (null) with 400 naming it, and writes nothing', async () => {
    const { url } = await recorded(95);
    await refusedWithoutWriting(h, () => call(h, 'op1', 'POST', url, correction({ volume: null })), 400, ['values.volume']);
    await refusedWithoutWriting(h, () => call(h, 'op1', 'POST', url, correction({ bagScan: null })), 400, ['values.bagScan']);
    await refusedWithoutWriting(h, () => call(h, 'op1', 'POST', url, correction({ transportTemperature: 12, volume: null })), 400, ['values.volume']);
    // Control: the same correction with a value is recorded.
    expect((await call(h, 'op1', 'POST', url, correction({ volume: 210 }))).status).toBe(201);
  });

  it('refuses a correction that changes nothing with 400', async () => {
    const { url } = await recorded(93);
    await refusedWithoutWriting(h, () => call(h, 'op1', 'POST', url, correction({ volume: 200 })), 400);
  });

  it('refuses a correction from a QC session or signed by QC with 403, and with a wrong password with 401', async () => {
    const { url } = await recorded(94);
    await refusedWithoutWriting(h, () => call(h, 'qc1', 'POST', url, correction({ volume: 210 }, { signature: sign('qc1') })), 403);
    await refusedWithoutWriting(h, () => call(h, 'op1', 'POST', url, correction({ volume: 210 }, { signature: sign('qc1') })), 403);
    await refusedWithoutWriting(h, () => call(h, 'op1', 'POST', url, correction({ volume: 210 }, { signature: sign('op1', 'wrong-password-xyz') })), 401);
  });

  it('refuses correcting the bag scan to another DIN with 422 and audits identity.mismatch', async () => {
    const { batch, url } = await recorded(95);
    await refusedWithoutWriting(h, () => call(h, 'op1', 'POST', url, correction({ bagScan: din(96).keyed })), 422);
    expect((await auditOf(h, batch.id)).filter((a) => a.action === 'identity.mismatch')).toHaveLength(1);
  });

  it('judges a malformed bag scan in a correction (400) before the signature credentials (401)', async () => {
    const { url } = await recorded(97);
    await refusedWithoutWriting(h, () => call(h, 'op1', 'POST', url, correction({ bagScan: 'not-a-din' }, { signature: sign('op1', 'wrong-password-xyz') })), 400, ['values.bagScan']);
  });
});

describe('which error wins (API.md order)', () => {
  it('answers 401 for no token even when the body is malformed', async () => {
    const batch = await createBatch(h, 'car-t', 71);
    await refusedWithoutWriting(h, () => call(h, null, 'POST', `/batches/${batch.id}/steps/apheresis-receipt`, { values: 'nonsense' }), 401);
    await refusedWithoutWriting(h, () => call(h, null, 'POST', '/batches', { din: 'bad' }), 401);
  });

  it('answers 400 for a malformed body even when the batch is unknown', async () => {
    await refusedWithoutWriting(h, () => post('op1', 'nope', 'apheresis-receipt', { values: 'nonsense' }), 400, ['values']);
  });

  it('answers 404 for an unknown batch even when the session role is wrong', async () => {
    await refusedWithoutWriting(h, () => post('qc1', 'nope', 'apheresis-receipt', { values: receipt(72), signature: sign('qc1'), expectedVersion: 1 }), 404);
    await refusedWithoutWriting(h, () => post('admin', 'nope', 'apheresis-receipt', { values: receipt(72), signature: sign('op1'), expectedVersion: 1 }), 404);
  });

  it('answers 404 for an unknown step or entry even when the session role is wrong', async () => {
    const batch = await createBatch(h, 'car-t', 81);
    await refusedWithoutWriting(h, () => post('qc1', batch.id, 'no-such-step', { values: {}, signature: sign('qc1'), expectedVersion: batch.version }), 404);
    await refusedWithoutWriting(h, () => call(h, 'insp1', 'POST', `/batches/${batch.id}/entries/nope/verify`, { signature: sign('op2') }), 404);
  });

  it('answers 403 for a wrong session role even when the step is out of order', async () => {
    const batch = await createBatch(h, 'car-t', 73);
    const cat = await registerCatalogue(h, 'car-t');
    await refusedWithoutWriting(h, () => post('qc1', batch.id, 'cd4-cd8-selection', { values: selectionValues(cat), signature: sign('op1'), expectedVersion: batch.version }), 403);
  });

  it('answers 403 for a wrong session role even when the version is stale', async () => {
    const batch = await createBatch(h, 'car-t', 74);
    await refusedWithoutWriting(h, () => post('qc1', batch.id, 'apheresis-receipt', { values: receipt(74), signature: sign('op1'), expectedVersion: batch.version + 5 }), 403);
  });

  it('answers 409 for the wrong order even when the values do not fit the fields', async () => {
    const batch = await createBatch(h, 'car-t', 75);
    await refusedWithoutWriting(h, () => post('op1', batch.id, 'cd4-cd8-selection', { values: { viability: 'high', bogus: 1 }, signature: sign('op1'), expectedVersion: batch.version }), 409);
  });

  it('answers 409 for a stale version even when the values do not fit the fields', async () => {
    const batch = await createBatch(h, 'car-t', 76);
    await refusedWithoutWriting(h, () => post('op1', batch.id, 'apheresis-receipt', { values: { volume: 'lots' }, signature: sign('op1'), expectedVersion: batch.version + 1 }), 409);
  });

  it('answers 400 for values that do not fit even when the signature password is wrong (and counts no failure)', async () => {
    const batch = await createBatch(h, 'car-t', 77);
    for (let i = 0; i < 6; i++) {
      await refusedWithoutWriting(h, () => post('op1', batch.id, 'apheresis-receipt', { values: receipt(77, { volume: '200' }), signature: sign('op2', 'wrong-password-xyz'), expectedVersion: batch.version }), 400, ['values.volume']);
    }
    // Six refusals that never reached the credentials: op2 is not locked.
    expect((await call(h, null, 'POST', '/auth/login', { username: 'op2', password: PASSWORD })).status).toBe(200);
  });

  it('answers 401 for wrong signature credentials even when the signer performed the step being verified', async () => {
    const batch = await createBatch(h, 'car-t', 78);
    await record(h, batch.id, 'apheresis-receipt', receipt(78));
    const sample = await record(h, batch.id, 'starting-material-sample', sampleValues);
    await refusedWithoutWriting(h, () => call(h, 'op2', 'POST', `/batches/${batch.id}/entries/${sample.entry.id}/verify`, { signature: sign('op1', 'wrong-password-xyz') }), 401);
  });

  it('answers 401 for wrong signature credentials even when a lot is expired', async () => {
    const batch = await createBatch(h, 'car-t', 79);
    const cat = await registerCatalogue(h, 'car-t');
    await toSelection(h, batch.id, 79);
    const expired = (await call(h, 'qa1', 'POST', '/materials', { type: 'buffer', name: 'old buffer', lotNumber: 'OLD-1', expiresOn: day(h, -10), status: 'released' })).body.id;
    const v = await version(h, batch.id);
    await refusedWithoutWriting(h, () => post('op1', batch.id, 'cd4-cd8-selection', { values: { ...selectionValues(cat), bufferLot: expired }, signature: sign('op1', 'wrong-password-xyz'), expectedVersion: v }), 401);
    expect((await auditOf(h, batch.id)).filter((a) => a.action === 'step.refused')).toHaveLength(0);
  });

  it('answers 403 for a signer without the role even when a lot is expired', async () => {
    const batch = await createBatch(h, 'car-t', 80);
    const cat = await registerCatalogue(h, 'car-t');
    await toSelection(h, batch.id, 80);
    const expired = (await call(h, 'qa1', 'POST', '/materials', { type: 'buffer', name: 'old buffer', lotNumber: 'OLD-2', expiresOn: day(h, -10), status: 'released' })).body.id;
    const v = await version(h, batch.id);
    await refusedWithoutWriting(h, () => post('op1', batch.id, 'cd4-cd8-selection', { values: { ...selectionValues(cat), bufferLot: expired }, signature: sign('qc1'), expectedVersion: v }), 403);
  });
});
