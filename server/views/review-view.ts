// GET /batches/{id}/review: what QA must look at (review by exception), the reviews signed and whether
// the latest still stands, the deviations with their investigations, the release tests and the
// disposition. The same JSON is the batch's evidence packet.
import type { AppContext } from '../context.js';
import type { BatchRecord } from '../record/record.js';
import { statusOfRecord } from '../record/record.js';
import { auditExceptions, recordExceptions, reviewState, type BatchException } from '../record/exceptions.js';
import { batchSummary } from './batch-view.js';
import { deviationView } from './deviation-view.js';
import { signatureView } from './entry-view.js';
import { coaTests } from './coa-view.js';
import { dispositionView } from './disposition-view.js';
import type { Lang } from './text.js';

export const exceptionView = (x: BatchException, covered: Set<string>) => ({
  id: x.id, kind: x.kind, target: x.target, ...(x.stepId && { stepId: x.stepId }), at: x.at, why: x.why,
  voidsReview: x.record, covered: covered.has(x.id),
});

export function reviewView(ctx: AppContext, r: BatchRecord, lang: Lang = 'en') {
  const exceptions = [...recordExceptions(r), ...auditExceptions(ctx.store.auditOfBatch(r.row.id))].sort((a, b) => a.at.localeCompare(b.at));
  const state = reviewState(r, r.qa.reviews, exceptions);
  const latest = r.qa.reviews[r.qa.reviews.length - 1];
  const covered = new Set(latest?.covered ?? []);
  const signature = (entryId: string) => { const s = r.signatures.find((x) => x.entryId === entryId); return s ? signatureView(s) : undefined; };
  const open = r.deviations.filter((d) => d.status !== 'closed');
  const status = statusOfRecord(r);
  return {
    batch: batchSummary(r),
    generatedAt: ctx.clock.now().toISOString(),
    exceptions: exceptions.map((x) => exceptionView(x, covered)),
    /** Whether a review can be signed now, and if not, why. */
    reviewable: (status === 'qa_review' || status === 'released') && open.length === 0,
    ...(open.length > 0 && { blockedBy: open.map((d) => d.id) }),
    reviews: r.qa.reviews.map((v) => ({
      entryId: v.entryId, signedAt: v.signedAt, ...(v.comment !== undefined && { comment: v.comment }), covered: v.covered,
      signature: signature(v.entryId) ?? null, current: state.current?.entryId === v.entryId,
    })),
    currentReview: state.current ? { entryId: state.current.entryId, signedAt: state.current.signedAt } : null,
    ...(state.voided && { voidedReview: { entryId: state.voided.review.entryId, signedAt: state.voided.review.signedAt, voidedBy: state.voided.by } }),
    deviations: r.deviations.map((d) => deviationView(d, r)),
    releaseTests: coaTests(r, lang),
    disposition: dispositionView(r),
  };
}
