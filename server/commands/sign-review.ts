// QA signs the review of a batch's record and of its audit trail (C4; 21 CFR 211.192; EU GMP Annex 11
// §9: audit trails reviewed). The review is by exception: it records which exceptions it covered, and
// an exception of the record that appears later (a correction, a new deviation) voids it.
import type { AppContext } from '../context.js';
import { conflict, refused } from '../errors.js';
import { deviationVi, statusVi } from '../problem-texts.js';
import type { UserRow } from '../store/store.js';
import { assertSignerRole, authenticateSigner, type SignatureInput } from '../services/accounts.js';
import { loadBatch } from '../record/load.js';
import { statusOfRecord } from '../record/record.js';
import { auditExceptions, recordExceptions } from '../record/exceptions.js';
import { appendToBatch, assertVersion } from './append.js';
import { assertMay, PERMISSIONS } from '../permissions.js';

/** Reviewed once every release result that release waits for is in; again after release, for what followed it. */
const REVIEWABLE = ['qa_review', 'released'];

export interface SignReviewInput { comment?: string; signature: SignatureInput; expectedVersion?: number }

export async function signReview(ctx: AppContext, actor: UserRow, batchId: string, input: SignReviewInput) {
  const record = await loadBatch(ctx, batchId);
  assertMay(actor, 'batch.review');
  assertVersion(record, input.expectedVersion);
  const status = statusOfRecord(record);
  if (!REVIEWABLE.includes(status)) {
    throw conflict('not-ready-for-review', `the batch is ${status}; its record is reviewed once it is in qa_review`)
      .inVietnamese(`lô ${statusVi(status)}; hồ sơ được xem xét khi lô đang chờ QA xem xét`);
  }
  const signer = await authenticateSigner(ctx, input.signature, batchId);
  await assertSignerRole(ctx, signer, PERMISSIONS['batch.review'].roles, 'the review of a batch record', batchId);
  // C3, API.md: the review can be signed only when no deviation is open.
  const open = record.deviations.filter((d) => d.status !== 'closed');
  if (open.length) {
    throw refused('deviations-open', `${open.length} deviation(s) of batch ${record.row.batchNumber} are still open; close them before the review`,
      open.map((d) => ({ field: `deviations.${d.id}`, message: `${d.kind} deviation (${d.severity}, ${d.status}): ${d.description}` })))
      .inVietnamese(`${open.length} sai lệch của lô ${record.row.batchNumber} vẫn còn mở; hãy đóng chúng trước khi xem xét`, open.map((d) => `${deviationVi(d)}: ${d.description}`));
  }
  const covered = [...recordExceptions(record), ...auditExceptions(await ctx.store.auditOfBatch(batchId))].map((x) => x.id);
  const { result: entry, record: next } = await appendToBatch(ctx, record, signer, async (w) => {
    const e = await w.entry('review', { covered, ...(input.comment !== undefined && { comment: input.comment }) });
    await w.sign(e, signer, 'reviewed');
    await w.audit({ action: 'review.signed', entity: 'batch', entityId: batchId, after: { entryId: e.id, covered: covered.length, comment: input.comment, signedBy: signer.username, session: actor.username } });
    return e;
  });
  return { entryId: entry.id, covered, record: next };
}
