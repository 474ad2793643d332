// Crash-test helpers: a REAL cellbatch server as a child process (node --import tsx server/main.ts) in its
// own process group, so that SIGKILL takes it down at once with no shutdown hook; a free port; a
// seeded PRNG; and a small JSON-over-HTTP client on the global fetch.
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';

/** The project root (where server/main.ts and node_modules live). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** mulberry32: a tiny deterministic PRNG, so that a failing schedule of kills can be replayed by seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A TCP port nobody listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface Exit { code: number | null; signal: NodeJS.Signals | null }

export interface ServerProcess {
  pid: number;
  port: number;
  base: string;
  /** Settles when the process has exited (and its database handles are gone with it). */
  exited: Promise<Exit>;
  alive(): boolean;
  /** The signal goes to the whole process group (the server and anything it started). */
  kill(signal: NodeJS.Signals): void;
  /** The last stdout/stderr lines, for diagnostics. */
  output(): string;
  /** Milliseconds from spawn to the first healthy /healthz. */
  startMs: number;
}

export interface StartOptions {
  dbFile: string; keyDir: string; adminPassword: string; timeoutMs?: number;
  /** More settings (CELLBATCH_DATABASE_URL for the PostgreSQL crash test). */
  env?: Record<string, string>;
}

/** Spawns `node --import tsx server/main.ts` on a free port and waits until GET /healthz answers 200. */
export async function startServer(opts: StartOptions): Promise<ServerProcess> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {};
  // The parent's environment minus any cellbatch setting that would change what is tested.
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CELLBATCH_') && k !== 'PORT' && k !== 'HOST') env[k] = v;
  Object.assign(env, {
    PORT: String(port), HOST: '127.0.0.1', CELLBATCH_DB: opts.dbFile, CELLBATCH_KEY_DIR: opts.keyDir, CELLBATCH_TRAINING: '1',
    CELLBATCH_ADMIN_PASSWORD: opts.adminPassword, CELLBATCH_LOG: '0', ...opts.env,
  });
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (chunk: Buffer) => { out = (out + chunk.toString()).slice(-8000); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let done = false;
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => { done = true; resolve({ code, signal }); }));
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  spawnError.catch(() => {});
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn the server: ${await spawnError.catch((e) => String(e))}`);
  const base = `http://127.0.0.1:${port}`;
  const server: ServerProcess = {
    pid, port, base, exited, startMs: 0,
    alive: () => !done,
    kill: (signal) => {
      if (done) return;
      try { process.kill(-pid, signal); } catch { /* already gone */ }
    },
    output: () => out,
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 90_000);
  for (;;) {
    if (done) throw new Error(`the server exited before it was healthy (${JSON.stringify(await exited)}):\n${out}`);
    try {
      const r = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (r.ok) { await r.text(); break; }
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      server.kill('SIGKILL');
      throw new Error(`the server did not become healthy within ${opts.timeoutMs ?? 90_000} ms:\n${out}`);
    }
    await delay(25); // a tiny backoff while the process starts
  }
  server.startMs = Math.round(performance.now() - t0);
  return server;
}

export interface Reply { status: number; body: any }

/** One JSON request. Rejects on a network failure or a body cut short (which is not an answer). */
export async function api(base: string, token: string | null, method: 'GET' | 'POST', url: string, payload?: unknown): Promise<Reply> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: { ...(token && { authorization: `Bearer ${token}` }), ...(payload !== undefined && { 'content-type': 'application/json' }) },
    ...(payload !== undefined && { body: JSON.stringify(payload) }),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let body: any = text;
  try { body = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
  return { status: res.status, body };
}
