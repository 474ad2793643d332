// Crash safety (DESIGN.md "Non-negotiables": an acknowledged step survives). A REAL server process
// (node --import tsx server/main.ts, WAL + synchronous=FULL) receives concurrent signed steps and batch
// creations and is killed with SIGKILL right after a random number (1–8) of acknowledged writes, with
// the other requests in flight, round after round (30+): every round has writes that must survive. After each kill:
//   - every acknowledged batch and step is there, the step with its "performed" signature;
//   - nothing unacknowledged is half-written (an entry without its signature or audit row, a batch row
//     without its creation entry, a gap in a batch's sequence);
//   - every chain verifies (at start-up and with `cellbatch verify`), SQLite's own check says ok,
//     and the signed checkpoint log can still be extended;
//   - every batch's cached projection equals its rebuild from the entries.
// The numbers of writes before each kill come from a seeded PRNG (CRASH_SEED; rounds: CRASH_ROUNDS) printed with the summary.
// The load, the kill and the half-written rows are shared with crash-safety.pg.test.ts (rounds.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createContext } from '../../server/app.js';
import { runCliAsync } from '../../server/cli.js';
import { rebuildProjection } from '../../server/services/projection.js';
import { checkpointHash } from '../../server/store/checkpoints.js';
import { din, sqliteOf } from '../helpers.js';
import { owner } from '../owner.js';
import { ADMIN_PASSWORD, expectStatus, fillReady, halfWritten, killedUnderLoad, startLoad, STEP, type AckedBatch, type AckedStep, type ReadyBatch } from './rounds.js';
import { api, prng, startServer, type ServerProcess } from './server-process.js';

const SEED = Number(process.env.CRASH_SEED ?? 20260302) >>> 0;
const ROUNDS = Math.max(1, Number(process.env.CRASH_ROUNDS ?? 32));
/** A round's kill comes right after this many acknowledged writes, drawn from 1 to KILL_MAX_ACKS. */
const KILL_MAX_ACKS = 8;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellbatch-crash-'));
const dbFile = path.join(dir, 'cellbatch.db');
const keyDir = path.join(dir, 'keys');
let server: ServerProcess | undefined;
let passed = false;

afterAll(async () => {
  if (server?.alive()) {
    server.kill('SIGKILL');
    await server.exited;
  }
  if (passed) fs.rmSync(dir, { recursive: true, force: true });
  else console.log(`crash-safety: the database and keys are kept for diagnosis in ${dir}`);
});

describe('crash safety under SIGKILL', () => {
  it(`keeps every acknowledged write and nothing half-written across ${ROUNDS} kills of a real server`, async () => {
    const t0 = performance.now();
    const killRng = prng(SEED);
    const loadRng = prng(SEED ^ 0x9e3779b9);
    const start = async () => {
      server = await startServer({ dbFile, keyDir, adminPassword: ADMIN_PASSWORD });
      return server;
    };

    // ─── setup (first start): operators with changed passwords, a few batches ────────────────────
    let s = await start();
    const load = await startLoad(s.base);
    const { ready, ackedBatches, ackedSteps } = load;
    const adminToken = load.adminToken;
    const operators = load.operators;
    const stats = { kills: 0, inFlightAtKill: 0, committedUnacked: 0, rolledBack: 0, startMs: [] as number[], checkMs: [] as number[] };
    await fillReady(s.base, load, 0);

    /** Through HTTP on a restarted server: the acknowledged batches and steps are served. */
    const checkServed = async (base: string, batches: AckedBatch[], steps: AckedStep[]) => {
      const problems: string[] = [];
      for (const b of batches) {
        const r = await api(base, operators[0].token, 'GET', `/api/v1/batches/${b.batchId}`);
        if (r.status !== 200) { problems.push(`acknowledged batch ${b.batchId} (round ${b.round}): GET ${r.status}`); continue; }
        if (r.body.batchNumber !== b.batchNumber || r.body.din !== din(b.seq).din) problems.push(`batch ${b.batchId}: served as ${r.body.batchNumber} ${r.body.din}`);
        if (r.body.entries?.[0]?.id !== b.createdEntryId) problems.push(`batch ${b.batchId}: its creation entry ${b.createdEntryId} is not the first entry served`);
      }
      for (const st of steps) {
        const r = await api(base, operators[0].token, 'GET', `/api/v1/batches/${st.batchId}`);
        const e = r.body?.entries?.find((x: { id: string }) => x.id === st.entryId);
        if (r.status !== 200 || !e) { problems.push(`acknowledged step ${st.entryId} of batch ${st.batchId} (round ${st.round}) is not served (GET ${r.status})`); continue; }
        if (e.stepId !== STEP || !e.signatures?.some((g: { meaning: string; username: string }) => g.meaning === 'performed' && g.username === st.signer)) {
          problems.push(`acknowledged step ${st.entryId}: served without its performed signature by ${st.signer}: ${JSON.stringify(e)}`);
        }
        if (r.body.version !== 2) problems.push(`batch ${st.batchId}: version ${r.body.version} after one acknowledged step`);
      }
      expect(problems, problems.join('\n')).toEqual([]);
    };

    /** In-process, with the server process dead: the record on disk. */
    const checkRecord = async (label: string, unackedSteps: ReadyBatch[], unackedCreates: number[]) => {
      const c0 = performance.now();
      const problems: string[] = [];
      const ctx = await createContext({ dbFile, training: true, keyDir });
      try {
        const { store } = ctx;
        const db = sqliteOf(store);
        const report = ctx.recordCheck.report;
        if (!report?.valid) problems.push(`the record does not verify at start: ${JSON.stringify(report)}`);
        const quick = db.pragma('quick_check', { simple: true });
        if (quick !== 'ok') problems.push(`sqlite quick_check: ${String(quick)}`);

        // Every acknowledged write is there.
        for (const b of ackedBatches.values()) {
          const row = await store.getBatch(b.batchId);
          if (!row) { problems.push(`acknowledged batch ${b.batchId} (round ${b.round}) is missing`); continue; }
          if (row.batchNumber !== b.batchNumber || row.din !== din(b.seq).din) problems.push(`batch ${b.batchId}: stored as ${row.batchNumber} ${row.din}`);
          const created = await store.getEntry(b.createdEntryId);
          if (created?.batchId !== b.batchId || created.kind !== 'batch-created') problems.push(`acknowledged creation entry ${b.createdEntryId} of batch ${b.batchId} is missing`);
        }
        for (const st of ackedSteps.values()) {
          const e = await store.getEntry(st.entryId);
          if (!e || e.batchId !== st.batchId || e.stepId !== STEP) { problems.push(`acknowledged step ${st.entryId} of batch ${st.batchId} (round ${st.round}) is missing: ${JSON.stringify(e)}`); continue; }
          if (!(await store.signaturesOf([e.id])).some((g) => g.meaning === 'performed' && g.entryHash === e.hash && g.username === st.signer)) {
            problems.push(`acknowledged step ${st.entryId} has no performed signature by ${st.signer}`);
          }
        }

        // Nothing is half-written (rounds.ts).
        problems.push(...await halfWritten(owner({ dbFile })));

        // Every projection equals its rebuild from the entries.
        for (const id of await store.allBatchIds()) {
          const r = (await rebuildProjection(ctx, id))!;
          if (JSON.stringify(r.cached) !== JSON.stringify(r.rebuilt)) problems.push(`batch ${id}: projection ${JSON.stringify(r.cached)} but rebuilt ${JSON.stringify(r.rebuilt)}`);
        }

        // The signed checkpoints agree with the mark beside the key: the server can still extend them.
        // (The table may be one checkpoint ahead of the mark after a kill between the commit and the mark.)
        const signer = ctx.integrity!.signer;
        const mark = signer.mark();
        const named = typeof mark === 'object' ? await ctx.store.checkpointNumbered(mark.n) : undefined;
        if (mark && (mark === 'unreadable' || !named || checkpointHash(named) !== mark.hash)) {
          problems.push(`the checkpoints disagree with the mark (${JSON.stringify(mark)}): no checkpoint can be signed any more`);
        }
        if (signer.damaged) problems.push(`the checkpoints are damaged: ${signer.damaged}`);

        // What was in flight at the kill: committed whole, or not at all. Uncommitted batches are reused.
        for (const b of unackedSteps) {
          const entries = await store.entriesOfBatch(b.batchId);
          if (entries.length === 1) { stats.rolledBack++; ready.push(b); }
          else if (entries.length === 2 && entries[1].stepId === STEP) stats.committedUnacked++;
          else problems.push(`in-flight step on batch ${b.batchId} left ${entries.length} entries: ${entries.map((e) => e.kind).join(', ')}`);
        }
        for (const seq of unackedCreates) {
          const row = await store.findActiveBatchByDin(din(seq).din);
          if (!row) { stats.rolledBack++; continue; }
          stats.committedUnacked++;
          const entries = await store.entriesOfBatch(row.id);
          if (entries.length === 1) ready.push({ batchId: row.id, seq });
          else problems.push(`in-flight creation of batch ${row.id} left ${entries.length} entries`);
        }
      } finally {
        await ctx.store.close();
      }
      const cli = await runCliAsync(['verify', '--db', dbFile, '--keys', keyDir]);
      if (cli.code !== 0) problems.push(`cellbatch verify exited ${cli.code}: ${cli.lines.join('\n')}`);
      stats.checkMs.push(performance.now() - c0);
      expect(problems, `${label}:\n${problems.join('\n')}`).toEqual([]);
    };

    // ─── rounds: load, SIGKILL, check, restart ─────────────────────────────────────────────────────
    let previous: { batches: AckedBatch[]; steps: AckedStep[] } = { batches: [...ackedBatches.values()], steps: [] };
    for (let round = 1; round <= ROUNDS; round++) {
      if (!s.alive()) {
        s = await start();
        stats.startMs.push(s.startMs);
        // After the restart, what the previous round acknowledged is served.
        await checkServed(s.base, previous.batches, previous.steps);
      }
      const killAfterAcks = 1 + Math.floor(killRng() * KILL_MAX_ACKS);
      const { exit, unexpected, unackedSteps, unackedCreates, acknowledged: thisRound, killedAfterMs } = await killedUnderLoad(s, load, round, killAfterAcks, loadRng);
      stats.kills++;
      expect(exit.signal, `round ${round}: the server exited with ${JSON.stringify(exit)}\n${s.output()}`).toBe('SIGKILL');
      expect(unexpected, `round ${round}: requests refused or failed before the kill:\n${unexpected.join('\n')}`).toEqual([]);
      stats.inFlightAtKill += unackedSteps.length + unackedCreates.length;
      const committedBefore = stats.committedUnacked;

      await checkRecord(`round ${round}`, unackedSteps, unackedCreates);
      expect(thisRound.batches.length + thisRound.steps.length, `round ${round}: acknowledged writes before the kill`).toBeGreaterThanOrEqual(killAfterAcks);
      console.log(`crash-safety round ${String(round).padStart(2)}: killed after ${killAfterAcks} acknowledged writes (${killedAfterMs} ms); acknowledged ${thisRound.batches.length} creations + ${thisRound.steps.length} steps; `
        + `in flight ${unackedSteps.length + unackedCreates.length} (committed ${stats.committedUnacked - committedBefore}); start ${s.startMs} ms`);
      previous = thisRound;
    }

    // ─── final: restart, everything acknowledged is served, graceful stop, verify once more ───────
    s = await start();
    stats.startMs.push(s.startMs);
    await checkServed(s.base, [...ackedBatches.values()], [...ackedSteps.values()]);
    const verify = await api(s.base, adminToken, 'GET', '/api/v1/audit/verify');
    expectStatus('GET /audit/verify', verify, 200);
    expect(verify.body.valid, JSON.stringify(verify.body)).toBe(true);
    s.kill('SIGTERM');
    const exit = await s.exited;
    expect(exit, s.output()).toEqual({ code: 0, signal: null });
    await checkRecord('after the final graceful stop', [], []);

    // The shutdown checkpoint covers the whole record.
    const ctx = await createContext({ dbFile, training: true, keyDir });
    let checkpoints = 0;
    let intervals = 0;
    let rows = 0;
    try {
      const all = await ctx.store.checkpoints();
      checkpoints = all.length;
      intervals = all.filter((c) => c.reason === 'interval').length;
      const heads = await ctx.store.heads();
      rows = heads.entries.seq + heads.signatures.seq + heads.audit_log.seq;
      expect(all[all.length - 1]?.reason).toBe('shutdown');
      expect(all[all.length - 1]?.heads).toEqual(heads);
    } finally {
      await ctx.store.close();
    }

    const acknowledged = ackedBatches.size + ackedSteps.size;
    const avg = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length));
    console.log(`crash-safety: seed ${SEED}; rounds ${ROUNDS}; kills ${stats.kills}; acknowledged writes ${acknowledged} `
      + `(${ackedBatches.size} batch creations, ${ackedSteps.size} signed steps); in flight at a kill ${stats.inFlightAtKill} `
      + `(committed unacknowledged ${stats.committedUnacked}, rolled back ${stats.rolledBack}); chain rows ${rows}, signed checkpoints ${checkpoints} (${intervals} interval); `
      + `mean start ${avg(stats.startMs)} ms, mean check ${avg(stats.checkMs)} ms; total ${Math.round((performance.now() - t0) / 1000)} s; all checks passed`);
    expect(stats.kills).toBeGreaterThanOrEqual(Math.min(30, ROUNDS));
    expect(ackedSteps.size).toBeGreaterThan(0);
    passed = true;
  }, 480_000);
});
