// The fuzzer's plumbing: the operations read from GET /openapi.json, the requests fast-check builds
// for them, how one is sent through app.inject, and what every answer must satisfy:
//   - never a 5xx;
//   - every 4xx is application/problem+json {type, title, status, detail} with status = the HTTP status,
//     and every 400 carries errors: [{field, message}, ...];
//   - a refused request (≥ 400) and any read leave the record as it was: the same number of entries,
//     signatures and batches, every chain valid (recordState of test/helpers.ts).
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { recordState, type Harness } from '../../helpers.js';
import { login, sessionUser, unlockUser } from '../../../server/services/accounts.js';
import type { JsonSchema } from './schema-arbitrary.js';

export const BODY_LIMIT = 256 * 1024;

export type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export interface Operation {
  method: Method;
  /** The OpenAPI path, e.g. /api/v1/batches/{id}/steps/{stepId}. */
  path: string;
  pathParams: string[];
  query: { name: string; required: boolean; schema: JsonSchema }[];
  body?: JsonSchema;
  /** Answers without credentials (found by asking, not by reading the document). */
  public: boolean;
}

/** Every operation of the OpenAPI document (the UI's own static routes are not part of it). */
export function operationsOf(doc: JsonSchema): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries<Record<string, any>>(doc.paths ?? {})) {
    for (const [m, op] of Object.entries<any>(item)) {
      const method = m.toUpperCase();
      if (!['GET', 'POST', 'PATCH', 'PUT', 'DELETE'].includes(method)) continue;
      const params: any[] = [...(item.parameters ?? []), ...(op.parameters ?? [])];
      const pathParams = [...path.matchAll(/\{([^}]+)\}/g)].map((x) => x[1]);
      ops.push({
        method: method as Method,
        path,
        pathParams,
        query: params.filter((p) => p.in === 'query').map((p) => ({ name: p.name, required: !!p.required, schema: p.schema ?? {} })),
        body: op.requestBody?.content?.['application/json']?.schema,
        public: false,
      });
    }
  }
  return ops.sort((a, b) => `${a.path} ${a.method}`.localeCompare(`${b.path} ${b.method}`));
}

// ─── values resolved when the request is sent ─────────────────────────────────────────────────────

/** A time relative to the server's (training) clock when the request is sent. */
export class Now {
  constructor(readonly offsetHours: number) {}
  [fc.toStringMethod]() { return `Now(${this.offsetHours >= 0 ? '+' : ''}${this.offsetHours}h)`; }
}
/** The batch's version when the request is sent (the batch named in the path), plus a delta. */
export class CurrentVersion {
  constructor(readonly delta: number) {}
  [fc.toStringMethod]() { return `CurrentVersion(${this.delta >= 0 ? '+' : ''}${this.delta})`; }
}

/** The DIN (keyed or scanned) or the batch number of the batch named in the path, when the request is sent. */
export class OfBatch {
  constructor(readonly what: 'keyed' | 'barcode' | 'batchNumber') {}
  [fc.toStringMethod]() { return `OfBatch(${this.what})`; }
}

const MOD37 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*';

/** Path parameters resolved when the request is sent: the newest batch, and that batch's latest step entry. */
export const NEWEST_BATCH = '@NEWEST_BATCH@';
export const LATEST_ENTRY = '@LATEST_ENTRY@';

export async function resolveBatchId(h: Harness, id: string | undefined): Promise<string | undefined> {
  if (id !== NEWEST_BATCH) return id;
  // The batch whose first entry is the latest in the entries chain (creation times can tie on the test clock).
  const created = await Promise.all((await h.ctx.store.allBatchIds()).map(async (id) => ({ id, seq: (await h.ctx.store.entriesOfBatch(id))[0]?.seq ?? 0 })));
  return created.sort((a, b) => a.seq - b.seq).at(-1)?.id;
}

export async function resolvePath(h: Harness, path: string, batchId: string | undefined): Promise<string> {
  let out = path;
  if (batchId) out = out.replace(NEWEST_BATCH, batchId);
  if (out.includes(LATEST_ENTRY) && batchId) {
    const last = (await h.ctx.store.entriesOfBatch(batchId)).filter((e) => e.kind === 'step' || e.kind === 'correction').at(-1);
    if (last) out = out.replace(LATEST_ENTRY, last.id);
  }
  return out;
}

export async function resolveValue(v: unknown, h: Harness, batchId: string | undefined, depth = 0): Promise<unknown> {
  if (v instanceof Now) return new Date(h.ctx.clock.now().getTime() + v.offsetHours * 3_600_000).toISOString();
  if (v instanceof CurrentVersion) return (batchId ? ((await h.ctx.store.getBatch(batchId))?.version ?? 1) : 1) + v.delta;
  if (v instanceof OfBatch) {
    const row = batchId ? await h.ctx.store.getBatch(batchId) : undefined;
    if (!row) return 'W123426999999A';
    return v.what === 'batchNumber' ? row.batchNumber : v.what === 'keyed' ? row.din + row.dinCheck : `=${row.din}${60 + MOD37.indexOf(row.dinCheck)}`;
  }
  if (depth > 8 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return Promise.all(v.map((x) => resolveValue(x, h, batchId, depth + 1)));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = await resolveValue(x, h, batchId, depth + 1);
  return out;
}

// ─── requests ─────────────────────────────────────────────────────────────────────────────────────

/** How the request authenticates: as a user (bearer token or session cookie), with a raw header, or not at all. */
export type Auth =
  | { kind: 'bearer'; user: string }
  | { kind: 'none' }
  | { kind: 'header'; value: string; user?: string }
  | { kind: 'cookie'; user: string | null; raw?: string; csrf?: string };

/** The body: a JSON value (rendered, then optionally rewritten as text) or raw text. */
export type Body =
  | { kind: 'json'; value: unknown; rewrite?: TextRewrite }
  | { kind: 'text'; text: string }
  | { kind: 'none' };

/** A text-level change to the rendered JSON (what no JS object can express: __proto__ keys, 1e999, deep nesting). */
export interface TextRewrite { label: string; apply: (json: string) => string }

export interface Req {
  label: string;
  op: Operation;
  method: string;
  /** The path with its parameters substituted, as sent (percent-encoding included). */
  path: string;
  /** The query string without '?', as sent. */
  query: string;
  /** Path parameters are plain (≤ 100 characters once encoded, no reserved characters): the route is matched. */
  wellFormedPath: boolean;
  batchId?: string;
  auth: Auth;
  contentType: string | null;
  headers: Record<string, string>;
  body: Body;
}

const preview = (s: string, n = 160) => (s.length > n ? `${JSON.stringify(s.slice(0, n))}…(${s.length} chars)` : JSON.stringify(s));

export function describeReq(r: Req): string {
  const auth = r.auth.kind === 'bearer' ? `bearer:${r.auth.user}` : r.auth.kind === 'none' ? 'anonymous'
    : r.auth.kind === 'header' ? `Authorization:${preview(r.auth.value, 60)}` : `cookie:${r.auth.user ?? preview(r.auth.raw ?? '', 40)}${r.auth.csrf !== undefined ? ' +csrf' : ''}`;
  let body = '';
  if (r.body.kind === 'json') {
    let text: string;
    try { text = JSON.stringify(r.body.value, (_k, v) => (v instanceof Now || v instanceof CurrentVersion || v instanceof OfBatch ? v[fc.toStringMethod]() : v)) ?? 'undefined'; } catch { text = '(unprintable)'; }
    body = ` body=${preview(text, 400)}${r.body.rewrite ? ` rewritten:${r.body.rewrite.label}` : ''}`;
  } else if (r.body.kind === 'text') body = ` text=${preview(r.body.text, 300)}`;
  const extra = Object.keys(r.headers).length ? ` headers=${preview(JSON.stringify(r.headers), 200)}` : '';
  return `[${r.label}] ${r.method} ${preview(r.path + (r.query ? `?${r.query}` : ''), 300)} ${auth} content-type=${r.contentType === null ? '(none)' : JSON.stringify(r.contentType)}${extra}${body}`;
}

/** Gives a request a short printable form in fast-check's reports (a 300 KB body is not printed whole). */
export function printable(r: Req): Req {
  Object.defineProperty(r, fc.toStringMethod, { value: () => describeReq(r), enumerable: false });
  return r;
}

// ─── sending and checking ─────────────────────────────────────────────────────────────────────────

export async function renderPayload(r: Req, h: Harness, given?: string): Promise<string | undefined> {
  const batchId = given ?? await resolveBatchId(h, r.batchId);
  if (r.body.kind === 'none') return undefined;
  if (r.body.kind === 'text') return r.body.text;
  const json = JSON.stringify(await resolveValue(r.body.value, h, batchId)) ?? 'null';
  return r.body.rewrite ? r.body.rewrite.apply(json) : json;
}

export function headersFor(r: Req, h: Harness): Record<string, string> {
  const headers: Record<string, string> = { ...r.headers };
  if (r.contentType !== null) headers['content-type'] = r.contentType;
  const a = r.auth;
  if (a.kind === 'bearer') headers.authorization = `Bearer ${h.tokens[a.user]}`;
  if (a.kind === 'header') headers.authorization = a.user ? a.value.replaceAll('<TOKEN>', h.tokens[a.user]) : a.value;
  if (a.kind === 'cookie') {
    headers.cookie = a.user ? `cellbatch_session=${h.tokens[a.user]}` : (a.raw ?? '');
    if (a.csrf !== undefined) headers['x-csrf-token'] = a.csrf;
  }
  return headers;
}

/** The answer's problems against the contract (empty when it keeps it). */
export function problemViolations(res: LightMyRequestResponse): string[] {
  const out: string[] = [];
  const status = res.statusCode;
  if (status >= 500) out.push(`status ${status} (a client's request caused a server error)`);
  if (status < 400) return out;
  const ct = String(res.headers['content-type'] ?? '');
  if (!/^application\/problem\+json\b/i.test(ct)) out.push(`a ${status} with content-type ${JSON.stringify(ct)}, not application/problem+json`);
  let body: any;
  try { body = JSON.parse(res.body); } catch { out.push(`a ${status} whose body is not JSON`); return out; }
  if (!body || typeof body !== 'object' || Array.isArray(body)) { out.push(`a ${status} whose body is not an object`); return out; }
  if (typeof body.type !== 'string' || body.type.length === 0) out.push('problem.type missing');
  if (typeof body.title !== 'string' || body.title.length === 0) out.push('problem.title missing');
  if (body.status !== status) out.push(`problem.status ${JSON.stringify(body.status)} differs from the HTTP status ${status}`);
  if (typeof body.detail !== 'string' || body.detail.length === 0) out.push('problem.detail missing');
  if (status === 400) {
    if (!Array.isArray(body.errors) || body.errors.length === 0) out.push('a 400 without errors: [{field, message}]');
    else {
      for (const e of body.errors) {
        if (!e || typeof e.field !== 'string' || e.field.length === 0 || typeof e.message !== 'string') { out.push(`errors[] item ${JSON.stringify(e)} is not {field, message}`); break; }
      }
    }
  }
  return out;
}

/**
 * Sends fuzzed requests through one harness and keeps it usable: after each request it unlocks a locked
 * roster account and logs a user in again whose session the request ended (logout), so that the next
 * run still reaches the code behind authentication. Neither touches entries or signatures.
 */
export class Fuzzer {
  private last?: Awaited<ReturnType<Fuzzer['snapshot']>>;
  sent = 0;
  statuses = new Map<number, number>();

  constructor(readonly h: Harness, readonly passwords: Record<string, string>) {}

  async send(r: Req): Promise<{ res: LightMyRequestResponse; payload?: string; violations: string[] }> {
    const h = this.h;
    const batchId = await resolveBatchId(h, r.batchId);
    const payload = await renderPayload(r, h, batchId);
    const before = this.last ?? await this.snapshot();
    const res = await h.app.inject({
      method: r.method as any, url: await resolvePath(h, r.path, batchId) + (r.query ? `?${r.query}` : ''), headers: headersFor(r, h),
      ...(payload !== undefined && { payload }),
    });
    const after = await this.snapshot();
    this.last = after;
    this.sent++;
    this.statuses.set(res.statusCode, (this.statuses.get(res.statusCode) ?? 0) + 1);
    const violations = problemViolations(res);
    if (res.statusCode >= 400 || r.method === 'GET') {
      const what = res.statusCode >= 400 ? `a refused request (${res.statusCode})` : 'a read';
      if (after.entries !== before.entries) violations.push(`${what} changed the number of entries ${before.entries} → ${after.entries}`);
      if (after.signatures !== before.signatures) violations.push(`${what} changed the number of signatures ${before.signatures} → ${after.signatures}`);
      if (after.batches !== before.batches) violations.push(`${what} changed the number of batches ${before.batches} → ${after.batches}`);
    }
    if (!after.chain) violations.push('a chain is no longer valid');
    await this.heal(res.statusCode < 300 && r.method !== 'GET');
    return { res, payload, violations };
  }

  /** What a refusal must leave as it was: entries, signatures and batches counted, chains verified. */
  async snapshot() {
    return { ...await recordState(this.h), batches: (await this.h.ctx.store.allBatchIds()).length };
  }

  /** Forgets the cached record state (after writes made outside `send`). */
  reset() { this.last = undefined; }

  private async heal(wrote: boolean) {
    const { ctx } = this.h;
    const admin = (await ctx.store.findUserByUsername('admin'))!;
    for (const [username, password] of Object.entries(this.passwords)) {
      const row = await ctx.store.findUserByUsername(username);
      if (row?.locked) await unlockUser(ctx, admin, row.id, 'fuzz harness: unlock for the next run');
      if (!wrote) continue;
      try { await sessionUser(ctx, this.h.tokens[username]); } catch { this.h.tokens[username] = (await login(ctx, username, password)).token; }
    }
  }

  summary() {
    return `${this.sent} requests; statuses ${[...this.statuses.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(' ')}`;
  }
}

/** The message a failed run throws: what was sent, what came back and what is wrong with it. */
export function failure(r: Req, res: LightMyRequestResponse, violations: string[]) {
  return new Error(`${violations.join('; ')}\n  request: ${describeReq(r)}\n  answer: ${res.statusCode} ${res.headers['content-type'] ?? ''} ${preview(res.body, 400)}`);
}
