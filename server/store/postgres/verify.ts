// Verification of the hash chains in PostgreSQL (21 CFR 11.10(a), 11.70): the one walk of both
// databases (server/store/walk.ts) over rows read a page at a time in seq order, the entries a page of
// signatures names read in two queries per page.
import { asc, gt, inArray } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import * as t from './tables.js';
import type { PgDb } from './database.js';
import type { ChainTable, Checkpoint } from '../checkpoints.js';
import type { ChainReport, LegacyHeads, SignatureRow } from '../store.js';
import { walkChains, type ChainRow, type ChainRows } from '../walk.js';

const PAGE = 5000;

const TABLES = { entries: t.entries, signatures: t.signatures, audit_log: t.auditLog } as const;

/** The rows of a chain in seq order, a page at a time (constant memory). */
async function* pagesOf(db: PgDb, table: ChainTable): AsyncGenerator<ChainRow[]> {
  const tbl = TABLES[table];
  let after = 0;
  for (;;) {
    const rows = (await db.select().from(tbl as PgTable).where(gt(tbl.seq, after)).orderBy(asc(tbl.seq)).limit(PAGE)) as unknown as ChainRow[];
    if (rows.length === 0) return;
    yield rows;
    after = rows[rows.length - 1].seq;
  }
}

/** The entries the signatures of a page name, by seq and by id (rows before migration 0003 have no entry_seq), in two queries. */
async function signaturesBelong(db: PgDb, sigs: SignatureRow[]) {
  const seqs = sigs.flatMap((s) => (s.entrySeq === null ? [] : [s.entrySeq]));
  const ids = sigs.flatMap((s) => (s.entrySeq === null ? [s.entryId] : []));
  const pick = { seq: t.entries.seq, id: t.entries.id, hash: t.entries.hash };
  const bySeq = new Map((seqs.length ? await db.select(pick).from(t.entries).where(inArray(t.entries.seq, seqs)) : []).map((e) => [e.seq, e]));
  const byId = new Map((ids.length ? await db.select(pick).from(t.entries).where(inArray(t.entries.id, ids)) : []).map((e) => [e.id, e]));
  return (s: SignatureRow) => {
    const e = s.entrySeq === null ? byId.get(s.entryId) : bySeq.get(s.entrySeq);
    return e?.id === s.entryId && e.hash === s.entryHash;
  };
}

export function walkPostgres(db: PgDb, legacyHeads: LegacyHeads, checkpoints: Checkpoint[]): Promise<ChainReport> {
  const rows: ChainRows = { pages: (table) => pagesOf(db, table), signaturesBelong: (sigs) => signaturesBelong(db, sigs) };
  return walkChains(rows, legacyHeads, checkpoints);
}
