// R9 [21 CFR 11.10(g); FDA DI guidance Q4] and R5 [11.10(d)]: the ROLE × ROUTE MATRIX, generated from
// the OpenAPI description the server publishes. Every path + method it lists is called without a token
// and with the session of each role; the answer must never be a 5xx and must equal the expectation
// written below for that route and role. A route the description lists and the table lacks fails the
// suite: a new route forces a decision about who may call it.
//
// Pass 1 sends an EMPTY JSON body `{}` to every write route, so the request fails on body shape or on
// the role and writes nothing (API.md "Which error wins": 401 → 400 → 404 → 403 …; body shape beats
// role). Pass 2 sends a VALID body to every write route as each role that may NOT call it: 403, and
// nothing is written. Who may call a route is proven by the lifecycle and refusal suites.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, call, createBatch, din, harness, recordState, sign, type Harness } from '../../helpers.js';
import { receiptValues, record, sampleValues } from '../refusals/support.js';
import { ATTEMPT_ACTIONS, relogin } from './support.js';
import { may, type Action } from '../../../server/permissions.js';
import type { Role } from '../../../workflows/definition.js';
import { carT } from '../../../workflows/builtin/car-t.js';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => h.close());

/** One session per role: admin, operator, supervisor, qc, qa, inspector. */
const ROLE_USERS = ['admin', 'op1', 'sup1', 'qc1', 'qa1', 'insp1'] as const;
type RoleUser = (typeof ROLE_USERS)[number];
type Expect = { none: number } & Record<RoleUser, number> & { query?: string };

// Who may do what comes from the one permission table (server/permissions.ts); the table below says
// which route asks it which question, and each route must answer as the table says.
const ROLE_OF: Record<RoleUser, Role> = { admin: 'admin', op1: 'operator', sup1: 'supervisor', qc1: 'qc', qa1: 'qa', insp1: 'inspector' };
const refusedBy = (action: Action) => ROLE_USERS.filter((u) => !may({ roles: [ROLE_OF[u]] }, action));
const readersOf = (action: Action) => Object.fromEntries(ROLE_USERS.map((u) => [u, may({ roles: [ROLE_OF[u]] }, action) ? 200 : 403])) as Record<RoleUser, number>;

const OK_ALL = { admin: 200, op1: 200, sup1: 200, qc1: 200, qa1: 200, insp1: 200 } as const;
const BAD_BODY_ALL = { admin: 400, op1: 400, sup1: 400, qc1: 400, qa1: 400, insp1: 400 } as const;
const AUDIT_READERS_ONLY = readersOf('audit.read');

const PERIOD = '?from=2020-01-01T00:00:00Z&to=2040-01-01T00:00:00Z';

/**
 * The expectations table: route (as the OpenAPI description names it) → caller → status.
 * `none` is the call without a token. Write routes are sent `{}`.
 */
const MATRIX: Record<string, Expect> = {
  'GET /healthz': { none: 200, ...OK_ALL },
  'GET /api/v1/site': { none: 200, ...OK_ALL },
  'POST /api/v1/auth/login': { none: 400, ...BAD_BODY_ALL },
  'POST /api/v1/auth/logout': { none: 401, admin: 204, op1: 204, sup1: 204, qc1: 204, qa1: 204, insp1: 204 },
  'GET /api/v1/auth/csrf': { none: 401, ...OK_ALL },
  'GET /api/v1/me': { none: 401, ...OK_ALL },
  'POST /api/v1/me/password': { none: 401, ...BAD_BODY_ALL },
  'POST /api/v1/users': { none: 401, ...BAD_BODY_ALL },
  'GET /api/v1/users': { none: 401, ...readersOf('users.read') },
  'PATCH /api/v1/users/{id}': { none: 401, ...BAD_BODY_ALL },
  'POST /api/v1/users/{id}/unlock': { none: 401, ...BAD_BODY_ALL },
  'POST /api/v1/users/{id}/password': { none: 401, ...BAD_BODY_ALL },
  'GET /api/v1/processes': { none: 401, ...OK_ALL },
  'GET /api/v1/processes/{id}': { none: 401, ...OK_ALL },
  'POST /api/v1/processes': { none: 401, ...BAD_BODY_ALL },
  'GET /api/v1/processes/{id}/versions': { none: 401, ...OK_ALL },
  'GET /api/v1/processes/{id}/versions/{version}': { none: 401, ...OK_ALL },
  'PUT /api/v1/processes/{id}/versions/{version}': { none: 401, ...BAD_BODY_ALL },
  'POST /api/v1/processes/{id}/versions/{version}/transitions': { none: 401, ...BAD_BODY_ALL },
  'GET /api/v1/processes/{id}/versions/{version}/compare/{other}': { none: 401, ...OK_ALL },
  'POST /api/v1/materials': { none: 401, ...BAD_BODY_ALL },
  'GET /api/v1/materials': { none: 401, ...OK_ALL },
  'PATCH /api/v1/materials/{id}': { none: 401, ...BAD_BODY_ALL },
  'POST /api/v1/equipment': { none: 401, ...BAD_BODY_ALL },
  'GET /api/v1/equipment': { none: 401, ...OK_ALL },
  'PATCH /api/v1/equipment/{id}': { none: 401, ...BAD_BODY_ALL },
  'POST /api/v1/batches': { none: 401, ...BAD_BODY_ALL },
  'GET /api/v1/batches': { none: 401, ...OK_ALL },
  'GET /api/v1/batches/{id}': { none: 401, ...OK_ALL },
  'POST /api/v1/batches/{id}/steps/{stepId}': { none: 401, ...BAD_BODY_ALL },
  'POST /api/v1/batches/{id}/entries/{entryId}/verify': { none: 401, ...BAD_BODY_ALL },
  'POST /api/v1/batches/{id}/entries/{entryId}/corrections': { none: 401, ...BAD_BODY_ALL },
  'POST /api/v1/batches/{id}/terminate': { none: 401, ...BAD_BODY_ALL },
  'GET /api/v1/batches/{id}/deviations': { none: 401, ...OK_ALL },
  'GET /api/v1/batches/{id}/audit': { none: 401, ...AUDIT_READERS_ONLY },
  'POST /api/v1/batches/{id}/deviations': { none: 401, ...BAD_BODY_ALL },
  'GET /api/v1/deviations': { none: 401, ...OK_ALL },
  'GET /api/v1/deviations/{id}': { none: 401, ...OK_ALL },
  'POST /api/v1/deviations/{id}/investigation': { none: 401, ...BAD_BODY_ALL },
  'POST /api/v1/deviations/{id}/reclassification': { none: 401, ...BAD_BODY_ALL },
  'POST /api/v1/deviations/{id}/close': { none: 401, ...BAD_BODY_ALL },
  'GET /api/v1/batches/{id}/review': { none: 401, ...readersOf('batch.review.read') },
  'GET /api/v1/batches/{id}/review.pdf': { none: 401, ...readersOf('batch.review.read') },
  'POST /api/v1/batches/{id}/review': { none: 401, ...BAD_BODY_ALL },
  'POST /api/v1/batches/{id}/disposition': { none: 401, ...BAD_BODY_ALL },
  'GET /api/v1/batches/{id}/coa': { none: 401, ...OK_ALL },
  'GET /api/v1/batches/{id}/containers': { none: 401, ...OK_ALL },
  'GET /api/v1/me/pending': { none: 401, ...OK_ALL },
  'GET /api/v1/batches/{id}/export': { none: 401, ...readersOf('record.export') },
  'GET /api/v1/batches/{id}/record.pdf': { none: 401, ...readersOf('record.export') },
  'GET /api/v1/batches/{id}/coa.pdf': { none: 401, ...OK_ALL },
  'GET /api/v1/audit': { none: 401, ...AUDIT_READERS_ONLY },
  'GET /api/v1/audit/export': { none: 401, ...AUDIT_READERS_ONLY },
  'GET /api/v1/audit/verify': { none: 401, ...AUDIT_READERS_ONLY },
  'GET /api/v1/audit/keys': { none: 401, ...AUDIT_READERS_ONLY },
  'GET /api/v1/alerts': { none: 401, ...readersOf('alerts.read') },
  'GET /api/v1/reports/periodic-review': { none: 401, ...AUDIT_READERS_ONLY, query: PERIOD },
  'GET /api/v1/reports/periodic-review.pdf': { none: 401, ...AUDIT_READERS_ONLY, query: '?from=2026-01-01T00:00:00Z&to=2026-12-31T23:59:59Z' },
  'POST /api/v1/training/clock': { none: 401, ...BAD_BODY_ALL },
};

/** Reads that are exports, audited with what was exported (API.md "Audit"). */
const AUDITED_READS = new Set(['GET /api/v1/audit/export', 'GET /api/v1/batches/{id}/export', 'GET /api/v1/batches/{id}/record.pdf', 'GET /api/v1/batches/{id}/coa.pdf', 'GET /api/v1/batches/{id}/review.pdf', 'GET /api/v1/reports/periodic-review.pdf']);

/** R5: the only routes that answer without a user (plus /openapi.json and /docs*, which the description does not list). */
const PUBLIC = new Set(['GET /healthz', 'GET /api/v1/site', 'POST /api/v1/auth/login']);

/**
 * Pass 2: a VALID body for every write route, and the roles that may NOT call it (each must get 403
 * and write nothing). `[]` means every role may (its own session or password).
 */
interface ValidWrite { body: (ids: Ids) => unknown; refused: RoleUser[]; batch?: 'fresh' }
const NON_ADMINS = refusedBy('users.manage');
const VALID_WRITES: Record<string, ValidWrite> = {
  'POST /api/v1/auth/logout': { body: () => ({}), refused: [] },
  'POST /api/v1/me/password': { body: () => ({}), refused: [] }, // each user changes their own password
  'POST /api/v1/users': { body: () => ({ username: 'matrix.user', fullName: 'Matrix User', roles: ['operator'], password: 'Matrix-Password-123' }), refused: NON_ADMINS },
  'PATCH /api/v1/users/{id}': { body: () => ({ roles: ['operator', 'qc'], reason: 'role matrix' }), refused: NON_ADMINS },
  'POST /api/v1/users/{id}/unlock': { body: () => ({ reason: 'role matrix' }), refused: NON_ADMINS },
  'POST /api/v1/users/{id}/password': { body: () => ({ password: 'Matrix-Reset-Pass-1', reason: 'role matrix' }), refused: NON_ADMINS },
  'POST /api/v1/materials': { body: (ids) => ({ type: 'buffer', name: 'matrix buffer', lotNumber: 'MX-1', expiresOn: ids.future, status: 'released' }), refused: refusedBy('material.register') },
  'PATCH /api/v1/materials/{id}': { body: () => ({ status: 'quarantined', reason: 'role matrix' }), refused: refusedBy('material.release') },
  'POST /api/v1/equipment': { body: (ids) => ({ assetId: 'MX-EQ', type: 'cell-processor', name: 'matrix unit', calibrationDueOn: ids.future }), refused: refusedBy('equipment.register') },
  'PATCH /api/v1/equipment/{id}': { body: (ids) => ({ calibrationDueOn: ids.later, reason: 'role matrix' }), refused: refusedBy('equipment.calibrate') },
  'POST /api/v1/batches': { body: () => ({ processId: 'car-t', din: din(90).keyed, patient: { id: 'PT-90', weightKg: 70 } }), refused: refusedBy('batch.create') },
  'POST /api/v1/batches/{id}/steps/{stepId}': { body: (ids) => ({ values: receiptValues(h, 2), signature: sign('op1'), expectedVersion: ids.freshVersion }), refused: ['admin', 'qc1', 'qa1', 'insp1'], batch: 'fresh' },
  'POST /api/v1/batches/{id}/entries/{entryId}/verify': { body: () => ({ signature: sign('op2') }), refused: ['admin', 'qc1', 'qa1', 'insp1'] },
  'POST /api/v1/batches/{id}/entries/{entryId}/corrections': { body: () => ({ values: { viability: 90 }, reason: 'transcription error', signature: sign('op1') }), refused: ['admin', 'qc1', 'qa1', 'insp1'] },
  'POST /api/v1/batches/{id}/terminate': { body: () => ({ reason: 'role matrix', signature: sign('sup1') }), refused: refusedBy('batch.terminate') },
  'POST /api/v1/training/clock': { body: () => ({ advanceHours: 1 }), refused: refusedBy('training.clock') },
  'POST /api/v1/processes': { body: () => ({ ...carT, version: carT.version + 1 }), refused: refusedBy('process.author') },
  'PUT /api/v1/processes/{id}/versions/{version}': { body: () => ({ ...carT }), refused: refusedBy('process.author') },
  'POST /api/v1/processes/{id}/versions/{version}/transitions': { body: () => ({ action: 'submit', reason: 'role matrix', signature: sign('sup1') }), refused: refusedBy('process.author') },
  'POST /api/v1/batches/{id}/deviations': { body: () => ({ description: 'role matrix', severity: 'minor' }), refused: refusedBy('deviation.open') },
  'POST /api/v1/deviations/{id}/investigation': { body: () => ({ rootCause: 'r', productImpact: 'p', otherBatchesImpact: 'o', signature: sign('qa1') }), refused: refusedBy('deviation.investigate') },
  'POST /api/v1/deviations/{id}/reclassification': { body: () => ({ severity: 'critical', reason: 'role matrix', signature: sign('qa1') }), refused: refusedBy('deviation.reclassify') },
  'POST /api/v1/deviations/{id}/close': { body: () => ({ investigation: 'i', conclusion: 'c', signature: sign('qa1') }), refused: refusedBy('deviation.close') },
  'POST /api/v1/batches/{id}/review': { body: () => ({ signature: sign('qa1') }), refused: refusedBy('batch.review') },
  'POST /api/v1/batches/{id}/disposition': { body: () => ({ decision: 'reject', justification: 'role matrix', signature: sign('qa1') }), refused: refusedBy('batch.dispose') },
};

interface Ids { deviationId: string; batchId: string; freshBatchId: string; freshVersion: number; entryId: string; userId: string; materialId: string; equipmentId: string; future: string; later: string }

async function fixture(): Promise<Ids> {
  const batch = await createBatch(h, 'car-t', 1);
  await record(h, batch.id, 'apheresis-receipt', receiptValues(h, 1));
  const sample = await record(h, batch.id, 'starting-material-sample', sampleValues); // pending verification
  const deviation = await call(h, 'op1', 'POST', `/batches/${batch.id}/deviations`, { description: 'role matrix', severity: 'minor' });
  expect(deviation.status).toBe(201);
  const fresh = await createBatch(h, 'car-t', 2);
  const day = (d: number) => new Date(h.ctx.clock.now().getTime() + d * 86_400_000).toISOString().slice(0, 10);
  const m = await call(h, 'qa1', 'POST', '/materials', { type: 'buffer', name: 'buffer', lotNumber: 'B-1', expiresOn: day(200), status: 'released' });
  const e = await call(h, 'sup1', 'POST', '/equipment', { assetId: 'EQ-1', type: 'cell-processor', name: 'Prodigy', calibrationDueOn: day(200) });
  expect([m.status, e.status]).toEqual([201, 201]);
  const users = await call(h, 'admin', 'GET', '/users?limit=500');
  const op2 = users.body.items.find((u: { username: string }) => u.username === 'op2');
  return {
    deviationId: deviation.body.deviation.id, batchId: batch.id, freshBatchId: fresh.id, freshVersion: fresh.version, entryId: sample.entry.id, userId: op2.id,
    materialId: m.body.id, equipmentId: e.body.id, future: day(300), later: day(500),
  };
}

/** The routes of the published description, as "METHOD /path/{param}". */
async function describedRoutes(): Promise<string[]> {
  const r = await call(h, null, 'GET', '/openapi.json');
  expect(r.status).toBe(200);
  const routes: string[] = [];
  for (const [path, item] of Object.entries(r.body.paths as Record<string, Record<string, unknown>>)) {
    for (const method of Object.keys(item)) {
      if (['get', 'post', 'put', 'patch', 'delete', 'head', 'options'].includes(method)) routes.push(`${method.toUpperCase()} ${path}`);
    }
  }
  expect(routes.length).toBeGreaterThan(20);
  return routes;
}

/** A real URL for a described path: every {param} replaced by an id created in the fixture. */
function concrete(path: string, ids: Ids, batch: 'main' | 'fresh' = 'main'): string {
  return path.replace(/\{(\w+)\}/g, (_m, name: string) => {
    if (name === 'stepId') return 'apheresis-receipt';
    if (name === 'entryId') return ids.entryId;
    // The built-in version a fresh database starts with (built-ins are versioned: issue 16).
    if (name === 'version' || name === 'other') return String(carT.version);
    if (name === 'id') {
      if (path.startsWith('/api/v1/users/')) return ids.userId;
      if (path.startsWith('/api/v1/materials/')) return ids.materialId;
      if (path.startsWith('/api/v1/equipment/')) return ids.equipmentId;
      if (path.startsWith('/api/v1/batches/')) return batch === 'fresh' ? ids.freshBatchId : ids.batchId;
      if (path.startsWith('/api/v1/processes/')) return 'car-t';
      if (path.startsWith('/api/v1/deviations/')) return ids.deviationId;
    }
    throw new Error(`the role matrix has no id for {${name}} in ${path}: add one to concrete()`);
  });
}

async function send(user: RoleUser | null, method: string, url: string, payload?: unknown) {
  const res = await h.app.inject({
    method: method as 'GET', url,
    headers: user ? { authorization: `Bearer ${h.tokens[user]}` } : {},
    ...(payload !== undefined && { payload: payload as object }),
  });
  let body: any;
  try { body = res.json(); } catch { body = res.body; }
  return { status: res.statusCode, body, type: res.headers['content-type'] };
}

const auditCount = async () => (await h.ctx.store.counts()).audit;

describe('R9 [11.10(g)]: the role × route matrix, generated from GET /openapi.json', () => {
  it('R9 [11.10(g)]: every route of the OpenAPI description has a row in the expectations table, and every row a route', async () => {
    const routes = await describedRoutes();
    const missing = routes.filter((r) => !(r in MATRIX));
    expect(missing, `routes without a decision in MATRIX: ${missing.join(', ')}`).toEqual([]);
    const stale = Object.keys(MATRIX).filter((r) => !routes.includes(r));
    expect(stale, `MATRIX rows for routes the description no longer lists: ${stale.join(', ')}`).toEqual([]);
    const writes = routes.filter((r) => !r.startsWith('GET ') && !PUBLIC.has(r));
    const undecided = writes.filter((r) => !(r in VALID_WRITES));
    expect(undecided, `write routes without a valid-body decision in VALID_WRITES: ${undecided.join(', ')}`).toEqual([]);
  });

  it('R5 [11.10(d)]: every described route but login and health answers 401 without a token, and writes nothing', async () => {
    const ids = await fixture();
    const before = { ...await recordState(h), audit: await auditCount() };
    for (const route of await describedRoutes()) {
      const [method, path] = route.split(' ');
      const url = concrete(path, ids) + (MATRIX[route]?.query ?? '');
      const r = await send(null, method, url, method === 'GET' ? undefined : {});
      if (PUBLIC.has(route)) expect(r.status, route).not.toBe(401);
      else {
        expect(r.status, `${route} without a token: ${JSON.stringify(r.body)}`).toBe(401);
        expect(r.body.status).toBe(401);
      }
    }
    expect({ ...await recordState(h), audit: await auditCount() }).toEqual(before);
    // The description and the interactive docs are public too (they are not in the description).
    expect((await send(null, 'GET', '/openapi.json')).status).toBe(200);
    expect((await send(null, 'GET', '/docs')).status).toBeLessThan(400);
  });

  it('R9 [11.10(g)], R5 [11.10(d)]: each role, sending {} to write routes, gets exactly the status of the table — never a 5xx — and nothing is written', async () => {
    const ids = await fixture();
    const before = await recordState(h);
    const failures: string[] = [];
    const routes = await describedRoutes();
    let calls = 0;
    for (const route of routes) {
      const expected = MATRIX[route];
      if (!expected) { failures.push(`${route}: not in MATRIX`); continue; }
      const [method, path] = route.split(' ');
      const url = concrete(path, ids) + (expected.query ?? '');
      const write = method !== 'GET';
      for (const who of [null, ...ROLE_USERS] as (RoleUser | null)[]) {
        const auditBefore = await auditCount();
        const r = await send(who, method, url, write ? {} : undefined);
        calls++;
        const want = who === null ? expected.none : expected[who];
        if (r.status >= 500) failures.push(`${route} as ${who ?? 'nobody'}: ${r.status} (a 5xx) ${JSON.stringify(r.body)}`);
        else if (r.status !== want) failures.push(`${route} as ${who ?? 'nobody'}: expected ${want}, got ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
        else if (r.status >= 400 && !/^application\/problem\+json/.test(String(r.type))) failures.push(`${route} as ${who ?? 'nobody'}: a ${r.status} that is not problem+json (${r.type})`);
        // R6: a logged-in user's write leaves exactly one audit row (the refused attempt, or the logout);
        // reads and anonymous calls leave none, except the audited export.
        const wrote = await auditCount() - auditBefore;
        const wantRows = who === null || PUBLIC.has(route) ? 0 : write ? 1 : AUDITED_READS.has(route) && r.status === 200 ? 1 : 0;
        if (wrote !== wantRows) failures.push(`${route} as ${who ?? 'nobody'}: ${wrote} audit rows, expected ${wantRows}`);
        if (route === 'POST /api/v1/auth/logout' && who && r.status === 204) await relogin(h, who);
      }
    }
    expect(failures).toEqual([]);
    expect(calls, 'every route called without a token and as each of the six roles').toBe(routes.length * 7);
    const after = await recordState(h);
    expect(after).toEqual(before);
  });

  it('R9 [11.10(g)]: each role that may not call a write route gets 403 with a valid body, and nothing is written', async () => {
    const ids = await fixture();
    const failures: string[] = [];
    for (const route of await describedRoutes()) {
      const [method, path] = route.split(' ');
      if (method === 'GET' || PUBLIC.has(route)) continue;
      const decision = VALID_WRITES[route];
      if (!decision) { failures.push(`${route}: not in VALID_WRITES`); continue; }
      const url = concrete(path, ids, decision.batch ?? 'main');
      for (const who of decision.refused) {
        const before = { ...await recordState(h), lots: (await call(h, 'qa1', 'GET', '/materials?limit=500')).body.items, eq: (await call(h, 'qa1', 'GET', '/equipment?limit=500')).body.items };
        const users = (await call(h, 'admin', 'GET', '/users?limit=500')).body.items;
        const auditBefore = (await h.ctx.store.lastAudit())?.seq ?? 0;
        const clock = h.ctx.clock.now().getTime();
        const r = await send(who, method, url, decision.body(ids));
        if (r.status !== 403) failures.push(`${route} as ${who} with a valid body: expected 403, got ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
        const after = { ...await recordState(h), lots: (await call(h, 'qa1', 'GET', '/materials?limit=500')).body.items, eq: (await call(h, 'qa1', 'GET', '/equipment?limit=500')).body.items };
        if (JSON.stringify(after) !== JSON.stringify(before)) failures.push(`${route} as ${who}: the record, a lot or an instrument changed`);
        if (JSON.stringify((await call(h, 'admin', 'GET', '/users?limit=500')).body.items) !== JSON.stringify(users)) failures.push(`${route} as ${who}: the users changed`);
        if (h.ctx.clock.now().getTime() !== clock) failures.push(`${route} as ${who}: the training clock moved`);
        const rows = (await h.ctx.store.listAudit({}, 500, Buffer.from(String(auditBefore)).toString('base64url'))).items;
        if (rows.length !== 1 || !ATTEMPT_ACTIONS.includes(rows[0].action)) failures.push(`${route} as ${who}: audit rows ${JSON.stringify(rows.map((x) => x.action))}, expected one attempt row`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('R9 [11.10(g)]: the administrator manages accounts but cannot create batches, record steps or sign (403)', async () => {
    const batch = await createBatch(h, 'car-t', 3);
    const before = await recordState(h);
    expect((await call(h, 'admin', 'POST', '/batches', { processId: 'car-t', din: din(4).keyed, patient: { id: 'PT-4', weightKg: 70 } })).status).toBe(403);
    expect((await call(h, 'admin', 'POST', `/batches/${batch.id}/steps/apheresis-receipt`, { values: receiptValues(h, 3), signature: sign('op1'), expectedVersion: batch.version })).status).toBe(403);
    // The admin's credentials on an operator's terminal: the signer, not the session, is refused.
    expect((await call(h, 'op1', 'POST', `/batches/${batch.id}/steps/apheresis-receipt`, { values: receiptValues(h, 3), signature: sign('admin', ADMIN_PASSWORD), expectedVersion: batch.version })).status).toBe(403);
    expect((await call(h, 'sup1', 'POST', `/batches/${batch.id}/terminate`, { reason: 'admin signs', signature: sign('admin', ADMIN_PASSWORD) })).status).toBe(403);
    expect(await recordState(h)).toEqual(before);
    // Control: account management is the admin's job.
    expect((await call(h, 'admin', 'POST', '/users', { username: 'op9', fullName: 'Operator Nine', roles: ['operator'], password: 'Operator-Nine-Pass-1' })).status).toBe(201);
    // (More admin refusals: test/server/refusals/steps.test.ts "refuses an admin signature on a step, a verification and a termination".)
  });

  it('R9 [11.10(g)]: the inspector reads everything and writes nothing (403 on every write with a valid body)', async () => {
    const ids = await fixture();
    for (const url of ['/batches', `/batches/${ids.batchId}`, `/batches/${ids.batchId}/audit`, `/batches/${ids.batchId}/deviations`, '/audit', '/audit/verify', '/users', '/materials', '/equipment', '/processes/car-t']) {
      expect((await call(h, 'insp1', 'GET', url)).status, url).toBe(200);
    }
    const before = { ...await recordState(h), audit: (await h.ctx.store.counts()).audit };
    const writes: ['POST' | 'PATCH', string, unknown][] = [
      ['POST', '/batches', { processId: 'car-t', din: din(5).keyed, patient: { id: 'PT-5', weightKg: 70 } }],
      ['POST', '/materials', { type: 'buffer', name: 'b', lotNumber: 'INSP-1', expiresOn: ids.future, status: 'released' }],
      ['PATCH', `/materials/${ids.materialId}`, { status: 'quarantined', reason: 'inspector' }],
      ['POST', '/equipment', { assetId: 'INSP-EQ', type: 'cell-processor', name: 'p', calibrationDueOn: ids.future }],
      ['PATCH', `/equipment/${ids.equipmentId}`, { calibrationDueOn: ids.later, reason: 'inspector' }],
      ['POST', `/batches/${ids.freshBatchId}/steps/apheresis-receipt`, { values: receiptValues(h, 2), signature: sign('op1'), expectedVersion: ids.freshVersion }],
      ['POST', `/batches/${ids.batchId}/entries/${ids.entryId}/verify`, { signature: sign('op2') }],
      ['POST', `/batches/${ids.batchId}/entries/${ids.entryId}/corrections`, { values: { viability: 90 }, reason: 'x', signature: sign('op1') }],
      ['POST', `/batches/${ids.batchId}/terminate`, { reason: 'x', signature: sign('sup1') }],
      ['POST', '/training/clock', { advanceHours: 1 }],
      ['POST', '/users', { username: 'insp.made', fullName: 'X', roles: ['operator'], password: 'Inspector-Made-Pass-1' }],
    ];
    for (const [method, url, body] of writes) expect((await call(h, 'insp1', method, url, body)).status, `${method} ${url}`).toBe(403);
    const after = { ...await recordState(h), audit: (await h.ctx.store.counts()).audit };
    expect(after.entries).toBe(before.entries);
    expect(after.signatures).toBe(before.signatures);
    expect(after.audit - before.audit, 'one attempt row per refused write').toBe(writes.length);
  });
});
