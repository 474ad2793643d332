// Drafts are editable, nothing else is (Annex 11 §10, §9): the author of a draft version replaces its
// content over the content read (If-Match with the ETag, the content hash), checked by the same load
// checks as POST /processes, each change audited with the content hashes before and after; another
// person, a stale ETag, a version past draft, a definition that fails its checks are refused and change
// nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { carT } from '../../workflows/builtin/car-t.js';
import { call, harness, sign, type Harness } from '../helpers.js';
import { owner } from '../owner.js';

let h: Harness;
beforeAll(async () => { h = await harness(); });
afterAll(() => h.close());

/** The built-in version every fresh database starts with, and the draft this file edits. */
const B = carT.version as number;
const N = B + 1;
const draft = (title: string) => {
  const def = structuredClone(carT) as any;
  def.version = N;
  def.title = { ...def.title, en: title };
  return def;
};
const put = async (user: string, version: number, body: unknown, ifMatch?: string) => {
  const res = await h.app.inject({
    method: 'PUT', url: `/api/v1/processes/car-t/versions/${version}`, payload: body as object,
    headers: { authorization: `Bearer ${h.tokens[user]}`, ...(ifMatch !== undefined && { 'if-match': ifMatch }) },
  });
  return { status: res.statusCode, body: res.json(), headers: res.headers };
};
const read = (version: number) => call(h, 'qa1', 'GET', `/processes/car-t/versions/${version}`);
const edits = async () => (await call(h, 'qa1', 'GET', '/audit?action=process.version-edited&limit=50')).body.items;
const audits = async () => (await h.ctx.store.counts()).audit;

describe('a draft version is edited by its author', () => {
  let etag: string;

  it('gives the content hash as ETag and replaces the content over it, audited with the hashes before and after', async () => {
    const created = await call(h, 'sup1', 'POST', '/processes', draft('CAR-T, draft one'));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const got = await read(N);
    expect(got.headers.etag).toBe(`"${created.body.hash}"`);
    const r = await put('sup1', N, draft('CAR-T, draft two'), got.headers.etag as string);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ processId: 'car-t', version: N, status: 'draft', createdBy: 'sup1' });
    expect(r.body.hash).not.toBe(created.body.hash);
    expect(r.headers.etag).toBe(`"${r.body.hash}"`);
    expect((await read(N)).body.definition.title.en).toBe('CAR-T, draft two');
    expect(await edits()).toEqual([expect.objectContaining({
      userId: (await h.ctx.store.findUserByUsername('sup1'))!.id, entityId: created.body.id, before: { hash: created.body.hash }, after: { hash: r.body.hash, processId: 'car-t', version: N },
    })]);
    etag = r.headers.etag as string;
  });

  it('changes nothing and audits nothing when the content is the same', async () => {
    const n = await audits();
    const r = await put('sup1', N, draft('CAR-T, draft two'), etag);
    expect(r.status).toBe(200);
    expect(`"${r.body.hash}"`).toBe(etag);
    expect(await audits()).toBe(n);
  });

  it('refuses a definition that fails the load checks, naming each problem by its JSON path', async () => {
    const bad = draft('CAR-T, broken');
    bad.phases[0].steps[0].fields[0].computed = { pow: [2, 3] };
    const r = await put('sup1', N, bad, etag);
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(r.body.errors).toEqual([expect.objectContaining({ field: 'phases.0.steps.0.fields.0.computed', message: expect.stringMatching(/unsupported operator "pow"/) })]);
    const moved = { ...draft('CAR-T, elsewhere'), version: N + 1 };
    const m = await put('sup1', N, moved, etag);
    expect(m.status).toBe(400);
    expect(m.body.errors).toEqual([{ field: 'version', message: `the draft being replaced is version ${N}` }]);
    expect((await read(N)).headers.etag).toBe(etag);
  });

  it('refuses a change without If-Match (428) or over content that changed since it was read (412)', async () => {
    const none = await put('sup1', N, draft('CAR-T, blind'));
    expect(none.status).toBe(428);
    expect(none.body).toMatchObject({ type: 'https://cellbatch.org/problems/if-match-required' });
    const stale = await put('sup1', N, draft('CAR-T, stale'), '"0000"');
    expect(stale.status).toBe(412);
    expect(stale.body.detail).toMatch(/has changed since it was read .*reload it/);
    const weak = await put('sup1', N, draft('CAR-T, weak'), `W/${etag}`);
    expect(weak.status).toBe(412); // If-Match compares strongly (RFC 9110 §13.1.1)
    expect((await read(N)).headers.etag).toBe(etag);
  });

  it('refuses anyone but its author, and a role that may not write processes', async () => {
    const other = await put('sup2', N, draft('CAR-T, by another'), etag);
    expect(other.status).toBe(403);
    expect(other.body.detail).toBe(`only the author of process car-t v${N} may change its draft`);
    expect((await put('op1', N, draft('CAR-T, operator'), etag)).status).toBe(403);
    expect((await put('sup1', N + 7, { ...draft('x'), version: N + 7 }, etag)).status).toBe(404);
    expect((await read(N)).headers.etag).toBe(etag);
  });

  it('refuses with 409 and why once the version is submitted: a change is then a new version; the database refuses it too', async () => {
    const submitted = await call(h, 'sup1', 'POST', `/processes/car-t/versions/${N}/transitions`, { action: 'submit', reason: 'ready for review', signature: sign('sup1') });
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(201);
    const r = await put('sup1', N, draft('CAR-T, too late'), etag);
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ type: 'https://cellbatch.org/problems/version-locked', detail: `process car-t v${N} is in_review: only a draft's content can change; a change is a new version (POST /processes)` });
    const builtin = await put('sup1', B, carT, '*');
    expect(builtin.status).toBe(403); // the built-in has no author: nobody edits it
    await expect(owner(h.location).run("update process_versions set definition = '{}' where process_id = 'car-t' and version = ?", N)).rejects.toThrow(/never changes once it leaves draft/);
    expect(await edits()).toHaveLength(1);
  });

  it('is declared in the OpenAPI description with its header and errors', async () => {
    const doc = (await call(h, null, 'GET', '/openapi.json')).body;
    const op = doc.paths['/api/v1/processes/{id}/versions/{version}'].put;
    expect(op.operationId).toBe('editProcessVersion');
    expect(op.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ in: 'header', name: 'if-match' })]));
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '403', '404', '409', '412', '415', '428']));
  });
});
