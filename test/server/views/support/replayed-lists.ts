// The site-wide lists as they were served before their read-model tables (issue 12 item 7), kept as the
// oracle of test/server/views/list-read-models.test.ts: GET /me/pending by replaying every batch (this
// is server/views/pending-view.ts as it stood before, whole), GET /deviations by replaying every batch
// that has had one. Not used by the server.
import type { AppContext } from '../../../../server/context.js';
import type { UserRow } from '../../../../server/store/store.js';
import { loadBatch, processOf } from '../../../../server/record/load.js';
import { recordFromRow } from '../../../../server/record/record-state.js';
import { canRecord, statusOfRecord, stepsOf, type BatchRecord } from '../../../../server/record/record.js';
import { reviewState } from '../../../../server/record/exceptions.js';
import { awaitedTests, failedTests, releaseTests } from '../../../../server/record/release-tests.js';
import { scheduleOf } from '../../../../workflows/schedule.js';
import { t, type Lang } from '../../../../server/views/text.js';
import { deviationView } from '../../../../server/views/deviation-view.js';

type PendingAction = 'verify' | 'record-step' | 'enter-result' | 'investigate-deviation' | 'close-deviation' | 'sign-review' | 'dispose';

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

/** Everything the user can do now, batch by batch (in the order of batch ids). */
export async function replayedPending(ctx: AppContext, user: UserRow, lang: Lang = 'en'): Promise<PendingItem[]> {
  if (!holds(user, ['operator', 'supervisor', 'qc', 'qa'])) return [];
  const now = ctx.clock.now();
  const items: PendingItem[] = [];
  for (const id of (await ctx.store.allBatchIds()).sort()) {
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

/** Every deviation of every batch, oldest first, as GET /deviations lists them, each batch replayed. */
export async function replayedDeviations(ctx: AppContext, f: { status?: string; severity?: string } = {}) {
  const rows: { key: string; view: ReturnType<typeof deviationView> & { batchNumber: string } }[] = [];
  for (const id of await ctx.store.batchIdsWithEntryKind('deviation')) {
    const r = await loadBatch(ctx, id);
    r.deviations.forEach((d, i) => {
      if ((f.status && d.status !== f.status) || (f.severity && d.severity !== f.severity)) return;
      rows.push({ key: `${d.openedAt}|${id}|${String(i).padStart(6, '0')}`, view: { ...deviationView(d, r), batchNumber: r.row.batchNumber } });
    });
  }
  return rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((x) => x.view);
}
