// The server under benchmark, in its own process: exactly what server/main.ts does (buildApp on
// CELLBATCH_DB or CELLBATCH_DATABASE_URL, first admin, listen, the full verification in the background), but on a free port; it
// reports the time to listen and the time until the record is verified, and is ready for the
// benchmark once verified (so that reads are not measured beside the verification's workers). It
// answers three messages from the
// benchmark over IPC: `memory` (its own RSS before and after a full GC, heap, peak RSS), `event-loop`
// (the main thread's busy time so far) and `close`.
// Compiled with the service (dist/bench/server.js) and started by bench/lib.ts with `node --expose-gc`.
import fs from 'node:fs';
import inspector from 'node:inspector';
import type { AddressInfo } from 'node:net';
import { buildApp } from '../server/app.js';
import { bootstrapAdmin } from '../server/services/bootstrap.js';

const env = process.env;
const started = performance.now();
const { app, ctx } = await buildApp({
  dbFile: env.CELLBATCH_DB ?? './data/cellbatch.db',
  databaseUrl: env.CELLBATCH_DATABASE_URL || undefined,
  training: env.CELLBATCH_TRAINING === '1',
  logger: env.CELLBATCH_LOG !== '0',
  awaitVerification: false,
  awaitReadModel: false,
  // bench/password-limits.ts sends each request from an address of its own (X-Forwarded-For).
  trustProxy: env.BENCH_TRUST_PROXY === '1' || undefined,
});
await bootstrapAdmin(ctx, env.CELLBATCH_ADMIN_PASSWORD, () => {});
await app.listen({ port: 0, host: '127.0.0.1' });
const startupMs = performance.now() - started;
await ctx.recordCheck.verify(); // joins the verification that started with the listener
const verifiedMs = performance.now() - started;
const { port } = app.server.address() as AddressInfo;

/** VmHWM: the highest RSS this process has had (Linux); 0 elsewhere. */
function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU time (user + system) of the main thread alone, in ms (Linux; 0 elsewhere). */
function mainThreadCpuMs(): number {
  try {
    const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, in clock ticks of 1/100 s
  } catch {
    return 0;
  }
}

/**
 * RSS once a GC's freed memory has gone back: V8 unmaps the pages a full GC frees from a background
 * thread, up to a second later, so a read right after gc() counts them (measured on 5 December: 228 MB
 * read at once, 192 MB a second later with nothing else running). Read every 100 ms until two reads
 * agree within 1 MB, for at most 3 s.
 */
async function settledRss(): Promise<number> {
  let last = process.memoryUsage().rss;
  for (let waited = 0; waited < 3000; waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const now = process.memoryUsage().rss;
    if (Math.abs(now - last) < 1024 * 1024) return now;
    last = now;
  }
  return last;
}

let profiler: inspector.Session | undefined;

process.on('message', (m: { type: string }) => {
  if (m.type === 'memory') {
    const before = process.memoryUsage();
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    // Let freed pages go back before reading RSS again.
    setTimeout(() => {
      gc?.();
      void settledRss().then((rssAfterGc) => {
        process.send!({ type: 'memory', rss: before.rss, rssAfterGc, heapUsed: process.memoryUsage().heapUsed, peakRss: peakRss() });
      });
    }, 200);
  }
  if (m.type === 'event-loop') {
    // The main thread's busy time so far: its event loop's active time (wall time, which other processes
    // on the CPUs stretch) and its own CPU time (Linux: /proc/self/task/<pid>/stat, the main thread alone).
    process.send!({ type: 'event-loop', activeMs: performance.eventLoopUtilization().active, cpuMs: mainThreadCpuMs() });
  }
  if (m.type === 'profile-start') {
    // A CPU profile of the main thread over one stretch of load only (BENCH_PROFILE_DIR in bench/signed-steps.ts).
    profiler ??= new inspector.Session();
    profiler.connect();
    profiler.post('Profiler.enable', () => profiler!.post('Profiler.start', () => process.send!({ type: 'profile-started' })));
  }
  if (m.type === 'profile-stop') {
    profiler!.post('Profiler.stop', (err, r) => {
      if (!err) fs.writeFileSync((m as unknown as { file: string }).file, JSON.stringify(r.profile));
      profiler!.disconnect();
      process.send!({ type: 'profile-stopped' });
    });
  }
  if (m.type === 'close') {
    app.close().then(() => process.exit(0), () => process.exit(1));
  }
});
process.on('disconnect', () => { app.close().finally(() => process.exit(0)); });
process.send!({ type: 'ready', port, startupMs, verifiedMs });
