// Starting batches: ISBT 128 DINs in both forms, the refusals of malformed ones (400 on `din`), DINs
// in use (409), patient data, unknown processes (404) and who may start a batch (403).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call, createBatch, din, harness, sign, type Harness } from '../../helpers.js';
import { expectProblem, mod37, mod37Value, refusedWithoutWriting } from './support.js';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => h.close());

const start = (dinValue: unknown, user = 'op1', extra: Record<string, unknown> = {}) =>
  call(h, user, 'POST', '/batches', { processId: 'car-t', din: dinValue, patient: { id: 'PT-1', weightKg: 70 }, ...extra });

describe('POST /batches accepts a DIN as keyed or scanned', () => {
  it('accepts the keyed form (DIN + check character) and stores the 13-character DIN and its check', async () => {
    const d = din(1);
    const r = await start(d.keyed);
    expect(r.status).toBe(201);
    expect(r.body.din).toBe(d.din);
    expect(r.body.din).toHaveLength(13);
    expect(r.body.dinCheck).toBe(d.check);
    expect((await call(h, 'op1', 'GET', `/batches/${r.body.id}`)).body).toMatchObject({ din: d.din, dinCheck: d.check });
  });

  it('accepts the bar-code form (= + DIN + flags 60 + check) and stores the DIN and its check', async () => {
    const d = din(2);
    const r = await start(d.barcode);
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ din: d.din, dinCheck: d.check });
  });

  it('accepts the worked example G123498654321H', async () => {
    const r = await start('G123498654321H');
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ din: 'G123498654321', dinCheck: 'H' });
  });

  it('accepts lower case and stores upper case', async () => {
    const keyed = await start('g123498654321h');
    expect(keyed.status).toBe(201);
    expect(keyed.body).toMatchObject({ din: 'G123498654321', dinCheck: 'H' });
    const d = din(3);
    const scanned = await start(`=${d.din.toLowerCase()}${d.barcode.slice(14)}`);
    expect(scanned.status).toBe(201);
    expect(scanned.body).toMatchObject({ din: d.din, dinCheck: d.check });
  });

  it("accepts a DIN whose check character is '*' (keyed with '*', scanned with flag 96)", async () => {
    let star = '';
    for (let n = 0; n < 100_000 && !star; n++) {
      const candidate = `W123426${String(n).padStart(6, '0')}`;
      if (mod37(candidate) === '*') star = candidate;
    }
    expect(star).not.toBe('');
    const keyed = await start(`${star}*`);
    expect(keyed.status).toBe(201);
    expect(keyed.body).toMatchObject({ din: star, dinCheck: '*' });
    const t = await call(h, 'sup1', 'POST', `/batches/${keyed.body.id}/terminate`, { reason: 'test', signature: sign('sup1') });
    expect(t.status).toBe(201);
    const scanned = await start(`=${star}96`);
    expect(scanned.status).toBe(201);
    expect(scanned.body).toMatchObject({ din: star, dinCheck: '*' });
  });

  it('accepts container flags 00–59 and alphabetic flags from the ISBT 128 flag alphabet', async () => {
    expect((await start(`=${din(4).din}00`)).status).toBe(201);
    expect((await start(`=${din(5).din}59`)).status).toBe(201);
    expect((await start(`=${din(6).din}AB`)).status).toBe(201);
  });
});

describe('POST /batches refuses malformed DINs with 400 on din', () => {
  const d = din(10);
  const wrongCheck = d.check === 'A' ? 'B' : 'A';
  const wrongFlag = 60 + ((mod37Value(d.din) + 1) % 37);
  const cases: [string, unknown][] = [
    ['a wrong check character', d.din + wrongCheck],
    ['a bar-code flag 60–96 that is not 60 + the check value', `=${d.din}${wrongFlag}`],
    ['flag 97', `=${d.din}97`],
    ['flag 98', `=${d.din}98`],
    ['flag 99', `=${d.din}99`],
    ['flags with letters outside the flag alphabet (I, O)', `=${d.din}IO`],
    ["a first character 'O'", `O123426000010${mod37('O123426000010')}`],
    ["a first character '0'", `0123426000010${mod37('0123426000010')}`],
    ['13 characters (no check character)', d.din],
    ['15 characters', `${d.keyed}1`],
    ['a bar code of 17 characters', `${d.barcode}1`],
    ['a bar code without its = sign (16 characters)', `W${d.din}${d.barcode.slice(14)}`.slice(0, 16)],
    ['letters in the sequence number', `W123426ABCDEF${mod37('W123426ABCDEF')}`],
    ['a leading space', ` ${d.keyed}`],
    ['a trailing line break', `${d.keyed}\n`],
    ['an empty string', ''],
    ['a number', 12345678901234],
    ['null', null],
  ];
  for (const [what, value] of cases) {
    it(`refuses ${what}`, async () => {
      const r = await refusedWithoutWriting(h, () => start(value), 400, ['din']);
      expect(r.body.errors[0].field).toBe('din');
    });
  }

  it('refuses a malformed DIN with 400 before judging the role of the session (body shape first)', async () => {
    const r = await refusedWithoutWriting(h, () => start(d.din + wrongCheck, 'insp1'), 400, ['din']);
    expect(r.body.errors[0].field).toBe('din');
  });
});

describe('POST /batches refuses DINs in use, bad patients, unknown processes and wrong roles', () => {
  it('refuses a DIN already used by an active batch with 409, whatever form it is sent in', async () => {
    const d = din(20);
    await createBatch(h, 'car-t', 20);
    await refusedWithoutWriting(h, () => start(d.keyed), 409);
    await refusedWithoutWriting(h, () => start(d.barcode), 409);
    await refusedWithoutWriting(h, () => start(d.keyed.toLowerCase(), 'sup1'), 409);
    await refusedWithoutWriting(h, () => call(h, 'op1', 'POST', '/batches', { processId: 'nk', din: d.keyed, patient: { id: 'PT-9', weightKg: 60 } }), 409);
  });

  it('accepts the same DIN again once the first batch is terminated', async () => {
    const d = din(21);
    const first = await createBatch(h, 'car-t', 21);
    const t = await call(h, 'sup1', 'POST', `/batches/${first.id}/terminate`, { reason: 'apheresis bag damaged', signature: sign('sup1') });
    expect(t.status).toBe(201);
    expect(t.body.batch.status).toBe('terminated');
    const again = await start(d.barcode);
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(first.id);
    expect(again.body.din).toBe(d.din);
    // ...and the new active batch blocks it again.
    await refusedWithoutWriting(h, () => start(d.keyed), 409);
  });

  it('refuses a negative patient weight with 400 on patient.weightKg', async () => {
    const r = await refusedWithoutWriting(h, () => call(h, 'op1', 'POST', '/batches', { processId: 'car-t', din: din(22).keyed, patient: { id: 'PT-22', weightKg: -70 } }), 400, ['patient.weightKg']);
    expect(r.body.errors[0].field).toBe('patient.weightKg');
  });

  it('refuses a zero or textual patient weight, or a missing patient id, naming the field', async () => {
    await refusedWithoutWriting(h, () => call(h, 'op1', 'POST', '/batches', { processId: 'car-t', din: din(23).keyed, patient: { id: 'PT-23', weightKg: 0 } }), 400, ['patient.weightKg']);
    await refusedWithoutWriting(h, () => call(h, 'op1', 'POST', '/batches', { processId: 'car-t', din: din(23).keyed, patient: { id: 'PT-23', weightKg: '70' } }), 400, ['patient.weightKg']);
    await refusedWithoutWriting(h, () => call(h, 'op1', 'POST', '/batches', { processId: 'car-t', din: din(23).keyed, patient: { weightKg: 70 } }), 400, ['patient.id']);
  });

  it('refuses a patient\'s name as patient id (21 CFR 1271.290(c)) with 400 on patient.id; the name reaches no record', async () => {
    const name = 'Nguyễn Văn An';
    for (const id of [name, 'Smith', 'PT 0001', 'An', 'Jane Doe']) {
      const r = await refusedWithoutWriting(h, () => call(h, 'op1', 'POST', '/batches', { processId: 'car-t', din: din(26).keyed, patient: { id, weightKg: 70 } }), 400, ['patient.id']);
      expect(r.body.errors.find((e: { field: string }) => e.field === 'patient.id').message).toMatch(/never a name/);
    }
    // The refused attempt is audited without the value: the name is kept nowhere.
    const audit = JSON.stringify((await call(h, 'qa1', 'GET', '/audit?limit=500')).body.items);
    expect(audit).not.toContain('Nguyễn');
    expect(audit).not.toContain('Smith');
    expect((await call(h, 'op1', 'GET', '/batches')).body.items).toEqual([]);
  });

  it('accepts medical record numbers and pseudonyms of the default format (control), as the contract walk sends them', async () => {
    for (const [i, id] of ['PT-00012345', 'MRN123456', 'CAR.2026_007'].entries()) {
      const r = await call(h, 'op1', 'POST', '/batches', { processId: 'car-t', din: din(40 + i).keyed, patient: { id, weightKg: 70 } });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      expect(r.body.patient.id).toBe(id);
    }
  });

  it('judges the patient id against the site\'s configured pattern (CELLBATCH_PATIENT_ID_PATTERN), before an unknown process (400 before 404)', async () => {
    const site = await harness({ patientIdPattern: 'MRN[0-9]{6}' });
    try {
      expect((await call(site, 'op1', 'POST', '/batches', { processId: 'car-t', din: din(50).keyed, patient: { id: 'MRN123456', weightKg: 70 } })).status).toBe(201);
      expectProblem(await call(site, 'op1', 'POST', '/batches', { processId: 'car-t', din: din(51).keyed, patient: { id: 'PT-00012345', weightKg: 70 } }), 400, ['patient.id']);
      expectProblem(await call(site, 'op1', 'POST', '/batches', { processId: 'car-t', din: din(51).keyed, patient: { id: 'MRN1234567', weightKg: 70 } }), 400, ['patient.id']);
      expectProblem(await call(site, 'op1', 'POST', '/batches', { processId: 'no-such', din: din(51).keyed, patient: { id: 'Jane Doe', weightKg: 70 } }), 400, ['patient.id']);
    } finally {
      await site.close();
    }
    await expect(harness({ patientIdPattern: '([' })).rejects.toThrow(/CELLBATCH_PATIENT_ID_PATTERN/);
  });

  it('refuses an unknown key in the body or in patient, naming it', async () => {
    await refusedWithoutWriting(h, () => start(din(24).keyed, 'op1', { batchNumber: 'CART-2026-99999' }), 400, ['batchNumber']);
    await refusedWithoutWriting(h, () => call(h, 'op1', 'POST', '/batches', { processId: 'car-t', din: din(24).keyed, patient: { id: 'PT-24', weightKg: 70, name: 'Jane Doe' } }), 400, ['patient.name']);
  });

  it('refuses an unknown processId with 404', async () => {
    await refusedWithoutWriting(h, () => call(h, 'op1', 'POST', '/batches', { processId: 'no-such-process', din: din(25).keyed, patient: { id: 'PT-25', weightKg: 70 } }), 404);
  });

  it('answers 404 for an unknown processId even when the session may not start batches (404 before 403)', async () => {
    for (const user of ['insp1', 'admin', 'qc1']) {
      await refusedWithoutWriting(h, () => call(h, user, 'POST', '/batches', { processId: 'no-such-process', din: din(25).keyed, patient: { id: 'PT-25', weightKg: 70 } }), 404);
    }
  });

  it('refuses admin, inspector, QC and QA sessions starting a batch with 403', async () => {
    for (const user of ['admin', 'insp1', 'qc1', 'qa1']) {
      await refusedWithoutWriting(h, () => start(din(26).keyed, user), 403);
    }
    // The DIN was not consumed by any refusal.
    expect((await start(din(26).keyed, 'sup1')).status).toBe(201);
  });

  it('refuses starting a batch without a token with 401', async () => {
    await refusedWithoutWriting(h, () => start(din(27).keyed, null as unknown as string), 401);
  });
});

describe('terminate refusals', () => {
  it('refuses terminating an unknown batch with 404 and a terminated batch with 409', async () => {
    await refusedWithoutWriting(h, () => call(h, 'sup1', 'POST', '/batches/nope/terminate', { reason: 'x', signature: sign('sup1') }), 404);
    const b = await createBatch(h, 'car-t', 30);
    expect((await call(h, 'sup1', 'POST', `/batches/${b.id}/terminate`, { reason: 'x', signature: sign('sup1') })).status).toBe(201);
    await refusedWithoutWriting(h, () => call(h, 'qa1', 'POST', `/batches/${b.id}/terminate`, { reason: 'again', signature: sign('qa1') }), 409);
  });

  it('refuses a termination without a reason or with the wrong meaning, naming the field', async () => {
    const b = await createBatch(h, 'car-t', 31);
    await refusedWithoutWriting(h, () => call(h, 'sup1', 'POST', `/batches/${b.id}/terminate`, { reason: '  ', signature: sign('sup1') }), 400, ['reason']);
    await refusedWithoutWriting(h, () => call(h, 'sup1', 'POST', `/batches/${b.id}/terminate`, { signature: sign('sup1') }), 400, ['reason']);
    await refusedWithoutWriting(h, () => call(h, 'sup1', 'POST', `/batches/${b.id}/terminate`, { reason: 'x', signature: { ...sign('sup1'), meaning: 'performed' } }), 400, ['signature.meaning']);
  });

  it('refuses a termination stating a stale expectedVersion with 409', async () => {
    const b = await createBatch(h, 'car-t', 33);
    await refusedWithoutWriting(h, () => call(h, 'sup1', 'POST', `/batches/${b.id}/terminate`, { reason: 'x', signature: sign('sup1'), expectedVersion: b.version + 1 }), 409);
  });

  it('refuses a termination signed by an operator with 403', async () => {
    const b = await createBatch(h, 'car-t', 32);
    await refusedWithoutWriting(h, () => call(h, 'sup1', 'POST', `/batches/${b.id}/terminate`, { reason: 'x', signature: sign('op1') }), 403);
  });
});

describe('batch reads', () => {
  it('answers GET /batches/nope with 404 problem+json', async () => {
    expectProblem(await call(h, 'insp1', 'GET', '/batches/nope'), 404);
  });

  it('refuses an unknown status filter or a bad limit on GET /batches with 400', async () => {
    const status = await call(h, 'op1', 'GET', '/batches?status=finished');
    expectProblem(status, 400);
    expect(status.body.errors.some((e: { field: string }) => /(^|\.)status$/.test(e.field))).toBe(true);
    const limit = await call(h, 'op1', 'GET', '/batches?limit=0');
    expectProblem(limit, 400);
    expect(limit.body.errors.some((e: { field: string }) => /(^|\.)limit$/.test(e.field))).toBe(true);
  });
});
