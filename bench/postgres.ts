// Benchmark 6: PostgreSQL (issue 15) — signed steps with 2 app servers on one PostgreSQL database,
// beside one SQLite server, in the same run; and the reads of benchmark 2 at 10,000 batches on
// PostgreSQL against 100.
//
// PostgreSQL is the one on 127.0.0.1:5432 if it answers (as $PGUSER), else a throwaway cluster made by
// scripts/pg-test-cluster.mjs with fsync ON (CELLBATCH_PG_FSYNC=on: an acknowledged step is on disk, as
// with SQLite's synchronous=FULL), stopped and removed afterwards. Each figure gets a database of its own.
//
// Signed steps: the same load as benchmark 1 (each client its own operator, "apheresis-receipt" on a
// fresh CAR-T batch, signed with the password re-entered: argon2id). Each round waits for the other
// processes to leave the CPUs, then measures, one after the other: raw argon2id (N verifications in
// parallel in this process, same UV_THREADPOOL_SIZE), the SQLite server with N clients, and the two
// PostgreSQL app servers with N/2 clients each at once (the order of the last two alternates between
// rounds). Both ratios are against that round's raw rate; the verdict is the round with the median ratio.
// The two servers share the CPUs with PostgreSQL itself: on 2 cores the three compete for them.
//
// Reads: two PostgreSQL databases seeded by bench/seed.ts (default 10,000 and 100 batches of 20 entries),
// a deviation opened through the product's command on every 10th batch (--deviation-every N, as benchmark
// 2 does: the seed has none, and /deviations and QA's pending work would list nothing), then benchmark
// 2's measurement (bench/read-latency.ts): GET /batches/{id}, /batches?limit=50, /deviations?limit=50,
// /me/pending?limit=50, p50 large ÷ p50 small (≤ 1.5) and each list ≤ 50 ms.
//
//   node --env-file=server/node.env --import tsx bench/postgres.ts [--only-pg steps,read] [--clients 20]
//     [--steps 200] [--rounds 3] [--pg-batches 10000] [--pg-entries-per-batch 20] [--deviation-every 10] [--keep]
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { openStore } from '../server/store/open.js';
import { openSqliteStore } from '../server/store/sqlite/store.js';
import type { Role } from '../workflows/definition.js';
import { seedDatabase } from './seed.js';
import { openSeedDeviations, runReadLatency } from './read-latency.js';
import { rawArgon2 } from './signed-steps.js';
import {
  assertAll, createUsers, din, fmt, heading, http, isMain, load, login, medianRound, ms, note, noteDisturbed, numberOption,
  parseArgs, PASSWORD, pct, percentile, recordAfterLoad, ROOT, runAlone, ServerProcess, tempDir, UV_THREADPOOL_SIZE, verdict,
  waitForQuiet, watchCpu, type LoadResult, type Verdict,
} from './lib.js';

export interface PostgresOptions {
  parts: ('steps' | 'read')[];
  clients: number; steps: number; rounds: number;
  batches: number; smallBatches: number; entriesPerBatch: number; deviationEvery: number;
  idRequests: number; listRequests: number;
  keep?: boolean;
}

const HOUR = 3_600_000;
const CLUSTER = path.join(ROOT, 'scripts', 'pg-test-cluster.mjs');

/** A PostgreSQL server for the benchmark: its URL (as a superuser) and the throwaway cluster's folder, if one was made. */
function startCluster(): { url: string; dir?: string } {
  const r = spawnSync(process.execPath, [CLUSTER, 'start'], { env: { ...process.env, CELLBATCH_PG_FSYNC: 'on' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`scripts/pg-test-cluster.mjs start failed (${r.status})`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { url: string; dir?: string };
}

function stopCluster(dir: string | undefined) {
  if (dir) spawnSync(process.execPath, [CLUSTER, 'stop', dir], { stdio: 'inherit' });
}

/** A new database on the server, and a function that drops it. */
async function newDatabase(server: string, what: string) {
  const name = `cellbatch_bench_${what}_${randomBytes(4).toString('hex')}`;
  const admin = async (q: string) => {
    const c = new pg.Client({ connectionString: server });
    await c.connect();
    try { await c.query(q); } finally { await c.end(); }
  };
  await admin(`create database ${name}`);
  const u = new URL(server);
  u.pathname = `/${name}`;
  return { url: u.toString(), drop: () => admin(`drop database if exists ${name} with (force)`) };
}

interface Target { name: string; servers: ServerProcess[]; tokens: string[]; batches: { id: string; keyed: string; version: number }[] }

/** Fresh CAR-T batches, created over HTTP four at a time (through the target's first server). */
async function createBatches(t: Target, n: number, first: number) {
  for (let i = 0; i < n; i += 4) {
    t.batches.push(...await Promise.all(Array.from({ length: Math.min(4, n - i) }, async (_, k) => {
      const d = din(first + i + k + 1);
      const r = await http(t.servers[0].url, 'POST', '/batches', t.tokens[(i + k) % t.tokens.length], { processId: 'car-t', din: d.keyed, patient: { id: `PT-${first + i + k + 1}`, weightKg: 70 } });
      if (r.status !== 201) throw new Error(`create batch on ${t.name}: ${r.status} ${JSON.stringify(r.body)}`);
      return { id: r.body.id as string, keyed: d.keyed, version: r.body.version as number };
    })));
  }
}

/** `total` signed steps by `clients` clients spread evenly over the target's servers, all at once: responses ÷ the longest run. */
async function signedSteps(t: Target, operators: string[], clients: number, total: number) {
  const per = t.servers.length;
  const runs = await Promise.all(t.servers.map((server, s) => {
    const mine = Array.from({ length: clients }, (_, c) => c).filter((c) => c % per === s);
    const amount = Math.floor(total / per) + (s < total % per ? 1 : 0);
    return load(server.url, mine.length, amount, (i) => {
      const client = mine[i];
      const b = t.batches.shift();
      if (!b) throw new Error(`ran out of batches on ${t.name}`);
      const now = Date.now();
      return {
        method: 'POST',
        path: `/api/v1/batches/${b.id}/steps/apheresis-receipt`,
        headers: { authorization: `Bearer ${t.tokens[client]}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          values: { bagScan: b.keyed, collectionEnd: new Date(now - 20 * HOUR).toISOString(), receivedAt: new Date(now - HOUR / 2).toISOString(), transportTemperature: 4, volume: 220 },
          signature: { username: operators[client], password: PASSWORD },
          expectedVersion: b.version,
        }),
      };
    });
  }));
  runs.forEach((r, i) => assertAll(r, 201, `${t.name}, server ${i + 1}`));
  const latencies = runs.flatMap((r: LoadResult) => r.latencies);
  return { rate: latencies.length / Math.max(...runs.map((r) => r.seconds)), latencies };
}

async function stepsBenchmark(server: string, o: PostgresOptions): Promise<Verdict[]> {
  heading(`Benchmark 6a: signed steps, ${o.clients} clients — one SQLite server vs 2 app servers on one PostgreSQL`);
  const dir = tempDir('pg-steps');
  const db = await newDatabase(server, 'steps');
  const operators = Array.from({ length: o.clients }, (_, i) => `op${String(i + 1).padStart(2, '0')}`);
  const users: [string, Role[]][] = [['admin', ['admin']], ...operators.map((u): [string, Role[]] => [u, ['operator']])];
  const sqliteFile = path.join(dir, 'sqlite', 'cellbatch.db');
  const pgFile = path.join(dir, 'pg', 'cellbatch.db'); // where the PostgreSQL servers keep their signing key
  fs.mkdirSync(path.dirname(sqliteFile), { recursive: true });
  fs.mkdirSync(path.dirname(pgFile), { recursive: true });
  const all: ServerProcess[] = [];
  const verdicts: Verdict[] = [];
  try {
    await createUsers(sqliteFile, users);
    await createUsers(pgFile, users, db.url);
    const sqlite: Target = { name: 'SQLite, 1 server', servers: [await ServerProcess.start(sqliteFile)], tokens: [], batches: [] };
    all.push(...sqlite.servers);
    const postgres: Target = { name: 'PostgreSQL, 2 servers', servers: [], tokens: [], batches: [] };
    for (let i = 0; i < 2; i++) postgres.servers.push(await ServerProcess.start(pgFile, { databaseUrl: db.url }));
    all.push(...postgres.servers);
    const pids = () => all.map((s) => s.pid);
    for (const t of [sqlite, postgres]) {
      // Each client logs in on the server it will write through (sessions live in the database either way).
      t.tokens = await Promise.all(operators.map((u, c) => login(t.servers[c % t.servers.length].url, u)));
      const t0 = performance.now();
      await createBatches(t, 2 * o.clients + o.rounds * o.steps + 10, t === sqlite ? 0 : 100_000);
      console.log(`set-up, ${t.name}: ${fmt(t.batches.length)} CAR-T batches created over HTTP in ${fmt((performance.now() - t0) / 1000, 1)} s`);
      await signedSteps(t, operators, o.clients, 2 * o.clients); // warm-up: JIT, connections, the pool
    }
    const rounds: { raw: number; sqlite: number; postgres: number; other: number }[] = [];
    for (let round = 1; round <= o.rounds; round++) {
      await waitForQuiet(pids);
      const other = watchCpu(pids);
      const raw = await rawArgon2(o.clients, Math.max(40, Math.round(o.steps / 2)));
      const measured: Record<string, { rate: number; latencies: number[] }> = {};
      for (const t of round % 2 ? [sqlite, postgres] : [postgres, sqlite]) measured[t.name] = await signedSteps(t, operators, o.clients, o.steps);
      const r = { raw: raw.perSecond, sqlite: measured[sqlite.name].rate, postgres: measured[postgres.name].rate, other: other() };
      rounds.push(r);
      console.log(`round ${round}: raw argon2id ${fmt(r.raw, 1)}/s; SQLite 1 server ${fmt(r.sqlite, 1)} steps/s (ratio ${fmt(r.sqlite / r.raw, 2)}, p50 ${ms(percentile(measured[sqlite.name].latencies, 50))}); `
        + `PostgreSQL 2 servers ${fmt(r.postgres, 1)} steps/s (ratio ${fmt(r.postgres / r.raw, 2)}, p50 ${ms(percentile(measured[postgres.name].latencies, 50))}); other processes used ${pct(r.other)} of the CPUs`);
    }
    noteDisturbed(rounds);
    const s = medianRound(rounds, (r) => r.sqlite / r.raw);
    const p = medianRound(rounds, (r) => r.postgres / r.raw);
    verdicts.push(verdict(`signed steps, ${o.clients} clients, SQLite 1 server (same run as PostgreSQL)`, `${fmt(s.sqlite, 1)} steps/s`, `raw argon2id: ${fmt(s.raw, 1)}/s`, s.sqlite / s.raw, { min: 0.9 }));
    verdicts.push(verdict(`signed steps, ${o.clients} clients, PostgreSQL 2 app servers`, `${fmt(p.postgres, 1)} steps/s`, `raw argon2id: ${fmt(p.raw, 1)}/s`, p.postgres / p.raw, { min: 0.9 }));
    verdicts.push(note('PostgreSQL 2 servers ÷ SQLite 1 server', `PostgreSQL 2 servers ÷ SQLite 1 server, round by round: ${rounds.map((r) => fmt(r.postgres / r.sqlite, 2)).join(', ')}`));
  } finally {
    for (const s of all) await s.stop();
  }
  try {
    verdicts.push(await recordAfterLoad('record after the load, SQLite', openSqliteStore(sqliteFile)));
    verdicts.push(await recordAfterLoad('record after the load, PostgreSQL', await openStore(db.url)));
  } finally {
    await db.drop();
    if (!o.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
  return verdicts;
}

async function readBenchmark(server: string, o: PostgresOptions): Promise<Verdict[]> {
  heading(`Benchmark 6b: seeding PostgreSQL (bench/seed.ts): ${fmt(o.batches)} and ${fmt(o.smallBatches)} batches × ${fmt(o.entriesPerBatch)} entries`);
  const dir = tempDir('pg-read');
  const large = await newDatabase(server, 'large');
  const small = await newDatabase(server, 'small');
  try {
    const seed = (name: string, url: string, batches: number) => {
      fs.mkdirSync(path.join(dir, name), { recursive: true });
      return seedDatabase({ dbFile: path.join(dir, name, 'cellbatch.db'), databaseUrl: url, batches, entries: batches * o.entriesPerBatch });
    };
    const L = await seed('large', large.url, o.batches);
    const S = await seed('small', small.url, o.smallBatches);
    for (const s of [L, S]) {
      const t = performance.now();
      const n = await openSeedDeviations(s, o.deviationEvery);
      console.log(`  ${fmt(n)} deviations opened by hand through the command (every ${o.deviationEvery}th batch) in ${fmt((performance.now() - t) / 1000, 1)} s`);
    }
    return await runReadLatency(L, S, { idRequests: o.idRequests, listRequests: o.listRequests });
  } finally {
    await large.drop();
    await small.drop();
    if (!o.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function runPostgres(o: PostgresOptions): Promise<Verdict[]> {
  heading('Benchmark 6: PostgreSQL (2 app servers; reads at 10,000 batches)');
  let cluster: { url: string; dir?: string };
  try {
    cluster = startCluster();
  } catch (e) {
    return [note('PostgreSQL', `PostgreSQL benchmarks skipped: ${(e as Error).message}`)];
  }
  console.log(`PostgreSQL: ${cluster.dir ? `a throwaway cluster (fsync on) in ${cluster.dir}` : 'the server on 127.0.0.1:5432'}`);
  try {
    const verdicts: Verdict[] = [];
    if (o.parts.includes('steps')) verdicts.push(...await stepsBenchmark(cluster.url, o));
    if (o.parts.includes('read')) verdicts.push(...await readBenchmark(cluster.url, o));
    return verdicts;
  } finally {
    stopCluster(cluster.dir);
  }
}

export function postgresOptions(args = parseArgs()): PostgresOptions {
  return {
    parts: (args.values.get('only-pg')?.split(',') ?? ['steps', 'read']) as PostgresOptions['parts'],
    clients: numberOption(args, 'clients', 'BENCH_CLIENTS', 20),
    steps: numberOption(args, 'steps', 'BENCH_STEPS', 200),
    rounds: numberOption(args, 'rounds', 'BENCH_ROUNDS', 3),
    batches: numberOption(args, 'pg-batches', undefined, 10_000),
    smallBatches: numberOption(args, 'small-batches', undefined, 100),
    entriesPerBatch: numberOption(args, 'pg-entries-per-batch', undefined, 20),
    deviationEvery: numberOption(args, 'deviation-every', undefined, 10),
    idRequests: numberOption(args, 'id-requests', undefined, 100),
    listRequests: numberOption(args, 'list-requests', undefined, 10),
    keep: args.flags.has('keep'),
  };
}

if (isMain(import.meta.url)) await runAlone(() => runPostgres(postgresOptions()), { printVerdicts: true });
