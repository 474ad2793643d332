// "Nothing a client sends causes a 500 or a partial write." Property-based tests generated from
// GET /openapi.json: for every operation, request bodies drawn from its requestBody schema (through a
// small JSON-schema → fast-check converter, ./schema-arbitrary.ts) and garbage beyond it, random path
// parameters, query strings and headers, sent through app.inject as users of every role and as nobody.
// Every answer must keep the contract checked in ./fuzz-support.ts (no 5xx; every 4xx problem+json with
// the HTTP status; every 400 with errors[]; a refusal writes no entry and no signature; chains valid).
//
// One harness for the whole file. Runs are bounded and seeded: FUZZ_SEED and FUZZ_RUNS override the
// defaults, and a failure prints the seed and the (shrunk) request that broke the contract.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, call, createBatch, din, harness, HOUR, PASSWORD, recordState, registerCatalogue, sign, type Harness } from '../../helpers.js';
import { BatchDriver, CART_PLAN } from '../lifecycle-driver.js';
import { createUser } from '../../../server/services/accounts.js';
import { rebuildProjection } from '../../../server/services/projection.js';
import * as api from '../../../schemas/api.js';
import { arbitraryFromSchema, objectShape, type Hints, type JsonSchema } from './schema-arbitrary.js';
import {
  BODY_LIMIT, CurrentVersion, failure, Fuzzer, LATEST_ENTRY, NEWEST_BATCH, Now, OfBatch, operationsOf, printable, problemViolations, resolveValue,
  type Auth, type Body, type Operation, type Req,
} from './fuzz-support.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20260302);
const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const FUZZ_TIMEOUT = 300_000;
/** A property's run, shrinking included, stops after this; a failure found by then is reported as shrunk so far. */
const RUN_BUDGET_MS = 135_000;

const ROSTER_PASSWORDS: Record<string, string> = {
  admin: ADMIN_PASSWORD, op1: PASSWORD, op2: PASSWORD, sup1: PASSWORD, sup2: PASSWORD, qc1: PASSWORD, qc2: PASSWORD,
  qa1: PASSWORD, qa2: PASSWORD, insp1: PASSWORD,
};
const JSON_TYPES = ['application/json', 'application/json; charset=utf-8'];

let h: Harness;
let fuzzer: Fuzzer;
let doc: JsonSchema;
let ops: Operation[];

interface FieldDef {
  name: string; kind: string; computed?: unknown; options?: string[]; limits?: { min?: number; max?: number }; required?: boolean;
  materialType?: string; equipmentType?: string; identity?: 'din' | 'batchNumber';
}
interface StepDef { id: string; fields: FieldDef[]; signatures: { meaning: string; roles: string[] }[] }
const steps = new Map<string, StepDef>();
const stepsOfProcess: Record<string, string[]> = {};
/** The batches set up front: their process, steps and entries (pairs for /batches/{id}/…/{stepId|entryId}). */
const batches: { id: string; processId: string; entries: { id: string; stepId: string }[] }[] = [];
const lotOfType: Record<string, string> = {};
const equipmentOfType: Record<string, string> = {};

/** Real things the path parameters and bodies sometimes name, so that requests reach past the 404s. */
const pool = {
  batchIds: [] as string[], entryIds: [] as string[], materialIds: [] as string[], equipmentIds: [] as string[],
  deviationIds: [] as string[], processIds: ['car-t', 'nk'] as string[], victimId: '', dins: [] as string[], batchNumbers: [] as string[],
  materialTypes: [] as string[], equipmentTypes: [] as string[],
};
let cryo: BatchDriver;

beforeAll(async () => {
  h = await harness();
  fuzzer = new Fuzzer(h, ROSTER_PASSWORDS);
  doc = (await call(h, null, 'GET', '/openapi.json')).body;
  ops = operationsOf(doc);
  // Which operations answer without credentials: ask each one (a well-formed path, an empty object).
  for (const op of ops) {
    const path = op.path.replace(/\{[^}]+\}/g, 'probe');
    const r = await h.app.inject({ method: op.method, url: path, ...(op.method !== 'GET' && { payload: '{}', headers: { 'content-type': 'application/json' } }) });
    op.public = r.statusCode !== 401;
  }

  for (const processId of ['car-t', 'nk']) {
    const def = (await call(h, 'sup1', 'GET', `/processes/${processId}`)).body;
    pool.processIds.push(def.hash);
    stepsOfProcess[processId] = def.phases.flatMap((p: any) => p.steps).map((s: any) => s.id);
    for (const s of def.phases.flatMap((p: any) => p.steps)) {
      if (!steps.has(s.id)) steps.set(s.id, s);
      for (const f of s.fields) {
        if (f.materialType) pool.materialTypes.push(f.materialType);
        if (f.equipmentType) pool.equipmentTypes.push(f.equipmentType);
      }
    }
  }
  const cart = await registerCatalogue(h, 'car-t');
  const nk = await registerCatalogue(h, 'nk');
  for (const c of [cart, nk]) {
    pool.materialIds.push(...Object.values(c.lots).filter(Boolean));
    pool.equipmentIds.push(...Object.values(c.equipment).filter(Boolean));
    for (const [type, id] of Object.entries(c.lots)) if (id) lotOfType[type] = id;
    for (const [type, id] of Object.entries(c.equipment)) if (id) equipmentOfType[type] = id;
  }

  // A CAR-T batch driven to its cryopreservation (the step with text fields), inside every window.
  cryo = new BatchDriver(h, await createBatch(h, 'car-t', 1), cart);
  await cryo.run(CART_PLAN, 'cryopreservation');
  await cryo.toHour(229.5);
  await cryo.refresh();

  // Fresh batches, one with a deviation and an entry awaiting verification, and NK batches.
  const fresh = await createBatch(h, 'car-t', 2);
  const fresh2 = await createBatch(h, 'car-t', 5);
  const nk2 = await createBatch(h, 'nk', 6);
  const pending = await createBatch(h, 'car-t', 3);
  // Out of its temperature range: the receipt opens a deviation.
  await receiptAndSample(pending, 3, 30);
  const nkBatch = await createBatch(h, 'nk', 4);

  for (const b of [cryo.batch, fresh, pending, nkBatch, fresh2, nk2]) {
    const full = (await call(h, 'qa1', 'GET', `/batches/${b.id}`)).body;
    pool.batchIds.push(full.id);
    batches.push({ id: full.id, processId: full.processId, entries: full.entries.filter((e: any) => e.kind === 'step').map((e: any) => ({ id: e.id, stepId: e.stepId })) });
    pool.entryIds.push(...full.entries.map((e: any) => e.id));
    pool.dins.push(full.din + full.dinCheck, `=${full.din}${60 + '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*'.indexOf(full.dinCheck)}`, (full.din + full.dinCheck).toLowerCase());
    pool.batchNumbers.push(full.batchNumber);
    const devs = await call(h, 'qa1', 'GET', `/batches/${b.id}/deviations`);
    if (devs.status === 200) pool.deviationIds.push(...devs.body.items.map((d: any) => d.id));
  }
  expect(pool.deviationIds.length).toBeGreaterThan(0);
  // The only account whose id the fuzzer may name in /users/{id}: resets and deactivation hit nobody the harness needs.
  pool.victimId = (await createUser(h.ctx, null, { username: 'fuzzvictim', fullName: 'Fuzz Victim', roles: ['operator'], password: PASSWORD }, false)).id;
}, 120_000);

afterAll(async () => {
  if (fuzzer) console.info(`[fuzz] seed ${SEED}, ${RUNS} runs per property: ${fuzzer.summary()}`);
  await h?.close();
});

// ─── arbitraries ──────────────────────────────────────────────────────────────────────────────────

const WEIRD_STRINGS = ['\u0000', '\ud800', '\udfff', 'A\u202eB', '👩‍👩‍👧', '\u200b', 'e\u0301', 'İ', 'ß', '\uffff', 'Ω', '\\', '"', '\n\r\t', "' OR 1=1 --", '${x}', '<script>'];
const wrongType = fc.oneof(
  fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.string({ maxLength: 8 }), fc.constantFrom(...WEIRD_STRINGS),
  fc.array(fc.integer(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }),
);
const hoursAgo = (lo: number, hi: number) => fc.integer({ min: Math.round(lo * 4), max: Math.round(hi * 4) }).map((q) => new Now(-q / 4));
const isoArb = fc.date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('2200-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString());
const longText = (lengths: number[]) => fc.tuple(fc.constantFrom('x', 'é', '😀', ' '), fc.constantFrom(...lengths)).map(([c, n]) => c.repeat(n));

function fieldValue(f: FieldDef): fc.Arbitrary<unknown> {
  const lo = f.limits?.min ?? -1000;
  const hi = f.limits?.max ?? Math.max(lo + 1000, 1000);
  const numbers = fc.oneof(
    { arbitrary: fc.double({ min: lo, max: hi, noNaN: true, noDefaultInfinity: true }), weight: 4 },
    { arbitrary: fc.integer({ min: Math.ceil(lo), max: Math.floor(hi) }), weight: 4 },
    { arbitrary: fc.constantFrom(-1, 0, 0.1, 1e308, -1e308, Number.MAX_SAFE_INTEGER, 5e-324), weight: 1 },
  );
  const others = (ids: string[]) => fc.constantFrom(...ids, 'x'.repeat(101), '', 'no-such-id');
  let good: fc.Arbitrary<unknown>;
  switch (f.kind) {
    case 'number': case 'integer': good = numbers; break;
    case 'text': good = fc.oneof({ arbitrary: fc.string({ minLength: 1, maxLength: 30 }), weight: 6 }, { arbitrary: longText([1999, 2000, 2001, 5000]), weight: 1 }, { arbitrary: fc.constantFrom('', ' ', '\t\n'), weight: 1 }); break;
    case 'choice': good = fc.oneof({ arbitrary: fc.constantFrom(...(f.options ?? ['x'])), weight: 6 }, { arbitrary: fc.string({ maxLength: 10 }), weight: 1 }); break;
    case 'result': good = f.options ? fc.oneof({ arbitrary: fc.constantFrom(...f.options), weight: 6 }, { arbitrary: fc.string({ maxLength: 10 }), weight: 1 }) : numbers; break;
    case 'boolean': good = fc.boolean(); break;
    case 'datetime': good = fc.oneof({ arbitrary: hoursAgo(0, 40), weight: 6 }, { arbitrary: hoursAgo(-10, 0), weight: 1 }, { arbitrary: isoArb, weight: 1 }, {
      arbitrary: fc.constantFrom('2026-03-02T08:00:00+01:00', '2026-02-30T00:00:00Z', '2026-03-02', '2026-03-02T08:00Z', '+010000-01-01T00:00:00Z', 'now'), weight: 1,
    }); break;
    case 'lot': good = fc.oneof({ arbitrary: fc.constant(lotOfType[f.materialType ?? ''] ?? 'none'), weight: 6 }, { arbitrary: others([...pool.materialIds, ...pool.equipmentIds]), weight: 1 }); break;
    case 'equipment': good = fc.oneof({ arbitrary: fc.constant(equipmentOfType[f.equipmentType ?? ''] ?? 'none'), weight: 6 }, { arbitrary: others([...pool.equipmentIds, ...pool.materialIds]), weight: 1 }); break;
    case 'identity': good = fc.oneof(
      { arbitrary: fc.constantFrom(...(f.identity === 'batchNumber' ? [new OfBatch('batchNumber')] : [new OfBatch('keyed'), new OfBatch('barcode')])), weight: 6 },
      { arbitrary: fc.constantFrom(...pool.dins, ...pool.batchNumbers, '=W123426000001997', '=W123426000001900', 'w123426000001', ''), weight: 1 },
      { arbitrary: fc.string({ maxLength: 70 }), weight: 1 },
    ); break;
    default: good = fc.jsonValue({ maxDepth: 1 });
  }
  return fc.oneof({ arbitrary: good, weight: 14 }, { arbitrary: wrongType, weight: 1 });
}

/** Values for one step: its fields (now and then one left out), now and then a computed or unknown field. */
function stepValues(step: StepDef): fc.Arbitrary<Record<string, unknown>> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of step.fields) {
    model[f.name] = f.computed ? fc.oneof({ arbitrary: fc.constant(undefined), weight: 12 }, { arbitrary: fieldValue(f), weight: 1 })
      : fc.oneof({ arbitrary: fieldValue(f), weight: 12 }, { arbitrary: fc.constant(undefined), weight: 1 });
  }
  const extraKey = fc.oneof(fc.constantFrom('constructor', 'toString', 'hasOwnProperty', 'valueOf', 'unknownField', 'x'.repeat(65)), fc.string({ maxLength: 10 }));
  return fc.tuple(
    fc.record(model),
    fc.oneof({ arbitrary: fc.constant({}), weight: 12 }, { arbitrary: fc.dictionary(extraKey, fc.jsonValue({ maxDepth: 1 }), { minKeys: 1, maxKeys: 2 }), weight: 1 }),
  ).map(([known, extra]) => {
    const out: Record<string, unknown> = { ...extra };
    for (const [k, v] of Object.entries(known)) if (v !== undefined) out[k] = v;
    return out;
  });
}

const anyStep = () => fc.constantFrom(...steps.values()).chain(stepValues);

const dayArb = fc.oneof(
  fc.integer({ min: -30, max: 800 }).map((d) => new Date(h.ctx.clock.now().getTime() + d * 24 * HOUR).toISOString().slice(0, 10)),
  fc.constantFrom('2026-02-30', '2026-13-01', '0000-00-00', '2026-2-3', '9999-12-31', '1970-01-01', '20260302'),
);
const reasonArb = fc.oneof({ arbitrary: fc.string({ minLength: 1, maxLength: 40 }), weight: 8 }, { arbitrary: fc.constantFrom(' ', '', '\u0000'), weight: 1 }, { arbitrary: longText([2000, 2001]), weight: 1 });

const USERS_OF_ROLE: Record<string, string[]> = { operator: ['op1', 'op2'], supervisor: ['sup1', 'sup2'], qc: ['qc1', 'qc2'], qa: ['qa1', 'qa2'], admin: ['admin'], inspector: ['insp1'] };
/** Users holding a role the step's signatures list. */
const usersFor = (step: StepDef) => [...new Set(step.signatures.flatMap((s) => s.roles).flatMap((r) => USERS_OF_ROLE[r] ?? []))];

/** Property names whose values are biased towards what the server knows (mixed 6 : 1 with the schema's own). */
function hintsFor(step: StepDef | undefined): Hints {
  const usernames = [...Object.keys(ROSTER_PASSWORDS), 'fuzzvictim', 'nobody', 'OP1', ' op1'];
  const all = ['op1', 'op2', 'sup1', 'sup2', 'qc1', 'qa1', 'qa2', 'admin', 'insp1'];
  const signers = step ? [...usersFor(step), ...usersFor(step), ...all] : all;
  return {
    // A signature is mostly someone's real credentials (so that the request reaches the rules behind it).
    signature: fc.oneof(
      { arbitrary: fc.constantFrom(...signers).map((u) => ({ username: u, password: ROSTER_PASSWORDS[u] })), weight: 6 },
      { arbitrary: fc.record({ username: fc.constantFrom(...usernames), password: fc.constantFrom('wrong-password-1', PASSWORD, ''), meaning: fc.constantFrom('performed', 'verified', 'x') }, { requiredKeys: ['username', 'password'] }), weight: 1 },
    ),
    username: fc.constantFrom(...usernames),
    password: fc.oneof({ arbitrary: fc.constant(PASSWORD), weight: 4 }, { arbitrary: fc.constantFrom(ADMIN_PASSWORD, 'wrong-password-1', ''), weight: 1 }),
    meaning: fc.constantFrom('performed', 'verified', 'approved', 'reviewed', 'released', 'rejected', 'PERFORMED', ''),
    processId: fc.constantFrom(...pool.processIds, 'CAR-T', '__proto__', 'constructor'),
    din: fc.oneof(
      { arbitrary: fc.integer({ min: 100, max: 99_999 }).chain((n) => fc.constantFrom(din(n).keyed, din(n).barcode, din(n).keyed.toLowerCase())), weight: 4 },
      { arbitrary: fc.constantFrom(...pool.dins, '=W12342600000100', 'W1234260000010', 'O123426000001A', '=W123426000001' + '99'), weight: 1 },
    ),
    expectedVersion: fc.oneof({ arbitrary: fc.constantFrom(new CurrentVersion(0)), weight: 4 }, { arbitrary: fc.constantFrom(new CurrentVersion(1), new CurrentVersion(-1), 0, -1, 1.5, 2 ** 53, 1e308), weight: 1 }),
    values: step ? fc.oneof({ arbitrary: stepValues(step), weight: 6 }, { arbitrary: anyStep(), weight: 1 }) : anyStep(),
    reason: reasonArb, comment: reasonArb, justification: reasonArb, investigation: reasonArb, conclusion: reasonArb, physicianRequest: reasonArb,
    type: fc.constantFrom(...pool.materialTypes, ...pool.equipmentTypes),
    expiresOn: dayArb, calibrationDueOn: dayArb,
    advanceHours: fc.oneof(fc.double({ min: 0, max: 48, noNaN: true }), fc.constantFrom(-1, 0, 8784, 8785)),
    set: fc.oneof(fc.integer({ min: -5, max: 48 }).map((x) => new Now(x)), isoArb),
    weightKg: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 200 }), weight: 4 }, { arbitrary: fc.constantFrom(0, -1, 500, 500.0001, 1e-9, 1e308), weight: 1 }),
    decision: fc.constantFrom('release', 'reject', 'exceptional-release', 'RELEASE'),
    id: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 999 }).map((n) => `PT-${n}`), weight: 4 }, { arbitrary: fc.constantFrom(' ', 'x'.repeat(64), 'x'.repeat(65)), weight: 1 }),
  };
}

/** A path parameter as sent; `value` is what the route receives, `step` the step it names or whose entry it names. */
interface Param { raw: string; value?: string; step?: string }

/** A parameter as a client would encode it; `value` is what the route receives when the path matches. */
function encoded(s: string): Param {
  // Lone surrogates cannot be percent-encoded: a client would send U+FFFD.
  const w = s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
  return { raw: encodeURIComponent(w), value: w };
}
const RAW_PARAMS = ['..', '.', '%2e%2e', '%2E', '..%2F..', '%00', 'a%00b', '%2F', '%5C', '%', '%zz', '%E0%A4%A', '%C0%AE', '%FF', '~', '%20', '+', '*', '%25', '%23', '%3F'];

/** Real values for an operation's path parameters, in the combinations that exist (a batch and one of its steps or entries). */
function realParams(op: Operation): fc.Arbitrary<Param[]> {
  const [first] = op.pathParams;
  const resource = op.path.split('/')[3];
  const all = [...pool.batchIds, ...pool.materialIds, ...pool.equipmentIds, ...pool.deviationIds, ...pool.processIds, pool.victimId];
  if (resource === 'batches' && first === 'id') {
    const batch = fc.oneof({ arbitrary: fc.constantFrom(...batches), weight: 6 }, { arbitrary: fc.constant({ id: NEWEST_BATCH, processId: 'car-t', entries: [] as { id: string; stepId: string }[] }), weight: 2 });
    return batch.chain((b) => fc.tuple(fc.constant<Param>({ raw: b.id, value: b.id }), ...op.pathParams.slice(1).map((name): fc.Arbitrary<Param> =>
      name === 'stepId' ? fc.constantFrom(...stepsOfProcess[b.processId]).map((id) => ({ ...encoded(id), step: id }))
        : name === 'entryId' ? fc.constantFrom<Param>({ raw: LATEST_ENTRY, value: LATEST_ENTRY }, ...b.entries.map((e) => ({ ...encoded(e.id), step: e.stepId })))
          : fc.constantFrom(...all).map(encoded))));
  }
  const ids = resource === 'materials' ? pool.materialIds : resource === 'equipment' ? pool.equipmentIds : resource === 'users' ? [pool.victimId]
    : resource === 'processes' ? pool.processIds : resource === 'deviations' ? pool.deviationIds : all;
  return fc.tuple(...op.pathParams.map((name, i) => (i === 0 && ids.length ? fc.constantFrom(...ids) : name === 'stepId' ? fc.constantFrom(...steps.keys()) : fc.constantFrom(...pool.entryIds, ...all)).map(encoded)));
}

function paramArb(name: string, flavor: Flavor): fc.Arbitrary<Param> {
  const real = name === 'stepId' ? [...steps.keys()] : name === 'entryId' ? pool.entryIds
    : [...pool.batchIds, ...pool.materialIds, ...pool.equipmentIds, ...pool.deviationIds, ...pool.processIds, pool.victimId];
  const realArb = fc.constantFrom(...real).map(encoded);
  const plainArb = fc.oneof(fc.string({ minLength: 1, maxLength: 30 }), fc.constantFrom('null', 'undefined', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '0', '-1')).map(encoded);
  if (flavor !== 'paths') return fc.oneof({ arbitrary: realArb, weight: 1 }, { arbitrary: plainArb, weight: 1 });
  return fc.oneof(
    { arbitrary: realArb, weight: 2 },
    { arbitrary: plainArb, weight: 2 },
    { arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).map(encoded), weight: 1 },
    { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }).map(encoded), weight: 1 },
    { arbitrary: fc.constantFrom(...RAW_PARAMS).map((raw) => ({ raw })), weight: 2 },
    { arbitrary: fc.tuple(fc.constantFrom('a', '9', '-', 'é', '%41'), fc.integer({ min: 90, max: 3000 })).map(([c, n]) => (c === '%41' ? { raw: c.repeat(n) } : encoded(c.repeat(n)))), weight: 2 },
    { arbitrary: fc.tuple(fc.constantFrom(...real), fc.constantFrom(' ', '%20', '/', '//', '?', '#', ';x', '%00')).map(([id, junk]) => ({ raw: encodeURIComponent(id) + junk })), weight: 1 },
  );
}

/** Path parameters: mostly real ones that belong together, else each drawn on its own. */
function pathParamsArb(op: Operation, flavor: Flavor): fc.Arbitrary<Param[]> {
  const independent = fc.tuple(...op.pathParams.map((p) => paramArb(p, flavor)));
  if (op.pathParams.length === 0) return independent;
  return fc.oneof({ arbitrary: realParams(op), weight: flavor === 'paths' ? 2 : 5 }, { arbitrary: independent, weight: flavor === 'paths' ? 3 : 1 });
}

/** The route is matched with this parameter and receives `value`: the basis of the exact-status checks. */
const plainParam = (p: Param) => p.value !== undefined && p.value.length > 0 && p.raw.length <= 100 && p.value !== '.' && p.value !== '..';

const QUERY_JUNK = ['%', '%zz', '%E0%A4%A', 'a%00b', '[]', '1e999', '-1', '0', '501', '1.5', 'NaN', 'Infinity', ' 5', '0x10', '', '=', '&', 'true', 'in_process', 'vi', 'csv'];

function queryArb(op: Operation, flavor: Flavor): fc.Arbitrary<string> {
  const known = op.query.map((q) => fc.option(fc.tuple(fc.constant(q.name), fc.oneof(
    { arbitrary: arbitraryFromSchema(q.schema, { root: doc }).map((v) => encodeURIComponent(String(v))), weight: 4 },
    { arbitrary: fc.constantFrom(...pool.batchIds, 'op1', 'qa1', 'batch.created').map(encodeURIComponent), weight: 1 },
    { arbitrary: fc.constantFrom(...QUERY_JUNK), weight: flavor === 'paths' ? 3 : 1 },
  )), { nil: undefined, freq: 2 }));
  const extra = flavor === 'paths'
    ? fc.array(fc.tuple(fc.oneof(fc.string({ maxLength: 10 }).map(encodeURIComponent), fc.constantFrom('limit', 'cursor', 'status', 'lang', 'a[b]', '__proto__', 'constructor', '')), fc.oneof(fc.string({ maxLength: 20 }).map(encodeURIComponent), fc.constantFrom(...QUERY_JUNK), longText([5000]).map(encodeURIComponent))), { maxLength: 4 })
    : fc.constant([] as [string, string][]);
  return fc.tuple(fc.tuple(...known), extra).map(([k, e]) => [...k.filter((x): x is [string, string] => x !== undefined), ...e].map(([a, b]) => `${a}=${b}`).join('&'));
}

/** Header-safe text: printable ASCII and Latin-1 (what an HTTP client can put in a header). */
const latin1 = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c)), maxLength: 60 });
const JSON_CT = fc.constantFrom(...JSON_TYPES);
const CONTENT_TYPES = [
  'application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'application/json;charset=UTF-16', 'APPLICATION/JSON',
  'Application/Json; Charset=UTF-8', 'application/problem+json', 'application/merge-patch+json', 'application/vnd.api+json', 'text/json', 'text/plain',
  'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=----x', 'application/octet-stream', 'application/xml',
  '', ';', 'application/json;', 'application/json; charset=', 'application/json; boundary="', '*/*', 'application/*', 'json',
];
const anyCt = fc.oneof({ arbitrary: fc.constantFrom<string | null>(...CONTENT_TYPES, null), weight: 6 }, { arbitrary: latin1, weight: 1 });

const WRITERS = fc.oneof(
  { arbitrary: fc.constantFrom('op1', 'sup1', 'qa1', 'admin'), weight: 6 },
  { arbitrary: fc.constantFrom('op2', 'qc1', 'insp1'), weight: 2 },
);
const roleAuth: fc.Arbitrary<Auth> = fc.oneof(
  { arbitrary: WRITERS.map((user): Auth => ({ kind: 'bearer', user })), weight: 8 },
  { arbitrary: fc.constant<Auth>({ kind: 'none' }), weight: 1 },
);
const badHeaders = fc.oneof(
  fc.constantFrom('Bearer', 'Bearer ', 'Bearer  ', 'Basic dXNlcjpwYXNz', 'Token abc', 'Bearer null', 'Bearer undefined', 'Bearer \u00e9', 'Bearer a b c', ''),
  latin1.map((s) => `Bearer ${s}`), latin1,
  fc.integer({ min: 100, max: 20_000 }).map((n) => `Bearer ${'x'.repeat(n)}`),
);
const anonymousAuth: fc.Arbitrary<Auth> = fc.oneof(
  fc.constant<Auth>({ kind: 'none' }),
  badHeaders.map((value): Auth => ({ kind: 'header', value })),
  fc.tuple(fc.oneof(latin1, fc.constantFrom('cellbatch_session=', 'cellbatch_session=%zz', 'cellbatch_session=x; cellbatch_csrf=y', '=;;;', `cellbatch_session=${'a'.repeat(5000)}`)), fc.option(latin1, { nil: undefined }))
    .map(([raw, csrf]): Auth => ({ kind: 'cookie', user: null, raw, csrf })),
);
const headerAuth: fc.Arbitrary<Auth> = fc.oneof(
  roleAuth, anonymousAuth,
  // The user's real token in a cookie (no CSRF token, or a wrong one) or behind a malformed scheme.
  fc.tuple(WRITERS, fc.option(latin1, { nil: undefined })).map(([user, csrf]): Auth => ({ kind: 'cookie', user, csrf })),
  fc.tuple(WRITERS, fc.constantFrom('bearer <TOKEN>', 'BEARER <TOKEN>', 'Bearer <TOKEN> extra', 'Bearer  <TOKEN>', 'Bearer <TOKEN>,Bearer <TOKEN>', '<TOKEN>', 'Bearer "<TOKEN>"', 'Bearer <TOKEN>\t'))
    .map(([user, value]): Auth => ({ kind: 'header', value, user })),
);
const extraHeaders = fc.dictionary(
  fc.constantFrom('accept-language', 'accept', 'x-forwarded-for', 'x-csrf-token', 'origin', 'referer', 'content-encoding', 'x-http-method-override', 'if-none-match', 'range', 'expect'),
  fc.oneof(latin1, fc.constantFrom('vi', 'vi-VN,vi;q=0.9', '*;q=x', 'application/xml', 'gzip', 'br', 'DELETE', 'bytes=0-1', '100-continue', '')),
  { maxKeys: 3 },
);

// ─── bodies ───────────────────────────────────────────────────────────────────────────────────────

const asObject = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? { ...(v as Record<string, unknown>) } : {});

/** Inserts `"key":value` as the first member of the object that follows `"anchor":` (or of the whole body). */
function insertMember(json: string, member: string, anchor?: string): string {
  let at = -1;
  if (anchor) {
    const i = json.indexOf(`"${anchor}":{`);
    if (i >= 0) at = i + anchor.length + 4;
  }
  if (at < 0) at = json.startsWith('{') ? 1 : -1;
  if (at < 0) return `{${member}}`;
  return `${json.slice(0, at)}${member}${json[at] === '}' ? '' : ','}${json.slice(at)}`;
}

function schemaBody(op: Operation, step: StepDef | undefined): fc.Arbitrary<Body> {
  if (op.body) return arbitraryFromSchema(op.body, { root: doc, hints: hintsFor(step), hintWeight: 6 }).map((value): Body => ({ kind: 'json', value }));
  if (op.method === 'GET') return fc.constant<Body>({ kind: 'none' });
  return fc.constantFrom<Body>({ kind: 'none' }, { kind: 'json', value: {} });
}

function garbageBody(op: Operation, step: StepDef | undefined): fc.Arbitrary<Body> {
  const base = schemaBody(op, step).map((b) => (b.kind === 'json' ? b.value : {}));
  const shape = objectShape(op.body, doc);
  const props = shape ? Object.keys(shape.properties) : [];
  const required = shape?.required ?? [];
  const propOrNew = props.length ? fc.oneof({ arbitrary: fc.constantFrom(...props), weight: 4 }, { arbitrary: fc.constant('extra'), weight: 1 }) : fc.constant('extra');
  const json = (value: unknown, rewrite?: { label: string; apply: (s: string) => string }): Body => ({ kind: 'json', value, ...(rewrite && { rewrite }) });
  const nested = (n: number, open: '[' | '{"a":') => (open === '[' ? '['.repeat(n) + ']'.repeat(n) : '{"a":'.repeat(n) + '1' + '}'.repeat(n));
  const modes: fc.Arbitrary<Body>[] = [
    fc.jsonValue({ maxDepth: 4 }).map((v) => json(v)),
    fc.tuple(base, propOrNew, wrongType).map(([b, k, w]) => json({ ...asObject(b), [k]: w })),
    fc.tuple(base, fc.dictionary(fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '', ' ', '\u0000', 'ключ')), fc.jsonValue({ maxDepth: 2 }), { minKeys: 1, maxKeys: 3 }))
      .map(([b, extra]) => json({ ...asObject(b), ...extra })),
    fc.tuple(base, fc.constantFrom('"__proto__":{"admin":true,"roles":["admin"]}', '"constructor":{"prototype":{"admin":true}}', '"__proto__":null', '"__proto__":[]'), fc.constantFrom(undefined, 'values', 'signature', 'patient'))
      .map(([b, member, anchor]) => json(b, { label: `${member} in ${anchor ?? 'body'}`, apply: (s) => insertMember(s, member, anchor) })),
    fc.tuple(base, propOrNew, fc.constantFrom('a', 'é', '😀', '\u0000', ' '), fc.oneof(fc.integer({ min: 1000, max: 20_000 }), fc.integer({ min: 200_000, max: 300_000 }), fc.integer({ min: BODY_LIMIT - 2000, max: BODY_LIMIT + 2000 })))
      .map(([b, k, c, n]) => json({ ...asObject(b), [k]: c.repeat(n) })),
    fc.tuple(base, fc.oneof(fc.integer({ min: 10, max: 2000 }), fc.integer({ min: 2000, max: 120_000 })), fc.constantFrom<'[' | '{"a":'>('[', '{"a":'), fc.constantFrom(undefined, 'values', 'signature'))
      .map(([b, n, open, anchor]) => json(b, { label: `nested ${open} ×${n} in ${anchor ?? 'body'}`, apply: (s) => insertMember(s, `"deep":${nested(n, open)}`, anchor) })),
    fc.tuple(fc.integer({ min: 10, max: 120_000 }), fc.constantFrom<'[' | '{"a":'>('[', '{"a":')).map(([n, open]): Body => ({ kind: 'text', text: nested(n, open) })),
    fc.oneof(
      fc.constantFrom('{', '}', '[', '{"a":}', "{'a':1}", '{"a":1,}', '[1,2,]', 'NaN', 'undefined', 'null', 'true', '0', '""', '{"a":1}{"b":2}', '\ufeff{}',
        '{"a":1} //c', '/* */{}', '{"a":"\\x41"}', '{"a":"\\ud800"}', '{"a":01}', '{"a":.5}', '{"a":+1}', '{"a":0x10}', '{"a":Infinity}', '{"a":"\u0000"}', ' ', '\n', '{"a":1e999}'),
      fc.string({ maxLength: 40 }),
      fc.tuple(base, fc.nat()).map(([b, i]) => { const s = JSON.stringify(b) ?? ''; return s.slice(0, s.length ? i % s.length : 0); }),
    ).map((text): Body => ({ kind: 'text', text })),
    fc.tuple(base, fc.constantFrom(...WEIRD_STRINGS), fc.boolean()).map(([b, w, append]) => json(mapStrings(b, (s) => (append ? s + w : w)))),
    fc.tuple(base, propOrNew, fc.constantFrom('1e999', '-1e999', '-0', '1E400', '0.1e-400', '9007199254740993', '1.0', '1e2', '-1', '4294967296', '1e-7', '123456789012345678901234567890'))
      .map(([b, k, literal]) => json({ ...asObject(b), [k]: '\u0001NUM\u0001' }, { label: `${k}: ${literal}`, apply: (s) => s.replace('"\\u0001NUM\\u0001"', literal) })),
    fc.tuple(base, fc.constantFrom(...(required.length ? required : ['extra']))).map(([b, k]) => { const o = asObject(b); delete o[k]; return json(o); }),
    fc.constantFrom<Body>({ kind: 'none' }, { kind: 'text', text: '' }, { kind: 'json', value: [] }, { kind: 'json', value: null }),
  ];
  return fc.oneof(...modes);
}

function mapStrings(v: unknown, f: (s: string) => string, depth = 0): unknown {
  if (typeof v === 'string') return f(v);
  if (depth > 6 || v === null || typeof v !== 'object' || v instanceof Now || v instanceof CurrentVersion || v instanceof OfBatch) return v;
  if (Array.isArray(v)) return v.map((x) => mapStrings(x, f, depth + 1));
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mapStrings(x, f, depth + 1)]));
}

// ─── requests ─────────────────────────────────────────────────────────────────────────────────────

type Flavor = 'schema' | 'garbage' | 'paths' | 'headers' | 'anonymous';

function requestArb(flavor: Flavor, filter: (op: Operation) => boolean = () => true): fc.Arbitrary<Req> {
  const candidates = ops.filter(filter);
  // Writes to a batch are where a partial write could happen: they come up most often.
  const weight = (op: Operation) => (op.method === 'GET' ? 1 : op.path.startsWith('/api/v1/batches/') ? 8 : op.body ? 3 : 1);
  return fc.oneof(...candidates.map((op) => ({ arbitrary: fc.constant(op), weight: weight(op) }))).chain((op) =>
    fc.tuple(pathParamsArb(op, flavor), queryArb(op, flavor)).chain(([params, query]) => {
      const named = Object.fromEntries(op.pathParams.map((p, i) => [p, params[i]]));
      const stepId = named.stepId?.step ?? named.stepId?.value ?? named.entryId?.step;
      const step = stepId ? steps.get(stepId) : undefined;
      const auth = flavor === 'anonymous' ? anonymousAuth : flavor === 'headers' ? headerAuth
        : step ? fc.oneof({ arbitrary: fc.constantFrom(...usersFor(step)).map((user): Auth => ({ kind: 'bearer', user })), weight: 3 }, { arbitrary: roleAuth, weight: 1 }) : roleAuth;
      const body = flavor === 'garbage' || flavor === 'anonymous' ? fc.oneof(schemaBody(op, step), garbageBody(op, step)) : schemaBody(op, step);
      const ct: fc.Arbitrary<string | null> = flavor === 'garbage' ? fc.oneof({ arbitrary: JSON_CT, weight: 3 }, { arbitrary: anyCt, weight: 1 })
        : flavor === 'headers' ? anyCt : JSON_CT;
      return fc.record({ auth, body, ct, headers: flavor === 'headers' ? extraHeaders : fc.constant({}) }).map(({ auth: a, body: b, ct: c, headers }) => {
        let path = op.path;
        for (const p of op.pathParams) path = path.replace(`{${p}}`, named[p].raw);
        const wellFormedPath = op.pathParams.every((p) => plainParam(named[p]));
        const batchId = op.path.startsWith('/api/v1/batches/{id}') && named.id?.value ? named.id.value : undefined;
        return printable({
          label: flavor, op, method: op.method, path, query, wellFormedPath, batchId, auth: a,
          contentType: b.kind === 'none' && flavor !== 'headers' ? null : c, headers, body: b,
        });
      });
    }));
}

/** One fast-check property over requests of a flavour; `extra` adds checks of its own. */
async function fuzz(flavor: Flavor, filter?: (op: Operation) => boolean, extra?: (r: Req, status: number, bytes: number) => string[]) {
  fuzzer.reset();
  await fc.assert(
    fc.asyncProperty(requestArb(flavor, filter), async (r) => {
      const { res, payload, violations } = await fuzzer.send(r);
      violations.push(...(extra?.(r, res.statusCode, payload === undefined ? 0 : Buffer.byteLength(payload)) ?? []));
      if (violations.length) throw failure(r, res, violations);
    }),
    // Bounded: a failure is shrunk for at most the rest of the time budget, then reported with its seed and path.
    { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: RUN_BUDGET_MS, markInterruptAsFailure: false },
  );
}

// ─── tests ────────────────────────────────────────────────────────────────────────────────────────

describe('the fuzzer reads the API from GET /openapi.json', () => {
  it('finds the operations, their bodies and which ones are public', () => {
    expect(ops.length).toBeGreaterThan(20);
    const withBody = ops.filter((o) => o.body);
    expect(withBody.map((o) => `${o.method} ${o.path}`)).toEqual(expect.arrayContaining([
      'POST /api/v1/batches', 'POST /api/v1/batches/{id}/steps/{stepId}', 'POST /api/v1/batches/{id}/entries/{entryId}/verify', 'POST /api/v1/auth/login',
    ]));
    const publicOps = ops.filter((o) => o.public).map((o) => `${o.method} ${o.path}`);
    expect(publicOps).toEqual(expect.arrayContaining(['GET /healthz', 'POST /api/v1/auth/login']));
    expect(publicOps).not.toContain('POST /api/v1/batches');
  });

  it('converts JSON schemas into values that satisfy them (checked against the server\'s own zod schemas)', async () => {
    const share = async (key: string, schema: { safeParse(v: unknown): { success: boolean } }, withHints: boolean) => {
      const op = ops.find((o) => `${o.method} ${o.path}` === key)!;
      const values = withHints
        ? await Promise.all(fc.sample(schemaBody(op, undefined), { numRuns: 200, seed: SEED }).map((b) => (b.kind === 'json' ? resolveValue(b.value, h, pool.batchIds[1]) : undefined)))
        : fc.sample(arbitraryFromSchema(op.body, { root: doc }), { numRuns: 200, seed: SEED });
      return values.filter((v) => schema.safeParse(v).success).length / 200;
    };
    // The converter alone, on schemas without refinements it cannot see (calendar dates, DIN check characters).
    expect(await share('POST /api/v1/auth/login', api.LoginBody, false)).toBe(1);
    expect(await share('PATCH /api/v1/materials/{id}', api.PatchMaterialBody, false)).toBeGreaterThan(0.9);
    // Roles: a refinement the converter cannot see refuses admin beside a signing role; with five signing
    // roles of seven (physician included), about half of the random role sets combine them.
    expect(await share('POST /api/v1/users', api.CreateUserBody, false)).toBeGreaterThan(0.4);
    // With the fuzzer's hints, enough bodies get past body validation to reach the rules behind it.
    for (const [key, schema] of [['POST /api/v1/materials', api.CreateMaterialBody], ['POST /api/v1/batches', api.CreateBatchBody], ['POST /api/v1/batches/{id}/terminate', api.TerminateBody],
      ['POST /api/v1/batches/{id}/steps/{stepId}', api.RecordStepBody], ['POST /api/v1/training/clock', api.ClockBody]] as const) {
      expect(await share(key, schema, true), key).toBeGreaterThan(0.2);
    }
  });
});

describe('size limits', () => {
  const send = (user: string | null, method: string, url: string, payload: string, contentType = 'application/json') => h.app.inject({
    method: method as 'POST', url, payload, headers: { 'content-type': contentType, ...(user && { authorization: `Bearer ${h.tokens[user]}` }) },
  });
  const pathOf = (op: Operation) => op.path.replace('{id}', pool.batchIds[1]).replace('{stepId}', 'apheresis-receipt').replace('{entryId}', pool.entryIds[0]).replace(/\{[^}]+\}/g, pool.batchIds[1]);

  it('answers 413 problem+json to a body over 256 KiB on every operation that takes one, and writes nothing', async () => {
    const big = JSON.stringify({ reason: 'x'.repeat(BODY_LIMIT) });
    expect(Buffer.byteLength(big)).toBeGreaterThan(BODY_LIMIT);
    const writes = ops.filter((o) => o.method !== 'GET');
    expect(writes.length).toBeGreaterThan(10);
    for (const op of writes) {
      for (const user of op.public ? [null] : ['op1', 'sup1', 'qa1', 'admin']) {
        const before = await recordState(h);
        const res = await send(user, op.method, pathOf(op), big);
        expect(res.statusCode, `${op.method} ${op.path} as ${user}: ${res.body.slice(0, 200)}`).toBe(413);
        expect(problemViolations(res), `${op.method} ${op.path}`).toEqual([]);
        expect(await recordState(h)).toEqual(before);
      }
    }
  });

  it('answers 401, not 413, to an oversized body from nobody (authentication is checked first)', async () => {
    const res = await send(null, 'POST', `/api/v1/batches/${pool.batchIds[1]}/steps/apheresis-receipt`, JSON.stringify({ values: { x: 'y'.repeat(BODY_LIMIT) } }));
    expect(res.statusCode).toBe(401);
    expect(problemViolations(res)).toEqual([]);
  });

  it('reads a body just under the limit and names the field that is too long (400, not 413)', async () => {
    const before = await recordState(h);
    const payload = JSON.stringify({ reason: 'x'.repeat(BODY_LIMIT - 200), signature: sign('sup1') });
    expect(Buffer.byteLength(payload)).toBeLessThan(BODY_LIMIT);
    const res = await send('sup1', 'POST', `/api/v1/batches/${pool.batchIds[1]}/terminate`, payload);
    expect(res.statusCode, res.body.slice(0, 300)).toBe(400);
    expect(problemViolations(res)).toEqual([]);
    expect(res.json().errors.map((e: { field: string }) => e.field)).toContain('reason');
    expect(await recordState(h)).toEqual(before);
  });

  it('names the field of a text value over 2000 characters (values.<field>, 400) and accepts 2000', async () => {
    const base = {
      freezer: cryo.catalogue.equipment['controlled-rate-freezer'], freezingProgram: 'CRF-CART-01',
      freezingStart: new Date(cryo.now() - 1.25 * HOUR).toISOString(), freezingEnd: new Date(cryo.now() - 0.25 * HOUR).toISOString(),
      storageTank: 'LN2-02', storageRack: 'R3', storageBox: 'B12', storagePosition: 'A4', storageTemperature: -185,
    };
    const texts = steps.get('cryopreservation')!.fields.filter((f) => f.kind === 'text').map((f) => f.name);
    expect(texts.length).toBeGreaterThan(0);
    for (const name of texts) {
      for (const long of ['x'.repeat(2001), 'é'.repeat(2001)]) {
        const before = await recordState(h);
        const r = await call(h, 'op1', 'POST', `/batches/${cryo.id}/steps/cryopreservation`, { values: { ...base, [name]: long }, signature: sign('op1'), expectedVersion: cryo.batch.version });
        expect(r.status, `${name} of ${long.length} characters: ${JSON.stringify(r.body).slice(0, 300)}`).toBe(400);
        expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(r.body.errors.map((e: { field: string }) => e.field)).toEqual([`values.${name}`]);
        expect(await recordState(h)).toEqual(before);
      }
    }
    const ok = await cryo.record('cryopreservation', { ...base, freezingProgram: 'p'.repeat(2000) });
    expect(ok.status, JSON.stringify(ok.body).slice(0, 300)).toBe(201);
    expect(ok.body.entry.values.freezingProgram).toHaveLength(2000);
  });

  it('names the body field over its limit: reason, patient.id, signature.password, fullName', async () => {
    const cases: [string, string, string, unknown, string][] = [
      ['sup1', 'POST', `/api/v1/batches/${pool.batchIds[1]}/terminate`, { reason: 'r'.repeat(2001), signature: sign('sup1') }, 'reason'],
      ['qa1', 'PATCH', `/api/v1/materials/${pool.materialIds[0]}`, { status: 'quarantined', reason: 'r'.repeat(2001) }, 'reason'],
      ['op1', 'POST', '/api/v1/batches', { processId: 'car-t', din: din(900).keyed, patient: { id: 'p'.repeat(65), weightKg: 70 } }, 'patient.id'],
      ['op1', 'POST', `/api/v1/batches/${pool.batchIds[1]}/steps/apheresis-receipt`, { values: {}, signature: { username: 'op1', password: 'p'.repeat(257) }, expectedVersion: 1 }, 'signature.password'],
      ['admin', 'POST', '/api/v1/users', { username: 'new.user', fullName: 'F'.repeat(201), roles: ['operator'], password: 'Long-Enough-Password-1' }, 'fullName'],
    ];
    for (const [user, method, url, body, field] of cases) {
      const before = await recordState(h);
      const res = await send(user, method, url, JSON.stringify(body));
      expect(res.statusCode, `${method} ${url}: ${res.body.slice(0, 300)}`).toBe(400);
      expect(problemViolations(res)).toEqual([]);
      expect(res.json().errors.map((e: { field: string }) => e.field)).toContain(field);
      expect(await recordState(h)).toEqual(before);
    }
  });
});

describe('malformed URLs are answered like any other client error', () => {
  // Regressions for what the path-parameter property found: the router's own refusals.
  const get = (url: string) => h.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${h.tokens.qa1}` } });

  it('a broken percent-encoding in a path parameter is a 400 problem+json with errors', async () => {
    for (const url of ['/api/v1/batches/%', '/api/v1/batches/%zz', '/api/v1/batches/%E0%A4%A/audit']) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(400);
      expect(problemViolations(res), `${url}: ${res.headers['content-type']} ${res.body}`).toEqual([]);
    }
  });

  it('a path parameter longer than the router accepts is a 4xx problem+json', async () => {
    for (const url of [`/api/v1/batches/${'a'.repeat(101)}`, `/api/v1/processes/${'%C3%A9'.repeat(20)}`]) {
      const res = await get(url);
      expect(res.statusCode, url).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, url).toBeLessThan(500);
      expect(problemViolations(res), `${url}: ${res.headers['content-type']} ${res.body.slice(0, 200)}`).toEqual([]);
    }
  });
});

/** Records a CAR-T batch's apheresis receipt (at a transport temperature) and its starting-material sample, awaiting verification. */
async function receiptAndSample(batch: { id: string; version: number }, dinSeq: number, transportTemperature: number) {
  const now = h.ctx.clock.now().getTime();
  const receipt = await call(h, 'op1', 'POST', `/batches/${batch.id}/steps/apheresis-receipt`, {
    values: { bagScan: din(dinSeq).keyed, collectionEnd: new Date(now - 10 * HOUR).toISOString(), receivedAt: new Date(now - HOUR).toISOString(), transportTemperature, volume: 200 },
    signature: sign('op1'), expectedVersion: batch.version,
  });
  expect(receipt.status).toBe(201);
  const sample = await call(h, 'op1', 'POST', `/batches/${batch.id}/steps/starting-material-sample`, {
    values: { wbcConcentration: 50, viability: 95, cd3Positive: 60 }, signature: sign('op1'), expectedVersion: receipt.body.batch.version,
  });
  expect(sample.status).toBe(201);
  return { receipt, sample };
}

describe('refusals the fuzzer found', () => {
  it('verifying a pending entry of a terminated batch is a 409 problem+json and writes nothing', async () => {
    const batch = await createBatch(h, 'car-t', 950);
    const { sample } = await receiptAndSample(batch, 950, 4);
    expect(sample.body.entry.verified).toBe(false);
    const t = await call(h, 'sup1', 'POST', `/batches/${batch.id}/terminate`, { reason: 'patient withdrew consent', signature: sign('sup1') });
    expect(t.status).toBe(201);
    const before = await recordState(h);
    const res = await h.app.inject({
      method: 'POST', url: `/api/v1/batches/${batch.id}/entries/${sample.body.entry.id}/verify`,
      headers: { authorization: `Bearer ${h.tokens.op2}`, 'content-type': 'application/json' }, payload: JSON.stringify({ signature: sign('op2') }),
    });
    expect(res.statusCode, res.body).toBe(409);
    expect(problemViolations(res)).toEqual([]);
    expect(await recordState(h)).toEqual(before);
  });

  it('an unknown body key that is the empty string is named in errors[] by a non-empty field', async () => {
    const res = await h.app.inject({
      method: 'POST', url: '/api/v1/materials', headers: { authorization: `Bearer ${h.tokens.sup1}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ '': 1, type: 'buffer', name: 'Buffer', lotNumber: 'L-1', expiresOn: '2027-01-01', status: 'released' }),
    });
    expect(res.statusCode).toBe(400);
    expect(problemViolations(res), res.body).toEqual([]);
  });
});

describe('property: nothing a client sends causes a 5xx, a non-problem error or a partial write', () => {
  it('bodies drawn from each operation\'s request schema, as users of every role', async () => {
    await fuzz('schema');
  }, FUZZ_TIMEOUT);

  it('garbage bodies: wrong types, extra and __proto__ keys, huge strings, deep nesting, invalid JSON, odd content types', async () => {
    await fuzz('garbage', (op) => op.method !== 'GET', (r, status, bytes) => {
      // A JSON body over the limit to a matched route, from someone the route lets in, is a 413.
      const letIn = r.op.public || r.auth.kind === 'bearer';
      if (bytes > BODY_LIMIT + 64 && letIn && r.wellFormedPath && JSON_TYPES.includes(r.contentType ?? '') && ![413, 429].includes(status)) {
        return [`a ${bytes}-byte body answered ${status}, not 413`];
      }
      return [];
    });
  }, FUZZ_TIMEOUT);

  it('random path parameters (.., %00, broken escapes, very long ids, unicode) and query strings', async () => {
    await fuzz('paths');
  }, FUZZ_TIMEOUT);

  it('random headers: malformed Authorization, session cookies without CSRF, content types, encodings', async () => {
    await fuzz('headers');
  }, FUZZ_TIMEOUT);

  it('without valid credentials every protected operation answers 401, whatever the body, and writes nothing', async () => {
    await fuzz('anonymous', (op) => !op.public, (r, status) =>
      (r.wellFormedPath && status !== 401 ? [`an unauthenticated request to a protected route answered ${status}, not 401`] : []));
  }, FUZZ_TIMEOUT);
});

describe('after the fuzzing', () => {
  it('every chain is valid and every batch projection equals its rebuild from the entries', async () => {
    expect((await h.ctx.store.verifyChains()).valid).toBe(true);
    const ids = await h.ctx.store.allBatchIds();
    expect(ids.length).toBeGreaterThanOrEqual(4);
    for (const id of ids) {
      const p = (await rebuildProjection(h.ctx, id))!;
      expect(p.cached, `batch ${id}`).toEqual(p.rebuilt);
    }
  });
});

