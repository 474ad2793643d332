// The rows of the two site-wide lists a batch contributes to, computed from its record: one per
// deviation (GET /deviations) and one per piece of work someone could do on it now (GET /me/pending).
// They are written with every write to the batch, in its transaction (commands/append.ts), and
// rebuilt-and-compared from the entries by services/projection.ts, like the batch's projection row. So
// a list reads its page from an index instead of replaying the site's batches (issue 12 item 7).
//
// A pending row does not depend on who asks or when: it names a role that may do the work, the
// users who may not (21 CFR 211.188(b)(11) and S6: nobody verifies their own step, nobody who performed
// or verified a step disposes of the batch), and the windows of its step; the view chooses the window
// and whether it is due at the time of the read (views/pending-view.ts).
import type { DeviationListRow, PendingWorkRow } from '../store/store.js';
import type { WindowView } from '../../workflows/schedule.js';
import { dayOccurrences, scheduleOf } from '../../workflows/schedule.js';
import { canRecord, openDeviationCount, statusOfRecord, stepsOf, type BatchRecord, type Deviation } from './record.js';
import { reviewState } from './exceptions.js';
import { awaitedTests, failedTests, releaseTests } from './release-tests.js';
import { deviationView } from '../views/deviation-view.js';

export const PENDING_ACTIONS = ['verify', 'record-step', 'enter-result', 'investigate-deviation', 'close-deviation', 'sign-review', 'dispose'] as const;
export type PendingAction = (typeof PENDING_ACTIONS)[number];

/** A pending item as stored: the title in both languages, every window its step may show. */
export interface StoredPendingItem {
  action: PendingAction; batchId: string; batchNumber: string; status: string;
  stepId?: string; entryId?: string; deviationId?: string; title: { en: string; vi: string };
  detail?: string;
  /** Present for steps to record: the windows of the step (one, or one per required day still open); the view shows the first that has not closed at the time of the read, else the last. */
  windows?: WindowView[];
}

/** Oldest first; deviations opened at the same time keep their batch's order (append-only: stable). */
export const deviationSortKey = (d: Deviation, batchId: string, index: number) => `${d.openedAt}|${batchId}|${String(index).padStart(6, '0')}`;

export function deviationRows(r: BatchRecord): DeviationListRow[] {
  return r.deviations.map((d, i) => ({
    deviationId: d.id, batchId: r.row.id, sortKey: deviationSortKey(d, r.row.id, i), status: d.status, severity: d.severity,
    item: JSON.stringify({ ...deviationView(d, r), batchNumber: r.row.batchNumber }),
  }));
}

const roleSet = (roles: readonly string[]) => `,${roles.join(',')},`;

/** Every window the step may show for what is still to be recorded (scheduleOf picks one of them by the time). */
function windowsOf(r: BatchRecord, step: ReturnType<typeof stepsOf>[number]): WindowView[] {
  if (step.repeatable && step.occurrences && 'days' in step.occurrences) {
    const days = dayOccurrences(step, r.history);
    return days.filter((d) => !d.covered).map((d) => ({ opensAt: new Date(d.opens).toISOString(), closesAt: new Date(d.closes).toISOString() }));
  }
  // Any time will do: the window of a step that is not recorded by the day does not depend on it.
  const { window } = scheduleOf(step, r.history, r.snapshot.context.counts, new Date(0));
  return window ? [window] : [];
}

/** What anyone could do on this batch now, in the order GET /me/pending lists it, with who may do each. */
export function pendingRows(r: BatchRecord): PendingWorkRow[] {
  const status = statusOfRecord(r);
  const openDeviations = openDeviationCount(r);
  // A rejected or terminated batch waits for nothing but its open deviations (QA); a released batch
  // with none open waits only for QA and QC (results that may follow release, a new review).
  let gate: string | null = null;
  if (status === 'rejected' || status === 'terminated') {
    if (openDeviations === 0) return [];
    gate = roleSet(['qa']);
  } else if (status === 'released' && openDeviations === 0) gate = roleSet(['qa', 'qc']);

  const base = { batchId: r.row.id, batchNumber: r.row.batchNumber, status };
  const items: { roles: readonly string[]; excluded: string[]; item: StoredPendingItem }[] = [];
  const steps = new Map(stepsOf(r).map((s) => [s.id, s]));
  // Verifications: entries awaiting a second person, never the performer.
  for (const [entryId, stepId] of Object.entries(r.snapshot.context.pending)) {
    const step = steps.get(stepId);
    const roles = step?.signatures.find((s) => s.meaning === 'verified')?.roles ?? [];
    if (!step || roles.length === 0 || !r.snapshot.can({ type: 'verify', entryId })) continue;
    const performers = r.signatures.filter((s) => s.entryId === entryId && s.meaning === 'performed');
    items.push({
      roles, excluded: performers.map((s) => s.userId),
      item: { ...base, action: 'verify', stepId, entryId, title: step.title, detail: `performed by ${performers.map((s) => s.printedName).join(', ')}` },
    });
  }
  // Steps and release results offered now.
  for (const step of steps.values()) {
    const roles = step.signatures.find((s) => s.meaning === 'performed')?.roles ?? [];
    if (roles.length === 0 || !canRecord(r, step.id)) continue;
    const { remaining } = scheduleOf(step, r.history, r.snapshot.context.counts, new Date(0));
    // A repeatable step with nothing required left, or an optional one, waits for nobody.
    if ((step.repeatable && remaining === 0) || !step.required) continue;
    items.push({ roles, excluded: [], item: { ...base, action: step.stage === 'release' ? 'enter-result' : 'record-step', stepId: step.id, title: step.title, windows: windowsOf(r, step) } });
  }
  // QA's work.
  const qa = ['qa'];
  for (const d of r.deviations) {
    if (d.status === 'closed') continue;
    items.push({
      roles: qa, excluded: [],
      item: { ...base, action: d.status === 'open' ? 'investigate-deviation' : 'close-deviation', deviationId: d.id, ...(d.stepId && { stepId: d.stepId }), title: { en: d.description, vi: d.description }, detail: `${d.kind}, ${d.severity}, ${d.status}` },
    });
  }
  if ((status === 'qa_review' || status === 'released') && openDeviations === 0) {
    // The review reads the batch's exceptions, which need its whole record: this is where it is whole.
    const reviewed = reviewState(r, r.qa.reviews).current;
    if (status === 'qa_review' && !reviewed) items.push({ roles: qa, excluded: [], item: { ...base, action: 'sign-review', title: { en: 'Review the batch record', vi: 'Xem xét hồ sơ lô' } } });
    // A released batch with a new exception (a post-release finding) is reviewed again.
    if (status === 'released' && !reviewed && r.qa.reviews.length > 0) items.push({ roles: qa, excluded: [], item: { ...base, action: 'sign-review', title: { en: 'Review what followed release', vi: 'Xem xét lại sau xuất xưởng' } } });
    if (status === 'qa_review' && reviewed) {
      const tests = releaseTests(r);
      if (awaitedTests(tests).length === 0) {
        // S6: only a QA person who performed and verified none of the batch's steps can sign its disposition.
        const involved = [...new Set(r.signatures.filter((s) => s.meaning === 'performed' || s.meaning === 'verified').map((s) => s.userId))];
        const failed = failedTests(tests).length;
        items.push({
          roles: qa, excluded: involved,
          item: { ...base, action: 'dispose', title: { en: 'Disposition', vi: 'Quyết định xuất xưởng' }, detail: failed ? `${failed} release test(s) failed: reject, or release exceptionally` : 'every release test passed' },
        });
      }
    }
  }
  // One row per role that may do it (in the order the store returns them), so a caller's page is read from the index of their roles.
  return items.flatMap((x, position) => {
    const item = JSON.stringify(x.item);
    return [...new Set(x.roles)].sort().map((role) => ({ batchId: r.row.id, position, role, action: x.item.action, gate, excluded: roleSet(x.excluded), item }));
  });
}
