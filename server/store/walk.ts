// The walk of the hash chains (21 CFR 11.10(a), 11.70), one for both databases: every row must carry
// the hash of its bytes (chain.ts, computed here in JavaScript from the values read, so the verdict
// never rests on how a database renders a row), link to the row before it, stand where the signed
// checkpoints say, and a signature must carry the hash of the entry it names. It reports the first row
// that fails and how, in the same words whichever database holds the record: a record moved between
// them is judged alike. Each database only says how it reads the rows (sqlite/verify.ts, postgres/verify.ts).
import { GENESIS, MOVED_SIGNATURE } from './chain.js';
import { CHAIN_TABLES, type ChainTable, type Checkpoint } from './checkpoints.js';
import { expectedHash, type AuditRow, type ChainReport, type EntryRow, type LegacyHeads, type SignatureRow } from './store.js';

export type ChainRow = EntryRow | SignatureRow | AuditRow;

/** How one database reads its chains for the walk. */
export interface ChainRows {
  /** The rows of a chain in seq order, a page at a time (constant memory); `training` as a boolean. */
  pages(table: ChainTable): AsyncIterable<ChainRow[]>;
  /** For a page of signatures: whether each one names an entry that has the id and the hash it carries. */
  signaturesBelong(page: SignatureRow[]): Promise<(s: SignatureRow) => boolean>;
}

/** Reads every row and recomputes its hash, in chain order, reporting the first row that fails and how. */
export async function walkChains(source: ChainRows, legacyHeads: LegacyHeads, checkpoints: Checkpoint[]): Promise<ChainReport> {
  let checked = 0;
  // Signed heads per table, by row seq: the rows must still end in the hashes that were signed.
  const signed = new Map<ChainTable, { seq: number; hash: string; n: number }[]>(
    CHAIN_TABLES.map((table) => [table, checkpoints.map((c) => ({ ...c.heads[table], n: c.n })).filter((h) => h.seq > 0)]),
  );
  const walk = async (table: ChainTable): Promise<ChainReport['firstInvalid']> => {
    let prev = GENESIS;
    let expectedSeq = 1;
    const heads = signed.get(table) ?? [];
    let lastGood = 0;
    for await (const rows of source.pages(table)) {
      const belongs = table === 'signatures' ? await source.signaturesBelong(rows as SignatureRow[]) : undefined;
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
