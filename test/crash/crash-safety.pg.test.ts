// Crash safety on PostgreSQL (issue 15; DESIGN.md "Non-negotiables": an acknowledged step survives), the
// counterpart of crash-safety.test.ts: a REAL app server (node --import tsx server/main.ts with
// CELLBATCH_DATABASE_URL) receives concurrent signed steps and batch creations and is killed with
// SIGKILL at a random moment, round after round (CRASH_ROUNDS, default 6; CRASH_SEED). After each kill,
// read straight from PostgreSQL: every acknowledged batch and step is there (the step with its
// "performed" signature), nothing is half-written, what was in flight committed whole or not at all,
// and every chain verifies against the server's signed checkpoints.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckpointLog, publicKeysIn, checkCheckpointLog } from '../../server/store/checkpoints.js';
import { openPostgresStore } from '../../server/store/postgres/store.js';
import { din } from '../helpers.js';
import { admin, createTestDatabase } from '../pg.js';
import { api, prng, startServer, type ServerProcess } from './server-process.js';

const SEED = Number(process.env.CRASH_SEED ?? 20260302) >>> 0;
const ROUNDS = Math.max(1, Number(process.env.CRASH_ROUNDS ?? 6));
const CONCURRENCY = 6;
const STEP = 'apheresis-receipt';
const HOUR = 3_600_000;
const ADMIN_PASSWORD = 'Admin-Crash-Password-1';
const TEMPORARY_PASSWORD = 'Temporary-Crash-Pass-1';
const OPERATORS = ['op1', 'op2', 'op3'];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellbatch-crash-pg-'));
const dbFile = path.join(dir, 'cellbatch.db');
const keyDir = path.join(dir, 'keys');
let server: ServerProcess | undefined;
let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;

afterAll(async () => {
  if (server?.alive()) {
    server.kill('SIGKILL');
    await server.exited;
  }
  await database?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('crash safety on PostgreSQL under SIGKILL', () => {
  it(`keeps every acknowledged write and nothing half-written across ${ROUNDS} kills of a real app server`, async () => {
    database = await createTestDatabase();
    const url = database.url;
    const killRng = prng(SEED);
    const loadRng = prng(SEED ^ 0x9e3779b9);
    /** Starts the server and waits until its background verification has judged the record (writes wait for it after a crash). */
    const start = async () => {
      server = await startServer({ dbFile, keyDir, adminPassword: ADMIN_PASSWORD, env: { CELLBATCH_DATABASE_URL: url } });
      for (let i = 0; i < 600; i++) {
        const health = await api(server.base, null, 'GET', '/healthz');
        if (health.body?.integrity !== 'pending') {
          expect(health.body?.integrity, JSON.stringify(health.body)).toBe('verified');
          break;
        }
        await delay(50); // polling the server's own progress, as server-process.ts polls /healthz
      }
      return server;
    };
    const expectStatus = (what: string, r: { status: number; body: unknown }, status: number) => {
      if (r.status !== status) throw new Error(`${what}: expected ${status}, got ${r.status} ${JSON.stringify(r.body)}`);
    };
    const query = <T>(sql: string, values: unknown[] = []) => admin(url, async (c) => (await c.query(sql, values)).rows as T[]);

    let s = await start();
    const adminLogin = await api(s.base, null, 'POST', '/api/v1/auth/login', { username: 'admin', password: ADMIN_PASSWORD });
    expectStatus('admin login', adminLogin, 200);
    const adminToken: string = adminLogin.body.token;
    const operators: { username: string; password: string; token: string }[] = [];
    for (const username of OPERATORS) {
      expectStatus(`create ${username}`, await api(s.base, adminToken, 'POST', '/api/v1/users', { username, fullName: `Crash ${username.toUpperCase()}`, roles: ['operator'], password: TEMPORARY_PASSWORD }), 201);
      const login = await api(s.base, null, 'POST', '/api/v1/auth/login', { username, password: TEMPORARY_PASSWORD });
      const password = `Crash-${username}-Password-9`;
      expectStatus(`${username} password change`, await api(s.base, login.body.token, 'POST', '/api/v1/me/password', { currentPassword: TEMPORARY_PASSWORD, newPassword: password }), 204);
      operators.push({ username, password, token: login.body.token });
    }

    let nextSeq = 1;
    const ready: { batchId: string; seq: number }[] = [];
    const ackedBatches = new Map<string, { seq: number; createdEntryId: string }>();
    const ackedSteps = new Map<string, { batchId: string; signer: string }>();
    let committedUnacked = 0;
    const createBody = (seq: number) => ({ processId: 'car-t', din: din(seq).keyed, patient: { id: `PT-CRASH-${seq}`, weightKg: 70 } });

    const checkRecord = async (label: string, unackedSteps: { batchId: string; seq: number }[], unackedCreates: number[]) => {
      const problems: string[] = [];
      for (const [batchId, b] of ackedBatches) {
        const [e] = await query<{ batch_id: string; kind: string }>('select batch_id, kind from entries where id = $1', [b.createdEntryId]);
        if (e?.batch_id !== batchId || e.kind !== 'batch-created') problems.push(`acknowledged batch ${batchId} is missing`);
      }
      for (const [entryId, st] of ackedSteps) {
        const rows = await query<{ n: number }>(`select count(*)::int as n from entries e join signatures s on s.entry_id = e.id and s.entry_hash = e.hash
          where e.id = $1 and e.batch_id = $2 and e.step_id = $3 and s.meaning = 'performed' and s.username = $4`, [entryId, st.batchId, STEP, st.signer]);
        if (rows[0].n !== 1) problems.push(`acknowledged step ${entryId} of batch ${st.batchId} is missing or unsigned`);
      }
      const orphans: [string, string][] = [
        ['a step entry without its performed signature', `select e.id from entries e where e.step_id is not null and not exists
          (select 1 from signatures s where s.entry_id = e.id and s.meaning = 'performed' and s.entry_hash = e.hash)`],
        ['a step entry without its step.recorded audit row', `select e.id from entries e where e.kind = 'step' and not exists
          (select 1 from audit_log a where a.action = 'step.recorded' and a.entity_id = e.id)`],
        ['a batch row without its creation entry', `select b.id from batches b where not exists
          (select 1 from entries e where e.batch_id = b.id and e.batch_seq = 1 and e.kind = 'batch-created')`],
        ['an entry without its batch row', 'select e.id from entries e where not exists (select 1 from batches b where b.id = e.batch_id)'],
        ['a gap in a batch\'s entry sequence', 'select batch_id as id from entries group by batch_id having count(*) <> max(batch_seq)'],
        ['a batch with two apheresis receipts', `select batch_id as id from entries where step_id = '${STEP}' group by batch_id having count(*) > 1`],
        ['a batch row whose version is not its entry count', 'select b.id from batches b where b.version <> (select count(*) from entries e where e.batch_id = b.id)'],
      ];
      for (const [what, sql] of orphans) {
        const rows = await query<{ id: string }>(sql);
        if (rows.length) problems.push(`${what}: ${rows.slice(0, 5).map((r) => r.id).join(', ')}`);
      }
      for (const b of unackedSteps) {
        const [{ n }] = await query<{ n: number }>('select count(*)::int as n from entries where batch_id = $1', [b.batchId]);
        if (n === 1) ready.push(b);
        else if (n === 2) committedUnacked++;
        else problems.push(`in-flight step on batch ${b.batchId} left ${n} entries`);
      }
      for (const seq of unackedCreates) {
        const [row] = await query<{ id: string }>('select id from batches where din = $1', [din(seq).din]);
        if (row) { committedUnacked++; ready.push({ batchId: row.id, seq }); }
      }
      const store = await openPostgresStore(url, { poolSize: 2 });
      try {
        const log = new CheckpointLog(`${dbFile}.checkpoints.jsonl`, undefined, path.join(keyDir, 'checkpoint-latest.json'));
        const checkpoints = log.read();
        const logProblem = checkCheckpointLog(checkpoints, publicKeysIn(keyDir), log.mark());
        if (logProblem) problems.push(`checkpoint log: ${logProblem}`);
        const report = await store.verifyChains(checkpoints);
        if (!report.valid) problems.push(`the chains do not verify: ${JSON.stringify(report)}`);
      } finally {
        await store.close();
      }
      expect(problems, `${label}:\n${problems.join('\n')}`).toEqual([]);
    };

    for (let round = 1; round <= ROUNDS; round++) {
      if (!s.alive()) s = await start();
      const base = s.base;
      while (ready.length < CONCURRENCY) {
        const seq = nextSeq++;
        const r = await api(base, operators[0].token, 'POST', '/api/v1/batches', createBody(seq));
        expectStatus('create batch', r, 201);
        ackedBatches.set(r.body.id, { seq, createdEntryId: r.body.entries[0].id });
        ready.push({ batchId: r.body.id, seq });
      }
      const clock = await api(base, adminToken, 'POST', '/api/v1/training/clock', { advanceHours: 0 });
      expectStatus('read the training clock', clock, 200);
      const now = Date.parse(clock.body.now);
      const values = (seq: number) => ({ bagScan: din(seq).keyed, collectionEnd: new Date(now - 10 * HOUR).toISOString(), receivedAt: new Date(now - HOUR).toISOString(), transportTemperature: 5, volume: 150 });
      let killed = false;
      const unexpected: string[] = [];
      const unackedSteps: { batchId: string; seq: number }[] = [];
      const unackedCreates: number[] = [];
      const worker = async (w: number) => {
        const op = operators[w % operators.length];
        while (!killed) {
          if (ready.length > 0 && loadRng() < 0.6) {
            const b = ready.shift()!;
            try {
              const r = await api(base, op.token, 'POST', `/api/v1/batches/${b.batchId}/steps/${STEP}`, { values: values(b.seq), signature: { username: op.username, password: op.password }, expectedVersion: 1 });
              if (r.status === 201 && typeof r.body?.entry?.id === 'string') ackedSteps.set(r.body.entry.id, { batchId: b.batchId, signer: op.username });
              else if (killed) unackedSteps.push(b);
              else unexpected.push(`step on ${b.batchId}: ${r.status} ${JSON.stringify(r.body)}`);
            } catch (e) {
              if (!killed) unexpected.push(`step on ${b.batchId} failed before the kill: ${String(e)}`);
              unackedSteps.push(b);
            }
          } else {
            const seq = nextSeq++;
            try {
              const r = await api(base, op.token, 'POST', '/api/v1/batches', createBody(seq));
              if (r.status === 201 && typeof r.body?.entries?.[0]?.id === 'string') {
                ackedBatches.set(r.body.id, { seq, createdEntryId: r.body.entries[0].id });
                ready.push({ batchId: r.body.id, seq });
              } else if (killed) unackedCreates.push(seq);
              else unexpected.push(`create DIN ${din(seq).din}: ${r.status} ${JSON.stringify(r.body)}`);
            } catch (e) {
              if (!killed) unexpected.push(`create DIN ${din(seq).din} failed before the kill: ${String(e)}`);
              unackedCreates.push(seq);
            }
          }
        }
      };
      const killAfter = 500 + Math.floor(killRng() * 1500);
      const workers = Array.from({ length: CONCURRENCY }, (_, w) => worker(w));
      await delay(killAfter); // the random moment of the kill, with CONCURRENCY requests in flight
      killed = true;
      s.kill('SIGKILL');
      const exit = await s.exited;
      await Promise.all(workers);
      expect(exit.signal, s.output()).toBe('SIGKILL');
      expect(unexpected, `round ${round}:\n${unexpected.join('\n')}`).toEqual([]);
      await checkRecord(`round ${round}`, unackedSteps, unackedCreates);
    }
    s = await start();
    const verify = await api(s.base, adminToken, 'GET', '/api/v1/audit/verify');
    expect(verify.body.valid, JSON.stringify(verify.body)).toBe(true);
    console.log(`crash-safety on PostgreSQL: seed ${SEED}; ${ROUNDS} kills; acknowledged ${ackedBatches.size} creations and ${ackedSteps.size} signed steps; in flight and committed unacknowledged ${committedUnacked}`);
    expect(ackedSteps.size).toBeGreaterThan(0);
  });
});
