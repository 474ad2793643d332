// Test harness: the real app on a fresh database in a temp folder, a wall clock the test controls,
// users of every role, and small helpers to speak HTTP through app.inject.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import { buildApp } from '../server/app.js';
import type { AppContext } from '../server/context.js';
import { createUser, openSession } from '../server/services/accounts.js';
import { checkCharacter } from '../server/domain/isbt128.js';
import { createTestDatabase, TEST_DATABASE_URL } from './pg.js';
import type { RecordLocation } from './owner.js';
import { ADMIN_PASSWORD, PASSWORD, ROSTER, seedHashes } from './seed-users.js';
import type { Store } from '../server/store/store.js';
import type { SqliteStore } from '../server/store/sqlite/store.js';
import { loadOrCreateKey } from '../server/store/checkpoints.js';

export { ADMIN_PASSWORD, PASSWORD, ROSTER } from './seed-users.js';

export interface Harness {
  app: FastifyInstance;
  ctx: AppContext;
  dir: string;
  /** The harness's own PostgreSQL database, when the suite runs on PostgreSQL (test/pg.ts). */
  databaseUrl?: string;
  /** Where the record lives, as buildApp takes it (to start a server on it again) and test/owner.ts reads it. */
  location: RecordLocation;
  /** Wall-clock milliseconds; move it with `tick`. */
  wall: { now: number };
  tick(ms: number): void;
  tokens: Record<string, string>;
  close(): Promise<void>;
  /** For a test that closed the app itself: drops the database (PostgreSQL) and removes the folder. */
  discard(): Promise<void>;
}

export interface HarnessOptions {
  training?: boolean; idleTimeoutMinutes?: number; processesDir?: string; checkpointEvery?: number; patientIdPattern?: string;
  /** Where the wall clock starts (default 2026-03-02T08:00Z); the real time for tests that mix in a CLI writing on the system clock. */
  start?: number;
  /** `sqlite`: the record in a SQLite file even when the suite runs on PostgreSQL (a test of the file itself, or a move from it). */
  store?: 'sqlite';
}

/**
 * An empty record: a folder (the SQLite file, or on PostgreSQL the checkpoint log and keys) and, when the
 * suite runs on PostgreSQL (npm run test:pg), a database of its own, so that a test that starts a server
 * itself proves the store under test. `discard` drops the database and removes the folder.
 */
export async function freshRecord(opts: { store?: 'sqlite' } = {}): Promise<RecordLocation & { dir: string; discard(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellbatch-test-'));
  const pg = opts.store !== 'sqlite' && TEST_DATABASE_URL ? await createTestDatabase() : undefined;
  return {
    dir, dbFile: path.join(dir, 'cellbatch.db'), databaseUrl: pg?.url,
    discard: async () => { await pg?.drop(); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}

export async function harness(opts: HarnessOptions = {}): Promise<Harness> {
  const wall = { now: opts.start ?? Date.parse('2026-03-02T08:00:00Z') };
  // On PostgreSQL (npm run test:pg) every harness gets a database of its own, dropped when it closes.
  const { dir, discard, ...location } = await freshRecord({ store: opts.store });
  const { app, ctx } = await buildApp({
    ...location, training: opts.training ?? true, now: () => wall.now,
    idleTimeoutMinutes: opts.idleTimeoutMinutes, processesDir: opts.processesDir, checkpointEvery: opts.checkpointEvery, patientIdPattern: opts.patientIdPattern,
  });
  // The users are made and logged in through the accounts service, as the first start and POST
  // /auth/login do, with their password hashes made once per run (test/seed-users.ts): no argon2id
  // work per harness. Logins and password hashing are tested through the API by their own tests.
  const hashes = await seedHashes();
  const tokens: Record<string, string> = {};
  const seeds = [['admin', ['admin'], ADMIN_PASSWORD] as const, ...ROSTER.map(([u, r]) => [u, r, PASSWORD] as const)];
  const ids: string[] = [];
  for (const [username, roles, password] of seeds) {
    ids.push((await createUser(ctx, null, { username, fullName: `Test ${username.toUpperCase()}`, roles: roles as never, password }, false, hashes[username])).id);
  }
  for (const [i, [username]] of seeds.entries()) {
    tokens[username] = randomBytes(32).toString('base64url');
    await ctx.store.transaction(async () => openSession(ctx, (await ctx.store.findUserById(ids[i]!))!, tokens[username]!));
  }
  return {
    app, ctx, dir, wall, tokens, databaseUrl: location.databaseUrl, location,
    tick: (ms) => { wall.now += ms; },
    close: async () => { await app.close(); await discard(); },
    discard,
  };
}

/** An HTTP call as a user (by username, through their session token). */
export async function call(h: Harness, user: string | null, method: 'GET' | 'POST' | 'PATCH', url: string, payload?: unknown) {
  const res = await h.app.inject({
    method, url: url.startsWith('/api') || url.startsWith('/healthz') || url.startsWith('/openapi') ? url : `/api/v1${url}`,
    headers: user ? { authorization: `Bearer ${h.tokens[user]}` } : {},
    ...(payload !== undefined && { payload: payload as object }),
  });
  let body: any;
  try { body = res.json(); } catch { body = res.body; }
  return { status: res.statusCode, body, headers: res.headers };
}

export const sign = (username: string, password = PASSWORD) => ({ username, password });

/** A valid DIN (facility W1234, year 26) for a sequence number, in keyed and bar-code forms. */
export function din(sequence: number) {
  const d = `W123426${String(sequence).padStart(6, '0')}`;
  const check = checkCharacter(d);
  const value = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*'.indexOf(check);
  return { din: d, check, keyed: d + check, barcode: `=${d}${60 + value}` };
}

export const HOUR = 3_600_000;

/** Moves the training clock forward (as supervisor). */
export async function advance(h: Harness, hours: number) {
  const r = await call(h, 'sup1', 'POST', '/training/clock', { advanceHours: hours });
  if (r.status !== 200) throw new Error(`clock: ${r.status} ${JSON.stringify(r.body)}`);
  return Date.parse(r.body.now);
}

/** Registers a released, unexpired lot and calibrated equipment for every type a process asks for. */
export async function registerCatalogue(h: Harness, processId: string) {
  const def = (await call(h, 'sup1', 'GET', `/processes/${processId}`)).body;
  const lots: Record<string, string> = {};
  const equipment: Record<string, string> = {};
  const until = new Date(h.ctx.clock.now().getTime() + 400 * 24 * HOUR).toISOString().slice(0, 10);
  for (const step of def.phases.flatMap((p: any) => p.steps)) {
    for (const f of step.fields) {
      if (f.kind === 'lot' && !lots[f.materialType]) {
        lots[f.materialType] = (await call(h, 'qa1', 'POST', '/materials', { type: f.materialType, name: `${f.materialType} test lot`, lotNumber: `L-${f.materialType}`, expiresOn: until, status: 'released' })).body.id;
      }
      if (f.kind === 'equipment' && !equipment[f.equipmentType]) {
        equipment[f.equipmentType] = (await call(h, 'sup1', 'POST', '/equipment', { assetId: `EQ-${f.equipmentType}`, type: f.equipmentType, name: `${f.equipmentType} test unit`, calibrationDueOn: until })).body.id;
      }
    }
  }
  return { lots, equipment };
}

export async function createBatch(h: Harness, processId: string, seq: number, weightKg = 70) {
  const r = await call(h, 'op1', 'POST', '/batches', { processId, din: din(seq).keyed, patient: { id: `PT-${seq}`, weightKg } });
  if (r.status !== 201) throw new Error(`create batch: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** The raw SQLite handle of a SQLite store: for tests that tamper with the file as an attacker would. */
/**
 * Several app servers of one site (issue 15 item 3): each key folder's signing key (made if missing)
 * and every other server's public key installed in its trusted/ folder, as docs/deployment.md says.
 */
export function trustEachOther(...keyDirs: string[]) {
  const keys = keyDirs.map((dir) => ({ dir, key: loadOrCreateKey(dir, () => new Date()) }));
  for (const { dir } of keys) {
    fs.mkdirSync(path.join(dir, 'trusted'), { recursive: true, mode: 0o700 });
    for (const other of keys) if (other.dir !== dir) fs.writeFileSync(path.join(dir, 'trusted', `${other.key.id}.pub.pem`), other.key.publicKeyPem, { mode: 0o600 });
  }
}

export function sqliteOf(store: Store) {
  if (store.dialect !== 'sqlite') throw new Error('this test reads the SQLite file directly');
  return (store as SqliteStore).sqlite;
}

/** Entry count and chain verification: what a refusal must leave unchanged. */
export async function recordState(h: Harness) {
  const counts = await h.ctx.store.counts();
  return { entries: counts.entries, signatures: counts.signatures, chain: (await h.ctx.store.verifyChains()).valid };
}

/** Records the CAR-T apheresis receipt as op1, in spec and in its window. */
export async function recordReceipt<B extends { id: string; version: number }>(h: Harness, b: B, seq: number) {
  const now = h.ctx.clock.now().getTime();
  const r = await call(h, 'op1', 'POST', `/batches/${b.id}/steps/apheresis-receipt`, {
    values: {
      bagScan: din(seq).keyed,
      collectionEnd: new Date(now - 10 * HOUR).toISOString(),
      receivedAt: new Date(now - 2 * HOUR).toISOString(),
      transportTemperature: 6,
      volume: 180,
    },
    signature: sign('op1'),
    expectedVersion: b.version,
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as { entry: { id: string }; batch: B };
}
