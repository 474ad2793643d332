// The batch seal: the server's signature, with its checkpoint key, over the list of a batch's chained
// rows (table, seq, hash) and the signed checkpoint that covers them, made only when the whole record
// has just verified against every signed checkpoint. The chains are shared by all batches, so an export
// cannot carry the rows of other batches (other patients' data) that link a batch's rows to a signed
// head, and links by hash alone would prove nothing: a row's hash cannot be recomputed without its
// cells. The seal lets a reader without the server prove instead that each of the batch's rows is the
// one the verified chain held, and that none is missing (21 CFR 11.10(a), (b); Annex 11 §7, §8).
// docs/export-format.md, "The batch seal".
import { sign } from 'node:crypto';
import type { AppContext } from '../context.js';
import { canonicalJson } from '../store/chain.js';
import { checkpointHash, CHAIN_TABLES, type ChainTable, type Checkpoint } from '../store/checkpoints.js';
import { trustOf, verifyRecord } from '../services/integrity.js';

export const SEAL_PURPOSE = 'cellbatch.batch-seal/1';

export interface SealStatement {
  purpose: typeof SEAL_PURPOSE;
  batchId: string;
  /** The record's date (the export's asOf). */
  asOf: string;
  /** The latest of the export's checkpoints: its heads reach every row below. */
  checkpoint: { n: number; hash: string };
  rows: Record<ChainTable, { seq: number; hash: string }[]>;
}
export interface Seal { statement: SealStatement; keyId: string; signature: string }

/**
 * The seal of a batch's rows, or undefined when none can honestly be made: no signing key (an
 * in-memory database), rows no checkpoint covers, or a record that does not verify as a whole. What
 * is signed is the canonical JSON of the statement; Ed25519 is deterministic, so the same record gives
 * the same seal (and the same PDF bytes).
 */
export async function sealOf(ctx: AppContext, batchId: string, asOf: string, rows: Record<ChainTable, { seq: number; hash: string }[]>, checkpoints: Checkpoint[]): Promise<Seal | undefined> {
  const integrity = ctx.integrity;
  const latest = checkpoints[checkpoints.length - 1];
  // The last signed checkpoint before the verification: every row at or below its heads is one the
  // verification below walked (rows written while it runs lie beyond, and are not sealed).
  const verifiedTo = await ctx.store.lastCheckpoint();
  if (!integrity || !latest || !verifiedTo || latest.n > verifiedTo.n) return undefined;
  if (CHAIN_TABLES.some((t) => rows[t].some((r) => r.seq > verifiedTo.heads[t].seq))) return undefined;
  // The whole record, as GET /audit/verify checks it: every chain against every signed checkpoint.
  // Sealing rows that were rewritten (hashes recomputed) in the database would vouch for a forgery.
  if (!(await verifyRecord(ctx.store, trustOf(integrity))).valid) return undefined;
  const statement: SealStatement = {
    purpose: SEAL_PURPOSE, batchId, asOf, checkpoint: { n: latest.n, hash: checkpointHash(latest) },
    rows: Object.fromEntries(CHAIN_TABLES.map((t) => [t, rows[t].map((r) => ({ seq: r.seq, hash: r.hash }))])) as SealStatement['rows'],
  };
  return { statement, keyId: integrity.key.id, signature: sign(null, Buffer.from(canonicalJson(statement)), integrity.key.privateKey).toString('base64') };
}
