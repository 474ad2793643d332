// Verification of the hash chains (21 CFR 11.10(a)): every row of entries, signatures and audit_log
// must carry the hash of its bytes (chain.ts), link to the row before it, stand where the signed
// checkpoints of the heads say, and a signature must carry the hash of the entry it names (11.70).
//
// Two passes share that definition:
// - the fast pass proves a record intact, and only that: SQLite renders each row's bytes with
//   json_array() and the row's hash is recomputed over that one string, segment by segment, in worker
//   threads on every core when the record is large (rows are append-only, so a segment read later is
//   the segment that was there when verification began);
// - the walk (server/store/walk.ts, the same for PostgreSQL) reads every row into JavaScript, hashes
//   rowBytes() (or the pre-0003 form) and says which row fails first and how. It runs whenever the fast
//   pass finds anything at all, so a report of failure never rests on SQLite's rendering, and a database
//   written before migration 0003 is always walked.
import type Database from 'better-sqlite3';
import { createRequire } from 'node:module';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { hash } from 'node:crypto';
import { CHAINED, GENESIS } from '../chain.js';
import { CHAIN_TABLES, type ChainTable, type Checkpoint } from '../checkpoints.js';
import type { ChainReport, EntryRow, LegacyHeads, ParallelOptions, SignatureRow } from '../store.js';
import { walkChains, type ChainRow, type ChainRows } from '../walk.js';

/** One stretch of one chain for the fast pass: rows `from`..`to` inclusive. */
export interface Segment { table: ChainTable; from: number; to: number; sql: string }
/** `firstPrev`/`lastHash` let the caller check the links at the seams between segments. */
export interface SegmentResult { table: ChainTable; from: number; to: number; ok: boolean; firstPrev: string | null; lastHash: string | null }

/** Segments of this many rows go to the workers; below this many rows in all, no workers are started. */
const SEGMENT_ROWS = 50_000;
const PARALLEL_FROM_ROWS = 100_000;

/**
 * The fast pass's query per table, over a range of rows: one string for the whole range, each row as
 * <check><bytes>\x1e<hash>, rows separated by \x1f, and the number of rows. <check> is 1 when the
 * row's own cross-check holds, else 0.
 * json_array escapes every control character, so neither separator can occur inside the bytes.
 * group_concat follows the scan, which on a rowid range is seq order; were it ever otherwise, the
 * links would not hold and the walk would judge the record.
 */
export function segmentSql(table: ChainTable): string {
  const bytes = `json_array(${['prev_hash', ...CHAINED[table]].map((c) => `r.${c}`).join(', ')})`;
  // A signature must carry the hash of the entry it names: found by its seq (a rowid lookup), or by
  // its id in rows written before migration 0003.
  const check = table === 'signatures'
    ? `(case when r.entry_seq is null then (select e.hash from entries e where e.id = r.entry_id) is r.entry_hash
        else coalesce((select e.id = r.entry_id and e.hash = r.entry_hash from entries e where e.seq = r.entry_seq), 0) end)`
    : "'1'";
  return `select group_concat(${check} || ${bytes} || char(30) || r.hash, char(31)), count(*) from ${table} r where r.seq between ? and ?`;
}

interface SegmentDb { prepare(sql: string): { raw(): { get(...params: unknown[]): unknown } } }

/**
 * The fast pass over some segments, a thousand rows per query (one string per query instead of one
 * per row: crossing from SQLite into JavaScript costs more per row than hashing it). Self-contained
 * on purpose: worker threads run its source text, so it refers to nothing outside its parameters.
 */
export function checkSegments(db: SegmentDb, sha256hex: (s: string) => string, segments: Segment[]): SegmentResult[] {
  const results: SegmentResult[] = [];
  for (const segment of segments) {
    let firstPrev: string | null = null;
    let prev: string | null = null;
    let ok = true;
    try {
      const query = db.prepare(segment.sql).raw();
      for (let lo = segment.from; ok && lo <= segment.to; lo += 1000) {
        const hi = Math.min(segment.to, lo + 999);
        const [text, n] = query.get(lo, hi) as [string | null, number];
        // seq is the rowid: an integer, unique. All rows lo..hi are there exactly when as many were read.
        if (text === null || n !== hi - lo + 1) { ok = false; break; }
        let rows = 0;
        for (let i = 0; i < text.length; rows++) {
          let end = text.indexOf('\x1f', i);
          if (end < 0) end = text.length;
          const sep = end - 65;
          const bytes = text.slice(i + 1, sep);
          const hash = text.slice(sep + 1, end);
          // The bytes begin ["<64 hex digits of the previous hash>",
          const link = bytes.slice(2, 66);
          if (text.charCodeAt(i) !== 49 || text.charCodeAt(sep) !== 30 || bytes.charCodeAt(66) !== 34
            || (prev !== null && link !== prev) || sha256hex(bytes) !== hash) { ok = false; break; }
          if (firstPrev === null) firstPrev = link;
          prev = hash;
          i = end + 1;
        }
        if (rows !== n) ok = false;
      }
    } catch {
      ok = false; // a value json_array cannot render (a blob where text belongs): the walk says which row
    }
    results.push({ table: segment.table, from: segment.from, to: segment.to, ok, firstPrev, lastHash: prev });
  }
  return results;
}

const sha256hex = (s: string) => hash('sha256', s, 'hex');

function segmentsOf(sqlite: Database.Database, size: number): { segments: Segment[]; rows: number } {
  const segments: Segment[] = [];
  let rows = 0;
  for (const table of CHAIN_TABLES) {
    const max = (sqlite.prepare(`select coalesce(max(seq), 0) from ${table}`).pluck().get() as number);
    rows += max;
    const sql = segmentSql(table);
    for (let from = 1; from <= max; from += size) segments.push({ table, from, to: Math.min(max, from + size - 1), sql });
  }
  return { segments, rows };
}

/** Whether the segments join up into whole chains that end where the signed checkpoints say. */
function joinedAndSigned(sqlite: Database.Database, results: SegmentResult[], checkpoints: Checkpoint[]): boolean {
  const sorted = [...results].sort((a, b) => CHAIN_TABLES.indexOf(a.table) - CHAIN_TABLES.indexOf(b.table) || a.from - b.from);
  const last = new Map<ChainTable, string>();
  for (const r of sorted) {
    if (!r.ok) return false;
    if (r.firstPrev !== (last.get(r.table) ?? GENESIS)) return false;
    last.set(r.table, r.lastHash!);
  }
  const hashAt = Object.fromEntries(CHAIN_TABLES.map((t) => [t, sqlite.prepare(`select hash from ${t} where seq = ?`).pluck()]));
  return checkpoints.every((c) => CHAIN_TABLES.every((t) => c.heads[t].seq === 0 || hashAt[t].get(c.heads[t].seq) === c.heads[t].hash));
}

const counted = (rows: number, checkpoints: Checkpoint[]): ChainReport =>
  ({ valid: true, checked: rows, ...(checkpoints.length ? { checkpoints: checkpoints.length } : {}) });

const legacy = (heads: LegacyHeads) => CHAIN_TABLES.some((t) => heads[t] > 0);

/** The fast pass in this thread: the report of an intact record, or undefined when the walk must judge it. */
function fastPass(sqlite: Database.Database, legacyHeads: LegacyHeads, checkpoints: Checkpoint[]): ChainReport | undefined {
  if (legacy(legacyHeads)) return undefined;
  const { segments, rows } = segmentsOf(sqlite, Number.MAX_SAFE_INTEGER);
  return joinedAndSigned(sqlite, checkSegments(sqlite, sha256hex, segments), checkpoints) ? counted(rows, checkpoints) : undefined;
}

/** Runs `fn` as the connection's only user until it settles (connection.ts, holding): the walk reads across awaits. */
export type Hold = <T>(fn: () => Promise<T>) => Promise<T>;
const alone: Hold = (fn) => fn();

/** Verifies in this thread: the fast pass, then the walk if anything is amiss. */
export function verifyChains(sqlite: Database.Database, legacyHeads: LegacyHeads, checkpoints: Checkpoint[], hold: Hold = alone): Promise<ChainReport> {
  return hold(async () => fastPass(sqlite, legacyHeads, checkpoints) ?? walkChains(sqliteRows(sqlite), legacyHeads, checkpoints));
}

/**
 * Verifies with the fast pass spread over worker threads (a file database of some size), else as
 * verifyChains. The workers read the file through connections of their own (committed rows only);
 * what runs on `sqlite` goes through `hold`, so that no transaction is open on it meanwhile (connection.ts).
 */
export async function verifyChainsInParallel(
  sqlite: Database.Database, file: string, legacyHeads: LegacyHeads, checkpoints: Checkpoint[], opts: ParallelOptions = {}, hold: Hold = alone,
): Promise<ChainReport> {
  const workers = opts.workers ?? Math.min(os.availableParallelism(), 8);
  const inThisThread = () => verifyChains(sqlite, legacyHeads, checkpoints, hold);
  if (legacy(legacyHeads) || file === ':memory:' || file === '') return inThisThread();
  const { segments, rows } = await hold(async () => segmentsOf(sqlite, opts.segmentRows ?? SEGMENT_ROWS));
  if (rows < (opts.minRows ?? PARALLEL_FROM_ROWS) || workers < 2) return inThisThread();
  let results: SegmentResult[];
  try {
    results = await inWorkers(file, segments, workers);
  } catch {
    return inThisThread(); // no workers here: the same pass in this thread
  }
  return hold(async () => (joinedAndSigned(sqlite, results, checkpoints) ? counted(rows, checkpoints) : walkChains(sqliteRows(sqlite), legacyHeads, checkpoints)));
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { hash } = require('node:crypto');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { readonly: true, fileMustExist: true });
const checkSegments = (${checkSegments.toString()});
const sha256hex = (s) => hash('sha256', s, 'hex');
parentPort.on('message', (segment) => parentPort.postMessage(checkSegments(db, sha256hex, [segment])[0]));
`;

/** Hands the segments out to `n` workers, the next one to whichever finishes first. */
function inWorkers(file: string, segments: Segment[], n: number): Promise<SegmentResult[]> {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const pool = Array.from({ length: Math.min(n, segments.length) }, () => new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver } }));
  const results: SegmentResult[] = [];
  let next = 0;
  return new Promise<SegmentResult[]>((resolve, reject) => {
    const give = (w: Worker) => (next < segments.length ? w.postMessage(segments[next++]) : undefined);
    for (const w of pool) {
      w.on('message', (r: SegmentResult) => {
        results.push(r);
        if (results.length === segments.length) resolve(results);
        else give(w);
      });
      w.on('error', reject);
      give(w);
    }
  }).finally(() => Promise.all(pool.map((w) => w.terminate())));
}

/** The columns of each chained table as the walk reads them: the row types' names. */
export const ROW_COLUMNS: Record<ChainTable, string> = {
  entries: 'seq, id, batch_id as batchId, batch_seq as batchSeq, kind, step_id as stepId, payload, recorded_at as recordedAt, actor_id as actorId, training, prev_hash as prevHash, hash',
  signatures: 'seq, id, entry_id as entryId, entry_hash as entryHash, entry_seq as entrySeq, user_id as userId, username, printed_name as printedName, meaning, signed_at as signedAt, prev_hash as prevHash, hash',
  audit_log: 'seq, at, user_id as userId, action, entity, entity_id as entityId, batch_id as batchId, before, after, reason, prev_hash as prevHash, hash',
};

const PAGE = 5000;

/** The chains of a SQLite file for the walk (walk.ts): each table streamed in seq order, a page at a time. */
function sqliteRows(sqlite: Database.Database): ChainRows {
  const entryById = sqlite.prepare('select id, hash from entries where id = ?');
  const entryBySeq = sqlite.prepare('select id, hash from entries where seq = ?');
  return {
    async *pages(table) {
      let page: ChainRow[] = [];
      for (const raw of sqlite.prepare(`select ${ROW_COLUMNS[table]} from ${table} order by seq`).iterate()) {
        const r = raw as ChainRow;
        if (table === 'entries') (r as EntryRow).training = Boolean((r as EntryRow).training);
        page.push(r);
        if (page.length === PAGE) {
          yield page;
          page = [];
        }
      }
      if (page.length) yield page;
    },
    signaturesBelong: async () => (s: SignatureRow) => {
      const e = (s.entrySeq === null ? entryById.get(s.entryId) : entryBySeq.get(s.entrySeq)) as { id: string; hash: string } | undefined;
      return e?.id === s.entryId && e.hash === s.entryHash;
    },
  };
}
