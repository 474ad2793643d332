// Benchmark 2 (and 4): read latency on a large database against a small one.
//
// Two databases are seeded by bench/seed.ts with batches of the same length (entries / batches): the
// large one (default 1,000 batches × 200,000 entries; --full: 10,000 × 5,000,000) and a 100-batch one.
// Both servers run at the same time (bench/server.ts, each in its own process) and the requests
// alternate between them, one at a time, so that whatever else the machine is doing weighs on both
// alike. Measured: GET /batches/{id} (random batches), GET /batches?limit=50 (random pages), and the
// other lists served from their read models, GET /deviations?limit=50 and GET /me/pending?limit=50 (as an
// operator, and as QA), p50 of each on the large database ÷ the same on the small one (target ≤ 1.5; and
// ≤ 50 ms). The seed has no deviation: one is opened by hand on every 10th batch through the product's
// command before the servers start (--deviation-every N), so the deviations list and QA's pending work
// have something to show. The RSS of the large
// database's server after the load (target ≤ 200 MB); and, as information, how long that server took
// to start (it verifies every chain at start).
import fs from 'node:fs';
import path from 'node:path';
import { seedDatabase, SEED_USERS, type SeedResult } from './seed.js';
import { createContext } from '../server/app.js';
import { openDeviation } from '../server/commands/open-deviation.js';
import {
  fmt, heading, isMain, login, mb, ms, note, numberOption, parseArgs, pct, percentile, scaleOf, ServerProcess, tempDir, verdict, waitForQuiet, watchCpu, type Verdict,
} from './lib.js';

export interface ReadOptions { idRequests: number; listRequests: number }

/** Opens a deviation by hand on every `every`-th batch (in id order) through the product's command; how many. */
export async function openSeedDeviations(seed: SeedResult, every: number): Promise<number> {
  if (every <= 0) return 0;
  const ctx = await createContext({ dbFile: seed.dbFile, databaseUrl: seed.databaseUrl, training: true });
  try {
    const operator = (await ctx.store.findUserByUsername(SEED_USERS.operator))!;
    let n = 0;
    for (const [i, id] of [...seed.batchIds].sort().entries()) {
      if (i % every) continue;
      await openDeviation(ctx, operator, id, { description: `Seeded deviation ${n + 1}: door of the biosafety cabinet found open`, severity: n % 3 ? 'minor' : 'major' });
      n++;
    }
    await ctx.store.checkpoint('interval');
    return n;
  } finally {
    await ctx.store.close();
  }
}

async function timedGet(base: string, url: string, token: string) {
  const t = performance.now();
  const res = await fetch(`${base}/api/v1${url}`, { headers: { authorization: `Bearer ${token}` } });
  const body = await res.text();
  const elapsed = performance.now() - t;
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${body.slice(0, 300)}`);
  return { ms: elapsed, bytes: body.length };
}

interface Side { name: string; seed: SeedResult; server: ServerProcess; token: string; qaToken: string; ids: string[]; byId: number[]; list: number[]; lists: Record<string, number[]>; bytes: { id: number; list: number } }

/** The other lists the read models serve, each timed like GET /batches (as the operator; `qa:` as QA). */
const OTHER_LISTS = ['/deviations?limit=50', '/me/pending?limit=50', 'qa:/me/pending?limit=50'];
const labelOf = (list: string) => (list.startsWith('qa:') ? `${list.slice(3)} (QA)` : list);
const asWho = (s: Side, list: string) => (list.startsWith('qa:') ? { url: list.slice(3), token: s.qaToken } : { url: list, token: s.token });

const random = (n: number) => Math.floor(Math.random() * n);
const cursorOf = (id: string) => Buffer.from(id).toString('base64url');

export async function runReadLatency(large: SeedResult, small: SeedResult, o: ReadOptions): Promise<Verdict[]> {
  const on = large.databaseUrl ? ' on PostgreSQL' : '';
  heading(`Benchmark 2: GET latency${on}, ${fmt(large.batches)} batches / ${fmt(large.entries)} entries vs ${fmt(small.batches)} batches`);
  const sides: Side[] = [];
  try {
    for (const [name, seed] of [['large', large], ['small', small]] as const) {
      const server = await ServerProcess.start(seed.dbFile, { databaseUrl: seed.databaseUrl });
      console.log(`${name} database: ${fmt(seed.batches)} batches × ${fmt(seed.entriesPerBatch)} entries (${fmt(seed.entries + seed.signatures + seed.audit)} chained rows); server listening in ${fmt(server.startupMs / 1000, 1)} s, record verified in the background after ${fmt(server.verifiedMs / 1000, 1)} s`);
      const token = await login(server.url, SEED_USERS.operator);
      const qaToken = await login(server.url, SEED_USERS.qa);
      sides.push({ name, seed, server, token, qaToken, ids: [...seed.batchIds].sort(), byId: [], list: [], lists: Object.fromEntries(OTHER_LISTS.map((u) => [u, []])), bytes: { id: 0, list: 0 } });
    }
    const idUrl = (s: Side) => `/batches/${s.ids[random(s.ids.length)]}`;
    const listUrl = (s: Side) => {
      const p = random(Math.max(1, s.ids.length - 50 + 1)); // a page of 50 starting at position p
      return p === 0 ? '/batches?limit=50' : `/batches?limit=50&cursor=${cursorOf(s.ids[p - 1])}`;
    };
    for (const s of sides) { // warm-up
      for (let i = 0; i < 5; i++) s.bytes.id = (await timedGet(s.server.url, idUrl(s), s.token)).bytes;
      s.bytes.list = (await timedGet(s.server.url, listUrl(s), s.token)).bytes;
    }
    await waitForQuiet(() => sides.map((s) => s.server.pid));
    const other = watchCpu(() => sides.map((s) => s.server.pid));
    for (let i = 0; i < o.idRequests; i++) {
      for (const s of i % 2 ? sides : [...sides].reverse()) s.byId.push((await timedGet(s.server.url, idUrl(s), s.token)).ms);
    }
    for (let i = 0; i < o.listRequests; i++) {
      for (const s of i % 2 ? sides : [...sides].reverse()) s.list.push((await timedGet(s.server.url, listUrl(s), s.token)).ms);
    }
    for (const url of OTHER_LISTS) {
      for (let i = 0; i < o.listRequests; i++) {
        for (const s of i % 2 ? sides : [...sides].reverse()) {
          const who = asWho(s, url);
          s.lists[url].push((await timedGet(s.server.url, who.url, who.token)).ms);
        }
      }
    }
    const otherShare = other();
    for (const s of sides) {
      console.log(`${s.name}: GET /batches/{id} p50 ${ms(percentile(s.byId, 50))}, p95 ${ms(percentile(s.byId, 95))} (${fmt(s.bytes.id / 1024)} KiB); `
        + `GET /batches?limit=50 p50 ${ms(percentile(s.list, 50))}, p95 ${ms(percentile(s.list, 95))} (${fmt(s.bytes.list / 1024)} KiB)`);
    }
    for (const s of sides) console.log(`${s.name}: ${OTHER_LISTS.map((u) => `GET ${labelOf(u)} p50 ${ms(percentile(s.lists[u], 50))}, p95 ${ms(percentile(s.lists[u], 95))}`).join('; ')}`);
    console.log(`${fmt(o.idRequests)} + ${fmt(o.listRequests)} requests per database, alternating; other processes used ${pct(otherShare)} of the CPUs meanwhile`);
    const [L, S] = sides;
    const verdicts: Verdict[] = [];
    verdicts.push(verdict(`GET /batches/{id}${on}, ${fmt(L.seed.batches)} vs ${fmt(S.seed.batches)} batches`, `p50 ${ms(percentile(L.byId, 50))}`, `small database p50 ${ms(percentile(S.byId, 50))}`, percentile(L.byId, 50) / percentile(S.byId, 50), { max: 1.5 }));
    verdicts.push(verdict(`GET /batches?limit=50${on}, ${fmt(L.seed.batches)} vs ${fmt(S.seed.batches)} batches`, `p50 ${ms(percentile(L.list, 50))}`, `small database p50 ${ms(percentile(S.list, 50))}`, percentile(L.list, 50) / percentile(S.list, 50), { max: 1.5 }));
    for (const url of OTHER_LISTS) {
      verdicts.push(verdict(`GET ${labelOf(url)}${on}, ${fmt(L.seed.batches)} vs ${fmt(S.seed.batches)} batches`, `p50 ${ms(percentile(L.lists[url], 50))}`, `small database p50 ${ms(percentile(S.lists[url], 50))}`, percentile(L.lists[url], 50) / percentile(S.lists[url], 50), { max: 1.5 }));
    }
    for (const [name, series] of [['GET /batches?limit=50', (s: Side) => s.list], ...OTHER_LISTS.map((u) => [`GET ${labelOf(u)}`, (s: Side) => s.lists[u]] as const)] as const) {
      verdicts.push(verdict(`${name}${on} p50 at ${fmt(L.seed.batches)} batches`, `p50 ${ms(percentile(series(L), 50))}`, 'target 50 ms', percentile(series(L), 50) / 50, { max: 1 }));
    }
    const memory = await L.server.memory();
    verdicts.push(verdict(`server RSS after the read load${on}, ${fmt(L.seed.batches)} batches (after GC)`, mb(memory.rssAfterGc), `limit 200 MB (before GC ${mb(memory.rss)}, peak ${mb(memory.peakRss)}, heap ${mb(memory.heapUsed)})`, memory.rssAfterGc / (200 * 1024 * 1024), { max: 1 }));
    verdicts.push(note(`server start, large database${on}`, `server start on the large database${on}: listening after ${fmt(L.server.startupMs / 1000, 1)} s; its ${fmt(L.seed.entries + L.seed.signatures + L.seed.audit)} chained rows verified in the background after ${fmt(L.server.verifiedMs / 1000, 1)} s (${fmt((L.seed.entries + L.seed.signatures + L.seed.audit) / (L.server.verifiedMs / 1000))} rows/s)`));
    return verdicts;
  } finally {
    for (const s of sides) await s.server.stop();
  }
}

export function readOptions(args = parseArgs()): ReadOptions {
  return { idRequests: numberOption(args, 'id-requests', undefined, 100), listRequests: numberOption(args, 'list-requests', undefined, 10) };
}

/**
 * Seeds the large and the 100-batch database side by side in a temp folder. `--reuse DIR` takes a pair
 * seeded before with `--keep` (DIR/pair.json: the 10,000-batch seed takes a quarter of an hour).
 */
export async function seedPair(args = parseArgs()) {
  const reuse = args.values.get('reuse');
  if (reuse) {
    const { large, small } = JSON.parse(fs.readFileSync(path.join(reuse, 'pair.json'), 'utf8')) as { large: SeedResult; small: SeedResult };
    console.log(`reusing ${reuse}: ${fmt(large.batches)} and ${fmt(small.batches)} batches × ${fmt(large.entriesPerBatch)} entries`);
    return { dir: reuse, large, small, cleanup: () => {} };
  }
  const scale = scaleOf(args);
  const smallBatches = numberOption(args, 'small-batches', undefined, 100);
  const perBatch = Math.floor(scale.entries / scale.batches);
  console.log(`scale: ${scale.full ? 'FULL' : 'small (npm run bench -- --full for 10,000 batches × 5,000,000 entries)'} — ${fmt(scale.batches)} batches × ${fmt(perBatch)} entries = ${fmt(scale.batches * perBatch)} entries; comparison database ${fmt(smallBatches)} batches × ${fmt(perBatch)} entries`);
  const dir = tempDir('read');
  const inFlight = numberOption(args, 'in-flight', undefined, 100);
  const large = await seedDatabase({ dbFile: path.join(dir, 'large', 'cellbatch.db'), batches: scale.batches, entries: scale.batches * perBatch, inFlight });
  const small = await seedDatabase({ dbFile: path.join(dir, 'small', 'cellbatch.db'), batches: smallBatches, entries: smallBatches * perBatch, inFlight });
  const every = numberOption(args, 'deviation-every', undefined, 10);
  for (const seed of [large, small]) {
    const t = performance.now();
    const n = await openSeedDeviations(seed, every);
    console.log(`  ${fmt(n)} deviations opened by hand through the command (every ${every}th batch) in ${fmt((performance.now() - t) / 1000, 1)} s`);
  }
  if (args.flags.has('keep')) fs.writeFileSync(path.join(dir, 'pair.json'), JSON.stringify({ large, small }));
  return { dir, large, small, cleanup: () => { if (!args.flags.has('keep')) fs.rmSync(dir, { recursive: true, force: true }); else console.log(`kept ${dir}`); } };
}

if (isMain(import.meta.url)) {
  const args = parseArgs();
  const pair = await seedPair(args);
  if (args.flags.has('seed-only')) {
    // --seed-only --keep: seed now, measure later with --reuse.
    console.log(`seeded ${pair.dir}; measure with --reuse ${pair.dir}`);
  } else {
    try {
      const verdicts = await runReadLatency(pair.large, pair.small, readOptions(args));
      if (args.flags.has('strict') && verdicts.some((v) => v.pass === false)) process.exitCode = 1;
    } finally {
      pair.cleanup();
    }
  }
}
