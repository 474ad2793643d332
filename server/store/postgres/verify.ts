// Verification of the hash chains in PostgreSQL (21 CFR 11.10(a), 11.70): the walk of the SQLite store
// (server/store/sqlite/verify.ts, walkChains) over rows read a page at a time in seq order: every row
// must carry the hash of its bytes (chain.ts, computed here in JavaScript from the values read, so the
// verdict never rests on how PostgreSQL renders a row), link to the row before it, stand where the
// signed checkpoints say, and a signature must carry the hash of the entry it names. The same findings
// in the same words as SQLite's walk: a record moved between the databases is judged alike.
import { asc, gt, inArray } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import * as t from './tables.js';
import type { PgDb } from './database.js';
import { GENESIS } from '../chain.js';
import type { ChainTable, Checkpoint } from '../checkpoints.js';
import { expectedHash, type AuditRow, type ChainReport, type EntryRow, type LegacyHeads, type SignatureRow } from '../store.js';

/** Why a signature fails when it names another entry than the one it was made for (21 CFR 11.70). */
const MOVED_SIGNATURE = 'the signature does not belong to the entry it names';

const PAGE = 5000;

const TABLES = { entries: t.entries, signatures: t.signatures, audit_log: t.auditLog } as const;

type Row = EntryRow | SignatureRow | AuditRow;

/** The rows of a chain in seq order, a page at a time (constant memory). */
async function* rowsOf(db: PgDb, table: ChainTable): AsyncGenerator<Row[]> {
  const tbl = TABLES[table];
  let after = 0;
  for (;;) {
    const rows = (await db.select().from(tbl as PgTable).where(gt(tbl.seq, after)).orderBy(asc(tbl.seq)).limit(PAGE)) as unknown as Row[];
    if (rows.length === 0) return;
    yield rows;
    after = rows[rows.length - 1].seq;
  }
}

export async function walkPostgres(db: PgDb, legacyHeads: LegacyHeads, checkpoints: Checkpoint[]): Promise<ChainReport> {
  let checked = 0;
  const signed = new Map<ChainTable, { seq: number; hash: string; n: number }[]>(
    (['entries', 'signatures', 'audit_log'] as const).map((table) => [table, checkpoints.map((c) => ({ ...c.heads[table], n: c.n })).filter((h) => h.seq > 0)]),
  );
  /** The entries the signatures of a page name, by seq and by id, in two queries. */
  const entriesFor = async (sigs: SignatureRow[]) => {
    const seqs = sigs.flatMap((s) => (s.entrySeq === null ? [] : [s.entrySeq]));
    const ids = sigs.flatMap((s) => (s.entrySeq === null ? [s.entryId] : []));
    const pick = { seq: t.entries.seq, id: t.entries.id, hash: t.entries.hash };
    const bySeq = new Map((seqs.length ? await db.select(pick).from(t.entries).where(inArray(t.entries.seq, seqs)) : []).map((e) => [e.seq, e]));
    const byId = new Map((ids.length ? await db.select(pick).from(t.entries).where(inArray(t.entries.id, ids)) : []).map((e) => [e.id, e]));
    return (s: SignatureRow) => {
      const e = s.entrySeq === null ? byId.get(s.entryId) : bySeq.get(s.entrySeq);
      return e?.id === s.entryId && e.hash === s.entryHash;
    };
  };
  const walk = async (table: ChainTable): Promise<ChainReport['firstInvalid']> => {
    let prev = GENESIS;
    let expectedSeq = 1;
    const heads = signed.get(table) ?? [];
    let lastGood = 0;
    for await (const rows of rowsOf(db, table)) {
      const belongs = table === 'signatures' ? await entriesFor(rows as SignatureRow[]) : undefined;
      for (const r of rows) {
        checked++;
        if (r.seq !== expectedSeq) return { table, seq: expectedSeq, reason: `row ${expectedSeq} is missing`, kind: 'chain' };
        if (r.prevHash !== prev) return { table, seq: r.seq, reason: 'the link to the previous row is broken', kind: 'chain' };
        let hash: string;
        try {
          hash = expectedHash(table as 'entries', r as EntryRow, legacyHeads);
        } catch {
          return { table, seq: r.seq, reason: 'the row cannot be read', kind: 'row' };
        }
        if (hash !== r.hash) return { table, seq: r.seq, reason: 'the row does not match its hash', kind: 'row' };
        if (belongs && !belongs(r as SignatureRow)) return { table, seq: r.seq, reason: MOVED_SIGNATURE, kind: 'row' };
        for (const h of heads.filter((x) => x.seq === r.seq)) {
          if (h.hash !== r.hash) {
            return { table, seq: lastGood + 1, reason: `rows ${lastGood + 1}–${r.seq} differ from what signed checkpoint ${h.n} recorded (the chain was rewritten)`, kind: 'chain' };
          }
          lastGood = r.seq;
        }
        prev = r.hash;
        expectedSeq++;
      }
    }
    const beyond = heads.find((h) => h.seq >= expectedSeq);
    if (beyond) return { table, seq: expectedSeq, reason: `rows ${expectedSeq}–${beyond.seq} are missing: signed checkpoint ${beyond.n} recorded them`, kind: 'chain' };
    return undefined;
  };
  const firstInvalid = (await walk('entries')) ?? (await walk('signatures')) ?? (await walk('audit_log'));
  const n = checkpoints.length ? { checkpoints: checkpoints.length } : {};
  return firstInvalid ? { valid: false, checked, ...n, firstInvalid } : { valid: true, checked, ...n };
}
