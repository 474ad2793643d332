// Shared pieces of the benchmarks: command-line options, figures and verdict lines, the server in its
// own process (bench/server.ts, so that its RSS is the server's alone), and a small HTTP client for
// setting things up. Nothing here is product code; the benchmarks never change the product.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon, { type RequestSpec } from 'autocannon';
import { createContext } from '../server/app.js';
import { createUser } from '../server/services/accounts.js';
import { checkCharacter } from '../server/domain/isbt128.js';
import type { Role } from '../workflows/definition.js';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.dirname(BENCH_DIR);
/** The password of every benchmark user (meets the password policy). */
export const PASSWORD = 'Bench-Password-2026!';

/**
 * libuv's threadpool size, the same for the server and the raw baselines (argon2 runs on it): the
 * environment's, else the product's default from server/node.env. `npm run bench` starts node with that
 * file, so that this process's own pool (the baselines') has the same size; a benchmark started
 * otherwise warns when the two may differ.
 */
export const UV_THREADPOOL_SIZE = process.env.UV_THREADPOOL_SIZE
  ?? /^UV_THREADPOOL_SIZE=(\d+)/m.exec(fs.readFileSync(path.join(ROOT, 'server', 'node.env'), 'utf8'))?.[1] ?? '4';
export const POOL_SIZE_WARNING = process.env.UV_THREADPOOL_SIZE === undefined
  ? `warning: this process's thread pool has libuv's default size (4), the server's ${UV_THREADPOOL_SIZE}: run through \`npm run bench\`, or set UV_THREADPOOL_SIZE`
  : null;

/** True when the module is the script node was started with (not imported by bench/run.ts). */
export const isMain = (metaUrl: string) => !!process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === metaUrl;

// ─── options ────────────────────────────────────────────────────────────────

export interface Args { flags: Set<string>; values: Map<string, string> }

export function parseArgs(argv = process.argv.slice(2)): Args {
  const flags = new Set<string>();
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const [k, v] = a.slice(2).split('=', 2);
    if (v !== undefined) values.set(k, v);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) values.set(k, argv[++i]);
    else flags.add(k);
  }
  return { flags, values };
}

export function numberOption(args: Args, name: string, env: string | undefined, fallback: number): number {
  const raw = args.values.get(name) ?? (env ? process.env[env] : undefined);
  if (raw === undefined) return fallback;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, not ${raw}`);
  return n;
}

export interface Scale { batches: number; entries: number; full: boolean }

/** 10,000 batches × 5,000,000 entries with --full; otherwise 1,000 × 200,000 (or --batches / --entries). */
export function scaleOf(args: Args): Scale {
  const full = args.flags.has('full') || process.env.BENCH_FULL === '1';
  const batches = numberOption(args, 'batches', 'BENCH_BATCHES', full ? 10_000 : 1_000);
  const entries = numberOption(args, 'entries', 'BENCH_ENTRIES', full ? 5_000_000 : 200_000);
  return { batches, entries, full };
}

// ─── figures ────────────────────────────────────────────────────────────────

export interface Verdict { name: string; line: string; pass: boolean | null }

export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
export const ms = (n: number) => `${fmt(n, n < 10 ? 2 : 1)} ms`;
export const mb = (bytes: number) => `${fmt(bytes / 1024 / 1024, 1)} MB`;

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** Prints and returns one verdict line: "<what>: <figure>; <baseline>; ratio r (target ...) PASS|MISS". */
export function verdict(name: string, figure: string, baseline: string, ratio: number, target: { max?: number; min?: number }): Verdict {
  const pass = (target.min === undefined || ratio >= target.min) && (target.max === undefined || ratio <= target.max);
  const t = target.min !== undefined ? `target ≥ ${target.min}` : `target ≤ ${target.max}`;
  const line = `${name}: ${figure}; ${baseline}; ratio ${fmt(ratio, 2)} (${t}) ${pass ? 'PASS' : 'MISS'}`;
  console.log(line);
  return { name, line, pass };
}

export function note(name: string, line: string): Verdict {
  console.log(line);
  return { name, line, pass: null };
}

export function heading(title: string) {
  console.log(`\n── ${title} ${'─'.repeat(Math.max(0, 72 - title.length))}`);
}

export function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? 'cpu'}, ${mb(os.totalmem())} RAM, Node ${process.version}, UV_THREADPOOL_SIZE=${UV_THREADPOOL_SIZE}`;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(process.env.BENCH_TMPDIR ?? os.tmpdir(), `cellbatch-bench-${prefix}-`));
}

export const sleep = (msec: number) => new Promise((r) => setTimeout(r, msec));

// ─── other load on the machine ──────────────────────────────────────────────

function procTicks(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]); // utime stime cutime cstime
  } catch {
    return 0;
  }
}

function machineTicks(): { total: number; busy: number } {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { total, busy: total - f[3] - f[4] };
  } catch {
    return { total: 0, busy: 0 };
  }
}

/**
 * Starts watching the CPUs: the returned function gives the share of the machine's CPU time that
 * processes other than ours (this one and `pids`) used meanwhile. Other engineers' tests and type
 * checks on the same 2 cores slow a run down; a high share says the figure is pessimistic (Linux only).
 */
export function watchCpu(pids: () => number[]): () => number {
  const ours = () => procTicks(process.pid) + pids().reduce((a, p) => a + procTicks(p), 0);
  const m0 = machineTicks();
  const o0 = ours();
  return () => {
    const m1 = machineTicks();
    const total = m1.total - m0.total;
    if (total <= 0) return 0;
    return Math.max(0, (m1.busy - m0.busy - (ours() - o0)) / total);
  };
}

/** Other processes' CPU share above which a measurement counts as disturbed. */
export const DISTURBED = 0.15;

/**
 * Waits (up to `maxWaitMs`, default 2 minutes; BENCH_QUIET_WAIT_S overrides) until other processes
 * use less than DISTURBED of the CPUs over 2 s, so that a measurement does not start in the middle of
 * someone else's test run. Returns false when the machine never went quiet.
 */
export async function waitForQuiet(pids: () => number[], maxWaitMs = Number(process.env.BENCH_QUIET_WAIT_S ?? 120) * 1000): Promise<boolean> {
  const until = performance.now() + maxWaitMs;
  let announced = false;
  for (;;) {
    const other = watchCpu(pids);
    await sleep(2000);
    const share = other();
    if (share < DISTURBED) return true;
    if (performance.now() > until) {
      console.log(`  (other processes still use ${pct(share)} of the CPUs; measuring anyway)`);
      return false;
    }
    if (!announced) console.log(`  (waiting for other processes to leave the CPUs: they use ${pct(share)})`);
    announced = true;
  }
}

/** Starts watching one process: the returned function gives its share of the machine's CPU time meanwhile. */
export function watchProcessCpu(pid: number): () => number {
  const m0 = machineTicks().total;
  const p0 = procTicks(pid);
  return () => {
    const total = machineTicks().total - m0;
    return total > 0 ? (procTicks(pid) - p0) / total : 0;
  };
}

export const pct = (share: number) => `${fmt(share * 100)} %`;

// ─── verdicts over rounds ───────────────────────────────────────────────────

/**
 * The round with the median ratio among those other processes left alone (share of the CPUs below
 * DISTURBED), or among all rounds when none was: each round's ratio is against its own baseline.
 */
export function medianRound<T extends { other: number }>(rounds: T[], ratio: (r: T) => number): T {
  const quiet = rounds.filter((r) => r.other < DISTURBED);
  const xs = [...(quiet.length ? quiet : rounds)].sort((a, b) => ratio(a) - ratio(b));
  return xs[Math.floor((xs.length - 1) / 2)];
}

/** Says how many rounds were disturbed by other processes and so left out of the verdicts (nothing when none was). */
export function noteDisturbed(rounds: { other: number }[], otherShare?: number) {
  const disturbed = rounds.filter((r) => r.other >= DISTURBED).length;
  if (!disturbed) return;
  console.log(`note: ${otherShare === undefined ? '' : `other processes used ${pct(otherShare)} of the CPUs during this benchmark; `}${disturbed} of ${rounds.length} rounds were disturbed by other processes (≥ ${pct(DISTURBED)} of the CPUs) and are left out of the verdict unless all were`);
}

/** The record a benchmark's load wrote must still verify: a note with its chained rows and the outcome. */
export async function recordAfterLoad(label: string, store: { verifyChains(): Promise<{ checked: number; valid: boolean; firstInvalid?: unknown }>; close(): Promise<void> }): Promise<Verdict> {
  try {
    const report = await store.verifyChains();
    return note(label, `${label}: ${fmt(report.checked)} chained rows, chains ${report.valid ? 'valid' : `INVALID at ${JSON.stringify(report.firstInvalid)}`}`);
  } finally {
    await store.close();
  }
}

/**
 * A benchmark started on its own (not by bench/run.ts): the thread pool's size (and the warning when it
 * may differ from the server's), its verdicts, repeated at the end with `printVerdicts`, and exit status
 * 1 on a missed target with --strict.
 */
export async function runAlone(run: () => Promise<Verdict[]>, o: { printVerdicts?: boolean } = {}) {
  console.log(`UV_THREADPOOL_SIZE=${UV_THREADPOOL_SIZE}`);
  if (POOL_SIZE_WARNING) console.log(POOL_SIZE_WARNING);
  const verdicts = await run();
  if (o.printVerdicts) {
    console.log('');
    for (const v of verdicts) console.log(v.line);
  }
  if (parseArgs().flags.has('strict') && verdicts.some((v) => v.pass === false)) process.exitCode = 1;
}

// ─── fixtures ───────────────────────────────────────────────────────────────

/** A valid DIN (facility W1234, year 26) for a sequence number: 13 characters, check, keyed form. */
export function din(sequence: number) {
  const d = `W123426${String(sequence).padStart(6, '0')}`;
  const check = checkCharacter(d);
  return { din: d, check, keyed: d + check };
}

/** Creates users directly through the accounts service (no temporary passwords) on a fresh database. */
export async function createUsers(dbFile: string, users: [string, Role[]][], databaseUrl?: string) {
  const ctx = await createContext({ dbFile, databaseUrl, training: true });
  try {
    for (const [username, roles] of users) {
      await createUser(ctx, null, { username, fullName: `Bench ${username.toUpperCase()}`, roles, password: PASSWORD }, false);
    }
  } finally {
    await ctx.store.close();
  }
}

// ─── the server, in its own process ─────────────────────────────────────────

let compiled = false;

/** dist/ as `npm start` builds it, plus bench/server.ts beside it (dist/bench/server.js imports ../server/app.js). */
function compileServer() {
  if (compiled) return;
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs'), path.join('bench', 'server.ts')], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('scripts/build.mjs failed');
  compiled = true;
}

export interface MemoryReport { rss: number; rssAfterGc: number; heapUsed: number; peakRss: number }

export class ServerProcess {
  /** `startupMs`: until it listens; `verifiedMs`: until the record is verified in full (in the background). */
  private constructor(private readonly child: ChildProcess, readonly url: string, readonly startupMs: number, readonly verifiedMs: number) {}

  /**
   * Starts bench/server.ts (buildApp + listen on a free port, like server/main.ts) in training mode,
   * on the SQLite file or, with `databaseUrl`, on PostgreSQL (the file then only places the key folder),
   * compiled to JavaScript first as `npm start` runs the service (scripts/build.mjs).
   */
  static async start(dbFile: string, opts: { adminPassword?: string; startupTimeoutMs?: number; databaseUrl?: string } = {}): Promise<ServerProcess> {
    compileServer();
    // BENCH_SERVER_NODE_OPTIONS adds node flags to the server only (e.g. --cpu-prof to profile it).
    const extra = (process.env.BENCH_SERVER_NODE_OPTIONS ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...extra, '--expose-gc', path.join(ROOT, 'dist', 'bench', 'server.js')], {
      cwd: ROOT,
      env: {
        ...process.env, CELLBATCH_DB: dbFile, CELLBATCH_DATABASE_URL: opts.databaseUrl ?? '', CELLBATCH_TRAINING: '1', CELLBATCH_LOG: '0', UV_THREADPOOL_SIZE,
        ...(opts.adminPassword && { CELLBATCH_ADMIN_PASSWORD: opts.adminPassword }),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const ready = await new Promise<{ port: number; startupMs: number; verifiedMs: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the server did not start in time')), opts.startupTimeoutMs ?? 30 * 60_000);
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the server exited with code ${code} before listening`)); });
      child.on('message', (m: { type: string; port: number; startupMs: number; verifiedMs: number }) => {
        if (m.type === 'ready') { clearTimeout(timer); resolve(m); }
      });
    });
    child.removeAllListeners('exit');
    return new ServerProcess(child, `http://127.0.0.1:${ready.port}`, ready.startupMs, ready.verifiedMs);
  }

  get pid() { return this.child.pid!; }

  /** The server's own memory: RSS now, RSS after a full GC, heap, and the peak RSS of the process. */
  memory(): Promise<MemoryReport> {
    return new Promise((resolve) => {
      const onMessage = (m: { type: string } & MemoryReport) => {
        if (m.type !== 'memory') return;
        this.child.off('message', onMessage);
        resolve(m);
      };
      this.child.on('message', onMessage);
      this.child.send({ type: 'memory' });
    });
  }

  /** How long the server's main thread has been busy since it started, in ms: its event loop's active (wall) time, and its CPU time. */
  mainThread(): Promise<{ activeMs: number; cpuMs: number }> {
    return this.ask({ type: 'event-loop' }, 'event-loop');
  }

  /** Starts a CPU profile of the server's main thread (node:inspector); `stopProfile` writes it to `file`. */
  startProfile(): Promise<unknown> {
    return this.ask({ type: 'profile-start' }, 'profile-started');
  }

  stopProfile(file: string): Promise<unknown> {
    return this.ask({ type: 'profile-stop', file }, 'profile-stopped');
  }

  private ask<T>(message: object, answer: string): Promise<T> {
    return new Promise((resolve) => {
      const onMessage = (m: { type: string }) => {
        if (m.type !== answer) return;
        this.child.off('message', onMessage);
        resolve(m as T);
      };
      this.child.on('message', onMessage);
      this.child.send(message);
    });
  }

  async stop() {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.send({ type: 'close' });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => { timer = setTimeout(r, 60_000); })]);
    clearTimeout(timer);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

// ─── HTTP ───────────────────────────────────────────────────────────────────

export async function http(base: string, method: string, url: string, token?: string, body?: unknown) {
  const res = await fetch(`${base}/api/v1${url}`, {
    method,
    headers: { ...(token && { authorization: `Bearer ${token}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: res.status, body: json };
}

export async function login(base: string, username: string, password = PASSWORD): Promise<string> {
  const r = await http(base, 'POST', '/auth/login', undefined, { username, password });
  if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token as string;
}

export interface LoadResult { latencies: number[]; statusCodes: Map<number, number>; seconds: number; errors: number }

/**
 * Runs autocannon against the server: `connections` clients, `amount` requests in all, each request
 * built by `next(clientIndex)` (method, path, headers, body). Latencies are kept at full precision
 * from autocannon's `response` events (its own histogram rounds to whole milliseconds).
 */
export async function load(url: string, connections: number, amount: number, next: (client: number) => RequestSpec): Promise<LoadResult> {
  let clients = 0;
  const latencies: number[] = [];
  const statusCodes = new Map<number, number>();
  const started = performance.now();
  const instance = autocannon({
    url,
    connections,
    amount,
    timeout: 600,
    requests: [{ method: 'GET', path: '/' }],
    setupClient: (client) => {
      const index = clients++;
      client.setRequests([{ method: 'GET', path: '/', setupRequest: (req) => ({ ...req, ...next(index) }) }]);
    },
  });
  // autocannon ends a run on its one-second tick: the run lasts until the last response, not until then.
  let last = started;
  instance.on('response', (_client, statusCode: number, _bytes: number, responseTime: number) => {
    last = performance.now();
    latencies.push(responseTime);
    statusCodes.set(statusCode, (statusCodes.get(statusCode) ?? 0) + 1);
  });
  const result = await instance;
  return { latencies, statusCodes, seconds: (last - started) / 1000, errors: result.errors + result.timeouts };
}

export function assertAll(result: LoadResult, status: number, what: string) {
  const other = [...result.statusCodes].filter(([s]) => s !== status);
  if (other.length || result.errors) {
    throw new Error(`${what}: expected every response to be ${status}; got ${JSON.stringify(Object.fromEntries(result.statusCodes))}, ${result.errors} errors`);
  }
}
