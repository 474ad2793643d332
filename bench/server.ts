// The server under benchmark, in its own process: exactly what server/main.ts does (buildApp on
// CELLBATCH_DB or CELLBATCH_DATABASE_URL, first admin, listen, the full verification in the background), but on a free port; it
// reports the time to listen and the time until the record is verified, and is ready for the
// benchmark once verified (so that reads are not measured beside the verification's workers). It
// answers two messages from the
// benchmark over IPC: `memory` (its own RSS before and after a full GC, heap, peak RSS) and `close`.
// Compiled with the service (dist/bench/server.js) and started by bench/lib.ts with `node --expose-gc`.
import fs from 'node:fs';
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

process.on('message', (m: { type: string }) => {
  if (m.type === 'memory') {
    const before = process.memoryUsage();
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    // Let freed pages go back before reading RSS again.
    setTimeout(() => {
      gc?.();
      const after = process.memoryUsage();
      process.send!({ type: 'memory', rss: before.rss, rssAfterGc: after.rss, heapUsed: after.heapUsed, peakRss: peakRss() });
    }, 200);
  }
  if (m.type === 'close') {
    app.close().then(() => process.exit(0), () => process.exit(1));
  }
});
process.on('disconnect', () => { app.close().finally(() => process.exit(0)); });
process.send!({ type: 'ready', port, startupMs, verifiedMs });
