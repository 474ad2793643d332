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
import { recordAsOf } from './export-view.js';
import { t, type Lang } from './text.js';

export const exceptionView = (x: BatchException, covered: Set<string>, lang: Lang) => ({
  id: x.id, kind: x.kind, target: x.target, ...(x.stepId && { stepId: x.stepId }), at: x.at, why: t(x.why, lang),
  voidsReview: x.record, covered: covered.has(x.id),
});

export async function reviewView(ctx: AppContext, r: BatchRecord, lang: Lang = 'en') {
  const exceptions = [...recordExceptions(r), ...auditExceptions(await ctx.store.auditOfBatch(r.row.id))].sort((a, b) => a.at.localeCompare(b.at));
  const state = reviewState(r, r.qa.reviews, exceptions);
  const latest = r.qa.reviews[r.qa.reviews.length - 1];
  const covered = new Set(latest?.covered ?? []);
  const signature = (entryId: string) => { const s = r.signatures.find((x) => x.entryId === entryId); return s ? signatureView(s) : undefined; };
  const open = r.deviations.filter((d) => d.status !== 'closed');
  const status = statusOfRecord(r);
  return {
    batch: batchSummary(r),
    generatedAt: ctx.clock.now().toISOString(),
    exceptions: exceptions.map((x) => exceptionView(x, covered, lang)),
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

/** The version of the evidence packet's JSON as the PDF attaches it (review.json). */
export const EVIDENCE_PACKET_FORMAT = 'cellbatch.evidence-packet/1';

/**
 * The evidence packet as archived (GET /batches/{id}/review.pdf attaches it as review.json): the JSON
 * of GET /review, as of the batch's latest row rather than the clock, so that the same record gives
 * the same document; narrowed to one deviation of the batch when one is named — that deviation and
 * the exceptions that point to it, to its entry or to its step. The deviation must be the batch's.
 */
export async function evidencePacket(ctx: AppContext, r: BatchRecord, lang: Lang, deviationId?: string) {
  const packet = { format: EVIDENCE_PACKET_FORMAT, ...await reviewView(ctx, r, lang), generatedAt: await recordAsOf(ctx, r) };
  const d = deviationId === undefined ? undefined : r.deviations.find((x) => x.id === deviationId);
  if (!d) return packet;
  const concerns = (x: (typeof packet.exceptions)[number]) =>
    (x.target.type === 'deviation' && x.target.id === d.id) || (d.entryId !== undefined && x.target.type === 'entry' && x.target.id === d.entryId) || (d.stepId !== undefined && x.stepId === d.stepId);
  return { ...packet, scope: { deviationId: d.id }, exceptions: packet.exceptions.filter(concerns), deviations: packet.deviations.filter((x) => x.id === d.id) };
}
