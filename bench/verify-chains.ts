// Benchmark 3: chain verification rate.
//
// Times the product's verification of the record over a seeded database, in rows/s, against a raw
// baseline measured in the same run: SHA-256 with node:crypto, in a loop on one thread, over exactly
// the bytes each row's hash covers (rowBytes: the JSON array of the previous hash and the row's
// columns), prepared beforehand a chunk at a time. Target: ratio ≥ 0.5. Both of the product's passes
// are timed: `verifyChainsInParallel` (what the server's start, GET /audit/verify and `cellbatch verify`
// run: worker threads on every core) gives the verdict; `verifyChains` (one thread) is printed beside
// it, with the time to read the rows alone. The baseline hashes each row with a hash object
// (createHash(...).update(bytes).digest('hex'), the ~2 µs per 512-byte row the issue sizes); the
// product hashes with the one-shot `crypto.hash`, which is faster, and the ratio against that faster
// baseline is printed too. Each pass runs once to warm up (worker threads, page cache) before it is timed.
import path from 'node:path';
import os from 'node:os';
import { createHash, hash } from 'node:crypto';
import { auditCells, entryCells, signatureCells, type AuditRow, type EntryRow, type SignatureRow } from '../server/store/store.js';
import { rowBytes, type Cell } from '../server/store/chain.js';
import { ROW_COLUMNS, segmentSql } from '../server/store/sqlite/verify.js';
import { openSqliteStore, type SqliteStore } from '../server/store/sqlite/store.js';
import type { ChainTable } from '../server/store/checkpoints.js';
import { fmt, heading, isMain, mb, note, parseArgs, pct, verdict, waitForQuiet, watchCpu, type Verdict } from './lib.js';
import { seedPair } from './read-latency.js';

const cellsOf: Record<ChainTable, (r: Record<string, unknown>) => Cell[]> = {
  entries: (r) => entryCells(r as unknown as EntryRow),
  signatures: (r) => signatureCells(r as unknown as SignatureRow),
  audit_log: (r) => auditCells(r as unknown as AuditRow),
};

/** Raw SHA-256 over the same bytes, and the time SQLite takes to hand over the rows' bytes alone. */
function baseline(store: SqliteStore) {
  let rows = 0, bytes = 0, hashMs = 0, oneShotMs = 0, readMs = 0;
  const CHUNK = 50_000;
  for (const table of Object.keys(ROW_COLUMNS) as ChainTable[]) {
    // Reading alone: the rows' bytes as the fast pass receives them, a thousand rows per query.
    const rendered = store.sqlite.prepare(segmentSql(table)).raw();
    const max = store.sqlite.prepare(`select coalesce(max(seq), 0) from ${table}`).pluck().get() as number;
    const t = performance.now();
    for (let lo = 1; lo <= max; lo += 1000) rows += (rendered.get(lo, Math.min(max, lo + 999)) as [string, number])[1];
    readMs += performance.now() - t;
    // The bytes by their definition, a chunk at a time (constant memory); SHA-256 over them, timed alone.
    let chunk: string[] = [];
    const hashChunk = () => {
      const t0 = performance.now();
      let last = '';
      for (const b of chunk) last = createHash('sha256').update(b).digest('hex');
      const t1 = performance.now();
      for (const b of chunk) last = hash('sha256', b, 'hex');
      hashMs += t1 - t0;
      oneShotMs += performance.now() - t1;
      if (last.length !== 64 && chunk.length) throw new Error('sha256');
      chunk = [];
    };
    for (const raw of store.sqlite.prepare(`select ${ROW_COLUMNS[table]} from ${table} order by seq`).iterate()) {
      const r = raw as Record<string, unknown>;
      const b = rowBytes(String(r.prevHash), cellsOf[table](r));
      bytes += Buffer.byteLength(b);
      chunk.push(b);
      if (chunk.length >= CHUNK) hashChunk();
    }
    hashChunk();
  }
  return { rows, bytes, hashMs, oneShotMs, readMs };
}

export async function runVerifyChains(dbFile: string): Promise<Verdict[]> {
  heading('Benchmark 3: chain verification vs raw SHA-256');
  await waitForQuiet(() => []);
  const store = openSqliteStore(dbFile);
  try {
    await store.verifyChainsInParallel();
    await store.verifyChains();
    const other = watchCpu(() => []);
    let t = performance.now();
    const parallel = await store.verifyChainsInParallel();
    const parallelS = (performance.now() - t) / 1000;
    t = performance.now();
    const single = await store.verifyChains();
    const singleS = (performance.now() - t) / 1000;
    for (const r of [parallel, single]) if (!r.valid) throw new Error(`the seeded record does not verify: ${JSON.stringify(r.firstInvalid)}`);
    const raw = baseline(store);
    const share = other();
    if (raw.rows !== parallel.checked || raw.rows !== single.checked) throw new Error(`the baseline read ${raw.rows} rows, verification ${parallel.checked} and ${single.checked}`);
    const [rate, singleRate] = [parallel.checked / parallelS, single.checked / singleS];
    const rawRate = raw.rows / (raw.hashMs / 1000);
    const oneShotRate = raw.rows / (raw.oneShotMs / 1000);
    console.log(`verifyChainsInParallel: ${fmt(parallel.checked)} rows (${mb(raw.bytes)} hashed) in ${fmt(parallelS, 2)} s on ${os.availableParallelism()} cores; verifyChains (one thread): ${fmt(singleS, 2)} s; chains valid`);
    console.log(`measured apart: SQLite handing over the rows' bytes ${fmt(raw.readMs / 1000, 2)} s, SHA-256 ${fmt(raw.hashMs / 1000, 2)} s `
      + `(${fmt(raw.bytes / 1024 / 1024 / (raw.hashMs / 1000))} MB/s), one-shot crypto.hash ${fmt(raw.oneShotMs / 1000, 2)} s; other processes used ${pct(share)} of the CPUs`);
    return [
      verdict('chain verification', `${fmt(rate)} rows/s`, `raw SHA-256 over the same bytes, one thread: ${fmt(rawRate)} rows/s`, rate / rawRate, { min: 0.5 }),
      note('chain verification vs one-shot hash', `chain verification against the one-shot crypto.hash baseline (${fmt(oneShotRate)} rows/s): ratio ${fmt(rate / oneShotRate, 2)}`),
      note('chain verification, one thread', `chain verification on one thread: ${fmt(singleRate)} rows/s, ratio ${fmt(singleRate / rawRate, 2)}; per row ${fmt((singleS * 1e6) / single.checked, 1)} µs, of which reading ${fmt((raw.readMs * 1000) / raw.rows, 1)} µs and SHA-256 ${fmt((raw.hashMs * 1000) / raw.rows, 1)} µs`),
    ];
  } finally {
    await store.close();
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
