// Honest times (ALCOA+ contemporaneous and consistent; 21 CFR 211.100(b), 11.10(e)): a step says when
// the work was done at the bench (`performedAt`) beside when it was entered (`recordedAt`, the
// server's clock). Shared by the commands that record a step.
import type { AppContext } from '../context.js';
import { alreadyAudited, badRequest, refused, type FieldProblem } from '../errors.js';
import type { UserRow } from '../store/store.js';
import type { BatchRecord } from '../record/record.js';
import type { Step } from '../../workflows/definition.js';
import { lateness } from '../../workflows/schedule.js';
import { isIsoUtc, performedAtOf } from '../../workflows/values.js';
import { auditRefusal } from './append.js';

/** A terminal clock a little ahead of the server's is not a time in the future. */
export const PERFORMED_AT_SKEW_MS = 2 * 60_000;

/** When the step was performed: as sent, or now. A time in the future (beyond the skew) is a value error (400). */
export function performedAtOrNow(sent: string | undefined, now: Date): Date {
  if (sent === undefined) return now;
  if (!isIsoUtc(sent)) throw badRequest('performedAt is not a time', [{ field: 'performedAt', message: 'performedAt must be an ISO-8601 UTC time (e.g. 2026-01-31T08:30:00Z)' }]);
  const t = new Date(sent);
  if (t.getTime() > now.getTime() + PERFORMED_AT_SKEW_MS) {
    throw badRequest('performedAt is in the future', [{ field: 'performedAt', message: `performedAt (${sent}) is later than the current time ${now.toISOString()}` }]);
  }
  return t;
}

/**
 * 422 (audited: back-dating is what an inspector looks for) when the step says it was performed
 * before the batch existed or before a step it follows was performed; 422 when a late entry gives
 * no reason. ALCOA+: an entry made late is allowed, with its reason, and listed for QA's review.
 */
export async function assertHonestTimes(ctx: AppContext, actor: UserRow, record: BatchRecord, step: Step, values: Record<string, unknown>, performedAt: Date, lateReason: string | undefined) {
  const at = performedAt.getTime();
  const problems: FieldProblem[] = [];
  const vi: string[] = [];
  const sent = performedAt.toISOString();
  const createdAt = record.entries.find((e) => e.kind === 'batch-created')?.recordedAt ?? record.row.createdAt;
  if (at < Date.parse(createdAt)) {
    problems.push({ field: 'performedAt', message: `performedAt (${sent}) is before the batch was created (${createdAt})` });
    vi.push(`performedAt (${sent}) trước thời điểm lô được tạo (${createdAt})`);
  }
  for (const id of step.after) {
    const last = record.history.occurrences[id]?.at(-1);
    if (last && at < Date.parse(performedAtOf(last))) {
      const title = record.process.definition.phases.flatMap((p) => p.steps).find((s) => s.id === id)?.title ?? { en: id, vi: id };
      problems.push({ field: 'performedAt', message: `performedAt (${sent}) is before "${title.en}", which this step follows, was performed (${performedAtOf(last)})` });
      vi.push(`performedAt (${sent}) trước khi bước «${title.vi}», bước mà bước này theo sau, được thực hiện (${performedAtOf(last)})`);
    }
  }
  if (problems.length) {
    const detail = problems.map((p) => p.message).join('; ');
    await auditRefusal(ctx, actor, record, 'step.refused', detail, { stepId: step.id, values, performedAt: sent });
    throw alreadyAudited(refused('performed-at-refused', detail, problems).inVietnamese(vi.join('; '), vi));
  }
  const late = lateness(record.process.definition, step, performedAt.toISOString(), ctx.clock.now().toISOString());
  if (late && !lateReason) {
    throw refused('late-entry-reason-required', `"${step.title.en}" is entered ${Math.round(late.minutes)} min after it was performed, more than the ${late.tolerance} min allowed: a late entry needs a reason`,
      [{ field: 'lateReason', message: `a late entry (more than ${late.tolerance} min after performedAt) needs a reason` }])
      .inVietnamese(`bước «${step.title.vi}» được ghi ${Math.round(late.minutes)} phút sau khi thực hiện, quá ${late.tolerance} phút cho phép: bản ghi muộn cần có lý do`,
        [`bản ghi muộn (hơn ${late.tolerance} phút sau performedAt) cần có lý do`]);
  }
}
