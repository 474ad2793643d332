// R1: whether a batch's own rows still match their hashes; the API view and the PDF say so.
import type { AppContext } from '../context.js';
import { MOVED_SIGNATURE } from '../store/chain.js';
import type { BatchRecord } from './record.js';
import { rowMatchesChain } from './load.js';

export async function integrityOf(ctx: AppContext, r: BatchRecord): Promise<boolean> {
  // A failure that cannot be pinned on rows (missing or rewritten stretches, a damaged checkpoint
  // log) makes every batch's record untrustworthy; a row-level one only the batches it touches. A
  // signature moved onto another entry touches two batches, one of which lost a signature and whose
  // own rows still match: every batch says so.
  const failed = ctx.recordCheck.report?.firstInvalid;
  if (failed?.kind === 'chain' || failed?.reason === MOVED_SIGNATURE || ctx.integrity?.signer.damaged) return false;
  // The mutable row must show the identity its chained creation entry holds (R1: an edit is detected).
  const row = await ctx.store.getBatch(r.row.id);
  if (row && !rowMatchesChain(row, r.entries)) return false;
  return ctx.store.batchIntact(r.row.id, { entries: r.entries, signatures: r.signatures });
}

/**
 * R1 for a list of batches, which does not re-hash every batch's rows on every page: what the last
 * verification of the whole record found (at start and at every GET /audit/verify), and the batch's
 * own rows hashed again whenever that verification found a problem or has not run. A single batch
 * (GET /batches/{id}), its export and its PDF always hash its rows.
 */
export async function listedIntegrity(ctx: AppContext, batchId: string): Promise<boolean> {
  const report = ctx.recordCheck.report;
  const failed = report?.firstInvalid;
  if (failed?.kind === 'chain' || failed?.reason === MOVED_SIGNATURE || ctx.integrity?.signer.damaged) return false;
  if (report?.valid) return true;
  return ctx.store.batchIntact(batchId);
}
