// Rules every QA command applies the same way: finding a deviation by its id,
// and the separation of duties of a disposition (who may do what: server/permissions.ts). Shared by the deviation, review and disposition commands.
import type { AppContext } from '../context.js';
import { alreadyAudited, forbidden, notFound } from '../errors.js';
import type { UserRow } from '../store/store.js';
import { loadBatch } from '../record/load.js';
import type { BatchRecord, Deviation } from '../record/record.js';
import { auditRefusal } from './append.js';

/** A deviation and the batch it belongs to, replayed; 404 when no batch has it. */
export function loadDeviation(ctx: AppContext, deviationId: string): { record: BatchRecord; deviation: Deviation } {
  const entry = ctx.store.getEntry(deviationId);
  if (!entry || entry.kind !== 'deviation') throw notFound('deviation', deviationId);
  const record = loadBatch(ctx, entry.batchId);
  const deviation = record.deviations.find((d) => d.id === deviationId);
  if (!deviation) throw notFound('deviation', deviationId);
  return { record, deviation };
}

/**
 * 21 CFR 211.22, 211.101(d); EU GMP Part IV §6.5; S6: whoever signs a disposition performed and verified
 * none of the batch's steps, whatever roles they hold. Closing deviations or signing the review does not
 * disqualify (API.md "Review and disposition"). The refusal is audited on the batch.
 */
export function assertIndependentOfBatch(ctx: AppContext, signer: UserRow, record: BatchRecord) {
  const own = record.signatures.filter((s) => s.userId === signer.id && (s.meaning === 'performed' || s.meaning === 'verified'));
  if (own.length === 0) return;
  const did = [...new Set(own.map((s) => s.meaning))].join(' and ');
  auditRefusal(ctx, signer, record, 'signature.refused', `the disposer ${did} steps of this batch`, { entryIds: [...new Set(own.map((s) => s.entryId))] });
  throw alreadyAudited(forbidden('separation-of-duties', `${signer.username} ${did} ${own.length} signature(s) on steps of batch ${record.row.batchNumber} and cannot sign its disposition; another QA person must`));
}
