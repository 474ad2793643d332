// Benchmark 3: chain verification rate.
//
// Times `store.verifyChains()` (what the server runs at start, GET /audit/verify and `cellbatch
// verify` run) over a seeded database, in rows/s, against a raw baseline measured in the same run:
// SHA-256 with node:crypto, in a loop, over exactly the bytes verification hashes for each row
// (previous hash + canonical JSON of the row), prepared beforehand. Target: ratio ≥ 0.5. To explain
// the gap it also times reading the rows alone and building their canonical JSON alone.
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Store, auditHashed, entryHashed, signatureHashed, type AuditRow, type EntryRow, type SignatureRow } from '../server/store/store.js';
import { canonicalJson } from '../server/store/chain.js';
import { fmt, heading, isMain, mb, note, parseArgs, pct, verdict, waitForQuiet, watchCpu, type Verdict } from './lib.js';
import { seedPair } from './read-latency.js';

// The columns verifyChains reads, per table (server/store/store.ts).
const COLUMNS = {
  entries: 'seq, id, batch_id as batchId, batch_seq as batchSeq, kind, step_id as stepId, payload, recorded_at as recordedAt, actor_id as actorId, training, prev_hash as prevHash, hash',
  signatures: 'seq, id, entry_id as entryId, entry_hash as entryHash, user_id as userId, username, printed_name as printedName, meaning, signed_at as signedAt, prev_hash as prevHash, hash',
  audit_log: 'seq, at, user_id as userId, action, entity, entity_id as entityId, batch_id as batchId, before, after, reason, prev_hash as prevHash, hash',
} as const;

const canonicalOf = {
  entries: (r: Record<string, unknown>) => canonicalJson(entryHashed({ ...(r as unknown as EntryRow), training: Boolean(r.training) })),
  signatures: (r: Record<string, unknown>) => canonicalJson(signatureHashed(r as unknown as SignatureRow)),
  audit_log: (r: Record<string, unknown>) => canonicalJson(auditHashed(r as unknown as AuditRow)),
};

/** Raw SHA-256 over the same bytes, plus the time to read the rows and to build their canonical JSON. */
function baseline(store: Store) {
  let rows = 0, bytes = 0, hashMs = 0, readMs = 0, canonicalMs = 0;
  const CHUNK = 50_000;
  for (const table of Object.keys(COLUMNS) as (keyof typeof COLUMNS)[]) {
    const select = store.sqlite.prepare(`select ${COLUMNS[table]} from ${table} order by seq`);
    // Reading alone.
    let t = performance.now();
    for (const _ of select.iterate()) rows++;
    readMs += performance.now() - t;
    // Canonical bytes, a chunk at a time (constant memory); then SHA-256 over them, timed alone.
    let chunk: Buffer[] = [];
    const hashChunk = () => {
      const t0 = performance.now();
      let last = '';
      for (const b of chunk) last = createHash('sha256').update(b).digest('hex');
      hashMs += performance.now() - t0;
      if (last.length !== 64 && chunk.length) throw new Error('sha256');
      chunk = [];
    };
    for (const raw of select.iterate()) {
      const r = raw as Record<string, unknown>;
      t = performance.now();
      const canonical = canonicalOf[table](r);
      canonicalMs += performance.now() - t;
      const b = Buffer.from(String(r.prevHash) + canonical, 'utf8');
      bytes += b.length;
      chunk.push(b);
      if (chunk.length >= CHUNK) hashChunk();
    }
    hashChunk();
  }
  return { rows, bytes, hashMs, readMs, canonicalMs };
}

export async function runVerifyChains(dbFile: string): Promise<Verdict[]> {
  heading('Benchmark 3: chain verification (store.verifyChains) vs raw SHA-256');
  await waitForQuiet(() => []);
  const store = new Store(dbFile);
  try {
    const other = watchCpu(() => []);
    const t = performance.now();
    const report = store.verifyChains();
    const verifyS = (performance.now() - t) / 1000;
    if (!report.valid) throw new Error(`the seeded record does not verify: ${JSON.stringify(report.firstInvalid)}`);
    const raw = baseline(store);
    const share = other();
    if (raw.rows !== report.checked) throw new Error(`the baseline read ${raw.rows} rows, verifyChains ${report.checked}`);
    const rate = report.checked / verifyS;
    const rawRate = raw.rows / (raw.hashMs / 1000);
    console.log(`verifyChains: ${fmt(report.checked)} rows (${mb(raw.bytes)} hashed) in ${fmt(verifyS, 2)} s, chains valid`);
    console.log(`of which, measured apart: reading the rows ${fmt(raw.readMs / 1000, 2)} s, canonical JSON ${fmt(raw.canonicalMs / 1000, 2)} s, SHA-256 ${fmt(raw.hashMs / 1000, 2)} s `
      + `(${fmt(raw.bytes / 1024 / 1024 / (raw.hashMs / 1000))} MB/s); other processes used ${pct(share)} of the CPUs`);
    return [
      verdict('chain verification', `${fmt(rate)} rows/s`, `raw SHA-256 over the same bytes: ${fmt(rawRate)} rows/s`, rate / rawRate, { min: 0.5 }),
      note('chain verification, per row', `chain verification per row: ${fmt((verifyS * 1e6) / report.checked, 1)} µs, of which read ${fmt((raw.readMs * 1000) / raw.rows, 1)} µs, canonical JSON ${fmt((raw.canonicalMs * 1000) / raw.rows, 1)} µs, SHA-256 ${fmt((raw.hashMs * 1000) / raw.rows, 1)} µs`),
    ];
  } finally {
    store.close();
  }
}

if (isMain(import.meta.url)) {
  const args = parseArgs();
  const db = args.values.get('db');
  if (db) await runVerifyChains(path.resolve(db));
  else {
    const pair = await seedPair(args);
    try { await runVerifyChains(pair.large.dbFile); } finally { pair.cleanup(); }
  }
}
