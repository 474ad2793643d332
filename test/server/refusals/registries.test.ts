// Material lots and equipment: who may register them (supervisor, qa), who changes a lot's status
// (qa only), and malformed registrations (400 naming the field). A refusal registers nothing.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call, harness, recordState, type Harness } from '../../helpers.js';
import { day, expectProblem, type Reply } from './support.js';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => h.close());

const material = (over: Record<string, unknown> = {}) => ({ type: 'buffer', name: 'CliniMACS buffer', lotNumber: 'B-001', expiresOn: day(h, 200), status: 'quarantined', ...over });
const equipment = (over: Record<string, unknown> = {}) => ({ assetId: 'EQ-001', type: 'cell-processor', name: 'Prodigy 1', calibrationDueOn: day(h, 200), ...over });

async function registry() {
  const m = await call(h, 'qa1', 'GET', '/materials?limit=500');
  const e = await call(h, 'qa1', 'GET', '/equipment?limit=500');
  return { materials: m.body.items as { id: string; status: string }[], equipment: e.body.items as unknown[] };
}

/** A registry refusal: problem+json, no lot or equipment registered or changed, no record written. */
async function refusedRegistry(request: () => Promise<Reply>, status: number, fields: string[] = []) {
  const before = await registry();
  const state = await recordState(h);
  const r = await request();
  expectProblem(r, status, fields);
  expect(await registry()).toEqual(before);
  expect(await recordState(h)).toEqual(state);
  return r;
}

describe('registering materials and equipment', () => {
  it('refuses an operator registering a material lot or equipment with 403', async () => {
    await refusedRegistry(() => call(h, 'op1', 'POST', '/materials', material()), 403);
    await refusedRegistry(() => call(h, 'op1', 'POST', '/equipment', equipment()), 403);
  });

  it('refuses QC, inspector and admin sessions registering with 403', async () => {
    for (const user of ['qc1', 'insp1', 'admin']) {
      await refusedRegistry(() => call(h, user, 'POST', '/materials', material()), 403);
      await refusedRegistry(() => call(h, user, 'POST', '/equipment', equipment()), 403);
    }
  });

  it('lets a supervisor and QA register (control)', async () => {
    expect((await call(h, 'sup1', 'POST', '/materials', material())).status).toBe(201);
    expect((await call(h, 'qa1', 'POST', '/equipment', equipment())).status).toBe(201);
  });

  it('refuses an expiresOn that is not a YYYY-MM-DD calendar date with 400 on expiresOn', async () => {
    for (const expiresOn of ['31/12/2026', '2026-13-01', '2026-02-30', '2026-12-31T00:00:00Z', 'tomorrow', '', 20261231]) {
      await refusedRegistry(() => call(h, 'sup1', 'POST', '/materials', material({ expiresOn })), 400, ['expiresOn']);
    }
  });

  it('refuses a calibrationDueOn that is not a date with 400 on calibrationDueOn', async () => {
    for (const calibrationDueOn of ['2026-04-31', 'next year', null]) {
      await refusedRegistry(() => call(h, 'sup1', 'POST', '/equipment', equipment({ calibrationDueOn })), 400, ['calibrationDueOn']);
    }
  });

  it('refuses a lot registered as rejected, or with a missing or unknown key, with 400 naming the field', async () => {
    await refusedRegistry(() => call(h, 'sup1', 'POST', '/materials', material({ status: 'rejected' })), 400, ['status']);
    const { lotNumber: _l, ...noLot } = material();
    await refusedRegistry(() => call(h, 'sup1', 'POST', '/materials', noLot), 400, ['lotNumber']);
    await refusedRegistry(() => call(h, 'sup1', 'POST', '/materials', material({ supplier: 'Miltenyi' })), 400, ['supplier']);
  });

  it('refuses equipment with an asset id already registered with 409', async () => {
    expect((await call(h, 'sup1', 'POST', '/equipment', equipment())).status).toBe(201);
    await refusedRegistry(() => call(h, 'sup1', 'POST', '/equipment', equipment({ name: 'Prodigy duplicate' })), 409);
  });

  it('accepts an expired lot or overdue equipment at registration (using them is what is refused)', async () => {
    expect((await call(h, 'sup1', 'POST', '/materials', material({ expiresOn: day(h, -30) }))).status).toBe(201);
    expect((await call(h, 'sup1', 'POST', '/equipment', equipment({ calibrationDueOn: day(h, -30) }))).status).toBe(201);
  });
});

describe('material release (21 CFR 211.22, 211.84: production does not release its own materials)', () => {
  it('refuses a supervisor registering a lot as released with 403, registering nothing', async () => {
    const r = await refusedRegistry(() => call(h, 'sup1', 'POST', '/materials', material({ status: 'released' })), 403);
    expect(r.body.detail).toMatch(/qa/);
  });

  it('quarantines a lot a supervisor registers without a status, and a lot sent as quarantined', async () => {
    const { status: _s, ...noStatus } = material();
    const a = await call(h, 'sup1', 'POST', '/materials', noStatus);
    expect(a.status).toBe(201);
    expect(a.body.status).toBe('quarantined');
    const b = await call(h, 'sup1', 'POST', '/materials', material({ lotNumber: 'B-002' }));
    expect(b.body.status).toBe('quarantined');
  });

  it('answers, lists and audits a name holding a lone surrogate the same: as stored, with U+FFFD in its place', async () => {
    const lot = await call(h, 'qa1', 'POST', '/materials', material({ name: 'Buffer \ud800 A', lotNumber: 'B-\udc00' }));
    expect(lot.status).toBe(201);
    expect(lot.body).toMatchObject({ name: 'Buffer \ufffd A', lotNumber: 'B-\ufffd' });
    const eq = await call(h, 'qa1', 'POST', '/equipment', equipment({ name: 'Prodigy \ud83d', assetId: 'EQ-\ud800' }));
    expect(eq.status).toBe(201);
    expect(eq.body).toMatchObject({ name: 'Prodigy \ufffd', assetId: 'EQ-\ufffd' });
    const { materials, equipment: instruments } = await registry();
    expect(materials.find((m) => m.id === lot.body.id)).toEqual(lot.body);
    expect(instruments.find((e) => (e as { id: string }).id === eq.body.id)).toEqual(eq.body);
    const audit = (await call(h, 'qa1', 'GET', '/audit?limit=500')).body.items as { entityId: string; after?: Record<string, unknown> }[];
    expect(audit.find((a) => a.entityId === lot.body.id)?.after).toMatchObject({ name: 'Buffer \ufffd A', lotNumber: 'B-\ufffd' });
    expect(audit.find((a) => a.entityId === eq.body.id)?.after).toMatchObject({ name: 'Prodigy \ufffd', assetId: 'EQ-\ufffd' });
    // The asset id as stored is the one a second registration is compared with.
    expectProblem(await call(h, 'qa1', 'POST', '/equipment', equipment({ assetId: 'EQ-\ufffd' })), 409);
  });

  it('names an unknown key that cannot be a path segment on the object holding it, so that every errors[].field stays a dotted path', async () => {
    const before = await registry();
    const body = await call(h, 'qa1', 'POST', '/materials', { ...material(), 'supplier.name': 'x', '': 1, 'a[0]': 2, note: 3 });
    expectProblem(body, 400, ['body', 'note']);
    expect(body.body.errors).toEqual(expect.arrayContaining([
      { field: 'body', message: 'unknown field "supplier.name"' }, { field: 'body', message: 'unknown field ""' }, { field: 'body', message: 'unknown field "a[0]"' },
      { field: 'note', message: 'unknown field' },
    ]));
    const query = await call(h, 'qa1', 'GET', '/materials?type[x]=1&sort%20by=name');
    expectProblem(query, 400, ['querystring']);
    expect(query.body.errors).toEqual([{ field: 'querystring', message: 'unknown field "type[x]"' }, { field: 'querystring', message: 'unknown field "sort by"' }]);
    const vi = await h.app.inject({ method: 'GET', url: '/api/v1/equipment?a.b=1', headers: { authorization: `Bearer ${h.tokens.qa1}`, 'accept-language': 'vi' } });
    expect(vi.json().errors).toEqual([{ field: 'querystring', message: 'trường không được nhận dạng "a.b"' }]);
    expect(await registry()).toEqual(before);
  });

  it('refuses text holding the NUL character with 400 on its field, on either store, registering nothing', async () => {
    const nul = 'text may not contain the NUL character (U+0000)';
    await refusedRegistry(() => call(h, 'qa1', 'POST', '/materials', material({ name: 'Buffer\u0000A' })), 400, ['name']);
    await refusedRegistry(() => call(h, 'sup1', 'POST', '/equipment', equipment({ assetId: 'EQ-\u0000' })), 400, ['assetId']);
    const lot = await call(h, 'qa1', 'POST', '/materials', material());
    expect(lot.status).toBe(201);
    const r = await refusedRegistry(() => call(h, 'qa1', 'PATCH', `/materials/${lot.body.id}`, { status: 'released', reason: 'CoA\u0000 ok' }), 400, ['reason']);
    expect(r.body.errors).toEqual([{ field: 'reason', message: nul }]);
    await refusedRegistry(() => call(h, 'qa1', 'GET', '/materials?type=buf%00fer'), 400, ['querystring.type']);
    await refusedRegistry(() => call(h, 'qa1', 'PATCH', '/materials/a%00b', { status: 'released', reason: 'ok' }), 400, ['params.id']);
    // A key holding NUL (or one that is no path segment) is named by the object that holds it.
    await refusedRegistry(() => call(h, 'admin', 'POST', '/users', { username: 'nul-user', fullName: 'A', roles: ['qc'], password: 'Long-Enough-Pass-1', 'x\u0000': 1 }), 400, ['body']);
    expect((await call(h, 'admin', 'POST', '/users', { username: 'nul-user', fullName: 'Trần\u0000', roles: ['qc'], password: 'Long-Enough-Pass-1' })).body.errors).toEqual([{ field: 'fullName', message: nul }]);
    expect((await call(h, 'admin', 'GET', '/users?limit=500')).body.items.some((u: { username: string }) => u.username === 'nul-user')).toBe(false);
  });

  it('lets QA register a lot as released', async () => {
    const r = await call(h, 'qa1', 'POST', '/materials', material({ status: 'released' }));
    expect(r.status).toBe(201);
    expect(r.body.status).toBe('released');
  });

  it('lets QA release a supervisor\'s quarantined lot later, with a reason, audited with QA as the user', async () => {
    const id = (await call(h, 'sup1', 'POST', '/materials', material())).body.id;
    const r = await call(h, 'qa1', 'PATCH', `/materials/${id}`, { status: 'released', reason: 'CoA reviewed, incoming tests passed' });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('released');
    const rows = (await call(h, 'qa1', 'GET', '/audit?action=material.status-changed')).body.items;
    const qa1 = (await call(h, 'admin', 'GET', '/users?limit=500')).body.items.find((u: { username: string }) => u.username === 'qa1').id;
    expect(rows).toEqual([expect.objectContaining({ userId: qa1, entityId: id, before: { status: 'quarantined' }, after: { status: 'released' }, reason: 'CoA reviewed, incoming tests passed' })]);
  });
});

describe('changing a lot status', () => {
  async function lot() {
    const r = await call(h, 'sup1', 'POST', '/materials', material());
    expect(r.status).toBe(201);
    return r.body.id as string;
  }

  it('refuses a supervisor changing a lot status with 403; only QA may', async () => {
    const id = await lot();
    await refusedRegistry(() => call(h, 'sup1', 'PATCH', `/materials/${id}`, { status: 'quarantined', reason: 'recall' }), 403);
    await refusedRegistry(() => call(h, 'op1', 'PATCH', `/materials/${id}`, { status: 'quarantined', reason: 'recall' }), 403);
    await refusedRegistry(() => call(h, 'insp1', 'PATCH', `/materials/${id}`, { status: 'quarantined', reason: 'recall' }), 403);
    await refusedRegistry(() => call(h, 'admin', 'PATCH', `/materials/${id}`, { status: 'quarantined', reason: 'recall' }), 403);
    const ok = await call(h, 'qa1', 'PATCH', `/materials/${id}`, { status: 'quarantined', reason: 'supplier recall' });
    expect(ok.status).toBe(200);
    expect(ok.body.status).toBe('quarantined');
  });

  it('answers PATCH /materials/unknown with 404 (before the role is judged)', async () => {
    await refusedRegistry(() => call(h, 'qa1', 'PATCH', '/materials/unknown', { status: 'quarantined', reason: 'recall' }), 404);
    await refusedRegistry(() => call(h, 'sup1', 'PATCH', '/materials/unknown', { status: 'quarantined', reason: 'recall' }), 404);
  });

  it('refuses a status change without a reason or to an unknown status with 400 naming the field', async () => {
    const id = await lot();
    await refusedRegistry(() => call(h, 'qa1', 'PATCH', `/materials/${id}`, { status: 'quarantined' }), 400, ['reason']);
    await refusedRegistry(() => call(h, 'qa1', 'PATCH', `/materials/${id}`, { status: 'quarantined', reason: ' ' }), 400, ['reason']);
    await refusedRegistry(() => call(h, 'qa1', 'PATCH', `/materials/${id}`, { status: 'expired', reason: 'x' }), 400, ['status']);
  });
});

describe('reading the audit trail', () => {
  it('refuses operators, supervisors and QC reading the audit with 403', async () => {
    for (const user of ['op1', 'sup1', 'qc1']) {
      expectProblem(await call(h, user, 'GET', '/audit'), 403);
      expectProblem(await call(h, user, 'GET', '/audit/verify'), 403);
    }
  });

  it('refuses a malformed audit filter with 400', async () => {
    expectProblem(await call(h, 'qa1', 'GET', '/audit?from=yesterday'), 400);
  });
});
