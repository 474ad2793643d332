// GET /me/pending: across every batch, what the caller can do now — verifications they may sign (not of
// their own steps), steps due or overdue for their roles, release results to enter, deviations to
// investigate or close, reviews and dispositions. A batch is read from its read model (its projection
// row, record/record-state.ts) unless QA's review or disposition of it is in question: the review
// reads the batch's exceptions, which need its whole record.
import type { AppContext } from '../context.js';
import type { UserRow } from '../store/store.js';
import { loadBatch, processOf } from '../record/load.js';
import { recordFromRow } from '../record/record-state.js';
import { canRecord, statusOfRecord, stepsOf, type BatchRecord } from '../record/record.js';
import { reviewState } from '../record/exceptions.js';
import { awaitedTests, failedTests, releaseTests } from '../record/release-tests.js';
import { scheduleOf } from '../../workflows/schedule.js';
import { t, type Lang } from './text.js';

export const PENDING_ACTIONS = ['verify', 'record-step', 'enter-result', 'investigate-deviation', 'close-deviation', 'sign-review', 'dispose'] as const;
export type PendingAction = (typeof PENDING_ACTIONS)[number];

export interface PendingItem {
  action: PendingAction; batchId: string; batchNumber: string; status: string;
  stepId?: string; entryId?: string; deviationId?: string; title: string;
  due?: 'due' | 'overdue' | 'upcoming'; opensAt?: string; closesAt?: string; detail?: string;
}

const holds = (user: UserRow, roles: readonly string[]) => user.roles.some((r) => roles.includes(r));

function pendingOfBatch(user: UserRow, r: BatchRecord, lang: Lang, now: Date): PendingItem[] {
  const status = statusOfRecord(r);
  const base = { batchId: r.row.id, batchNumber: r.row.batchNumber, status };
  const out: PendingItem[] = [];
  const steps = new Map(stepsOf(r).map((s) => [s.id, s]));
  // Verifications: entries awaiting a second person, of steps the user may verify, not performed by them.
  for (const [entryId, stepId] of Object.entries(r.snapshot.context.pending)) {
    const step = steps.get(stepId);
    const roles = step?.signatures.find((s) => s.meaning === 'verified')?.roles ?? [];
    if (!step || !holds(user, roles) || !r.snapshot.can({ type: 'verify', entryId })) continue;
    const performers = r.signatures.filter((s) => s.entryId === entryId && s.meaning === 'performed');
    if (performers.some((s) => s.userId === user.id)) continue;
    out.push({ ...base, action: 'verify', stepId, entryId, title: t(step.title, lang), detail: `performed by ${performers.map((s) => s.printedName).join(', ')}` });
  }
  // Steps and release results the user's roles perform, offered now.
  for (const step of steps.values()) {
    const roles = step.signatures.find((s) => s.meaning === 'performed')?.roles ?? [];
    if (!holds(user, roles) || !canRecord(r, step.id)) continue;
    const { window, remaining } = scheduleOf(step, r.history, r.snapshot.context.counts, now);
    // A repeatable step with nothing required left, or an optional one, waits for nobody.
    if ((step.repeatable && remaining === 0) || !step.required) continue;
    const opens = window?.opensAt ? Date.parse(window.opensAt) : undefined;
    const closes = window?.closesAt ? Date.parse(window.closesAt) : undefined;
    const due = closes !== undefined && closes < now.getTime() ? 'overdue' : opens !== undefined && opens > now.getTime() ? 'upcoming' : 'due';
    out.push({
      ...base, action: step.stage === 'release' ? 'enter-result' : 'record-step', stepId: step.id, title: t(step.title, lang), due,
      ...(window?.opensAt && { opensAt: window.opensAt }), ...(window?.closesAt && { closesAt: window.closesAt }),
    });
  }
  if (!holds(user, ['qa'])) return out;
  for (const d of r.deviations) {
    if (d.status === 'closed') continue;
    out.push({ ...base, action: d.status === 'open' ? 'investigate-deviation' : 'close-deviation', deviationId: d.id, ...(d.stepId && { stepId: d.stepId }), title: d.description, detail: `${d.kind}, ${d.severity}, ${d.status}` });
  }
  const open = r.deviations.some((d) => d.status !== 'closed');
  const reviewed = reviewState(r, r.qa.reviews).current;
  if (status === 'qa_review' && !open && !reviewed) out.push({ ...base, action: 'sign-review', title: lang === 'vi' ? 'Xem xét hồ sơ lô' : 'Review the batch record' });
  // A released batch with a new exception (a post-release finding) is reviewed again.
  if (status === 'released' && !open && !reviewed && r.qa.reviews.length > 0) out.push({ ...base, action: 'sign-review', title: lang === 'vi' ? 'Xem xét lại sau xuất xưởng' : 'Review what followed release' });
  if (status === 'qa_review' && !open && reviewed) {
    // S6: only a QA person who performed and verified none of the batch's steps can sign its disposition.
    const involved = r.signatures.some((s) => s.userId === user.id && (s.meaning === 'performed' || s.meaning === 'verified'));
    const tests = releaseTests(r);
    if (!involved && awaitedTests(tests).length === 0) {
      const failed = failedTests(tests).length;
      out.push({ ...base, action: 'dispose', title: lang === 'vi' ? 'Quyết định xuất xưởng' : 'Disposition', detail: failed ? `${failed} release test(s) failed: reject, or release exceptionally` : 'every release test passed' });
    }
  }
  return out;
}

/** Everything the user can do now, batch by batch (oldest batch first). */
export async function pendingFor(ctx: AppContext, user: UserRow, lang: Lang = 'en'): Promise<PendingItem[]> {
  if (!holds(user, ['operator', 'supervisor', 'qc', 'qa'])) return [];
  const now = ctx.clock.now();
  const items: PendingItem[] = [];
  for (const id of await ctx.store.allBatchIds()) {
    const row = (await ctx.store.getBatch(id))!;
    // A rejected or terminated batch waits for nothing but its open deviations (QA).
    if ((row.status === 'rejected' || row.status === 'terminated') && (row.openDeviations === 0 || !holds(user, ['qa']))) continue;
    if (row.status === 'released' && row.openDeviations === 0 && !holds(user, ['qa', 'qc'])) continue;
    const whole = holds(user, ['qa']) && (row.status === 'qa_review' || row.status === 'released');
    const record = (!whole && recordFromRow(await processOf(ctx, row), row)) || await loadBatch(ctx, id);
    items.push(...pendingOfBatch(user, record, lang, now));
  }
  return items;
}
