// Crash safety on PostgreSQL (issue 15; DESIGN.md "Non-negotiables": an acknowledged step survives), the
// counterpart of crash-safety.test.ts: a REAL app server (node --import tsx server/main.ts with
// CELLBATCH_DATABASE_URL) receives concurrent signed steps and batch creations and is killed with
// SIGKILL right after a random number (1–8) of acknowledged writes, the other requests in flight, round
// after round (CRASH_ROUNDS, default 6; CRASH_SEED): every round has writes that must survive. After each kill,
// read straight from PostgreSQL: every acknowledged batch and step is there (the step with its
// "performed" signature), nothing is half-written, what was in flight committed whole or not at all,
// and every chain verifies against the server's signed checkpoints. The load, the kill and the
// half-written rows are crash-safety.test.ts's own (rounds.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { readMark, publicKeysIn, checkCheckpointLog } from '../../server/store/checkpoints.js';
import { openPostgresStore } from '../../server/store/postgres/store.js';
import { din } from '../helpers.js';
import { owner } from '../owner.js';
import { admin, createTestDatabase } from '../pg.js';
import { ADMIN_PASSWORD, fillReady, halfWritten, killedUnderLoad, startLoad, STEP, type ReadyBatch } from './rounds.js';
import { api, prng, startServer, type ServerProcess } from './server-process.js';

const SEED = Number(process.env.CRASH_SEED ?? 20260302) >>> 0;
const ROUNDS = Math.max(1, Number(process.env.CRASH_ROUNDS ?? 6));

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
    const query = <T>(sql: string, values: unknown[] = []) => admin(url, async (c) => (await c.query(sql, values)).rows as T[]);

    let s = await start();
    const load = await startLoad(s.base);
    const { ready, ackedBatches, ackedSteps } = load;
    let committedUnacked = 0;

    const checkRecord = async (label: string, unackedSteps: ReadyBatch[], unackedCreates: number[]) => {
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
      problems.push(...await halfWritten(owner({ dbFile, databaseUrl: url })));
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
        const checkpoints = await store.checkpoints();
        const logProblem = checkCheckpointLog(checkpoints, publicKeysIn(keyDir), readMark(path.join(keyDir, 'checkpoint-latest.json')));
        if (logProblem) problems.push(`checkpoints: ${logProblem}`);
        const report = await store.verifyChains(checkpoints);
        if (!report.valid) problems.push(`the chains do not verify: ${JSON.stringify(report)}`);
      } finally {
        await store.close();
      }
      expect(problems, `${label}:\n${problems.join('\n')}`).toEqual([]);
    };

    for (let round = 1; round <= ROUNDS; round++) {
      if (!s.alive()) s = await start();
      await fillReady(s.base, load, round);
      const killAfterAcks = 1 + Math.floor(killRng() * 8);
      const { exit, unexpected, unackedSteps, unackedCreates, acknowledged } = await killedUnderLoad(s, load, round, killAfterAcks, loadRng);
      expect(exit.signal, s.output()).toBe('SIGKILL');
      expect(unexpected, `round ${round}:\n${unexpected.join('\n')}`).toEqual([]);
      expect(acknowledged.batches.length + acknowledged.steps.length, `round ${round}: acknowledged writes before the kill`).toBeGreaterThanOrEqual(killAfterAcks);
      await checkRecord(`round ${round}`, unackedSteps, unackedCreates);
    }
    s = await start();
    const verify = await api(s.base, load.adminToken, 'GET', '/api/v1/audit/verify');
    expect(verify.body.valid, JSON.stringify(verify.body)).toBe(true);
    console.log(`crash-safety on PostgreSQL: seed ${SEED}; ${ROUNDS} kills; acknowledged ${ackedBatches.size} creations and ${ackedSteps.size} signed steps; in flight and committed unacknowledged ${committedUnacked}`);
    expect(ackedSteps.size).toBeGreaterThan(0);
  }, 300_000); // each round starts a real app server and waits for its verification: ~10 s a round on a loaded 2-core machine, past vitest's 60 s default at 6 rounds
});
