// Time windows of steps and required occurrences of repeatable steps. Windows are shown, not
// enforced (API.md): a step outside its window is accepted and opens a timing deviation. Pure.
import { lateEntryTolerance, type ProcessDefinition, type Ref, type Step } from './definition.js';
import { performedAtOf, type StepHistory } from './values.js';

const HOUR = 3_600_000;

export interface WindowView { opensAt?: string; closesAt?: string }

/** The time a reference points to in earlier steps (a datetime field, or when the step was performed). */
export function referenceTime(ref: Ref, history: StepHistory, own?: Record<string, unknown>): number | undefined {
  let v: unknown;
  if (!ref.step) v = ref.field ? own?.[ref.field] : undefined;
  else {
    const list = history.occurrences[ref.step] ?? [];
    const last = list[list.length - 1];
    v = last && (ref.field ? last.values[ref.field] : performedAtOf(last));
  }
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isNaN(t) ? undefined : t;
}

const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString());

function span(base: number, opensAfterHours?: number, closesAfterHours?: number) {
  return {
    opens: opensAfterHours === undefined ? undefined : base + opensAfterHours * HOUR,
    closes: closesAfterHours === undefined ? undefined : base + closesAfterHours * HOUR,
  };
}

/** Required occurrences on given days: each day's window and whether an occurrence fell inside it. */
export function dayOccurrences(step: Step, history: StepHistory) {
  const occ = step.occurrences;
  if (!occ || !('days' in occ)) return [];
  const base = referenceTime(occ.from, history);
  if (base === undefined) return [];
  const times = (history.occurrences[step.id] ?? []).map((o) => Date.parse(performedAtOf(o)));
  // Days that open after the step that ends them (harvest ends the culture checks) are no longer due.
  const endedAt = step.until ? referenceTime({ step: step.until }, history) : undefined;
  return occ.days.filter((day) => endedAt === undefined || base + day * 24 * HOUR < endedAt).map((day) => {
    const opens = base + day * 24 * HOUR;
    const closes = opens + 24 * HOUR;
    return { day, opens, closes, covered: times.some((t) => t >= opens && t < closes) };
  });
}

/**
 * What `availableSteps` shows for a step: its window and, for a repeatable step, how many required
 * occurrences are still due (the window is then that of the next one).
 */
export function scheduleOf(step: Step, history: StepHistory, counts: Record<string, number>, now: Date): { window?: WindowView; remaining?: number } {
  const recorded = (history.occurrences[step.id] ?? []).length;
  if (step.repeatable && step.occurrences && 'days' in step.occurrences) {
    const days = dayOccurrences(step, history);
    if (days.length === 0) return { remaining: step.occurrences.days.length };
    const open = days.filter((d) => !d.covered);
    const next = open.find((d) => d.closes > now.getTime()) ?? open[open.length - 1];
    return { remaining: open.length, window: next ? { opensAt: iso(next.opens), closesAt: iso(next.closes) } : undefined };
  }
  const base: { remaining?: number } = step.repeatable ? { remaining: Math.max(0, (counts[step.id] ?? 1) - recorded) } : {};
  // A window judged from values of the same step has no window to show (API.md "Windows").
  if (!step.window?.from.step) return base;
  const t = referenceTime(step.window.from, history);
  if (t === undefined) return base;
  const { opens, closes } = span(t, step.window.opensAfterHours, step.window.closesAfterHours);
  return { ...base, window: { opensAt: iso(opens), closesAt: iso(closes) } };
}

/**
 * Whether the step, performed at `performedAt` with these values, fell outside its window; the
 * deviation text if so. Judged on when the work was done, not when it was entered (ALCOA+
 * contemporaneous: a late entry is its own exception, not a window missed).
 */
export function judgeTiming(step: Step, values: Record<string, unknown>, history: StepHistory, performedAt: Date): string | null {
  const w = step.window;
  if (!w || step.repeatable) return null;
  const base = referenceTime(w.from, history, values);
  if (base === undefined) return null;
  const at = w.at ? referenceTime({ field: w.at.field }, history, values) : performedAt.getTime();
  if (at === undefined) return null;
  const { opens, closes } = span(base, w.opensAfterHours, w.closesAfterHours);
  const what = w.from.step ? `${w.from.step}${w.from.field ? `.${w.from.field}` : ''}` : String(w.from.field);
  // A window may open before its reference time (within ±7 days of delivery): negative hours read "before".
  const rel = (h: number) => `${Math.abs(h).toFixed(h % 1 === 0 ? 0 : 1)} h ${h < 0 ? 'before' : 'after'}`;
  const expected = [w.opensAfterHours !== undefined && `from ${rel(w.opensAfterHours)}`, w.closesAfterHours !== undefined && `until ${rel(w.closesAfterHours)}`].filter(Boolean).join(' ');
  const when = `${rel(Number(((at - base) / HOUR).toFixed(1)))} ${what}`;
  if (opens !== undefined && at < opens) return `${step.title.en} was recorded ${when}, before its window (${expected} it)`;
  if (closes !== undefined && at > closes) return `${step.title.en} was recorded ${when}, after its window (${expected} it)`;
  return null;
}

/** Required day occurrences of the steps this one follows that were never recorded inside their day. */
export function missedOccurrences(step: Step, steps: Step[], history: StepHistory, now: Date): string[] {
  const missed: string[] = [];
  for (const id of step.after) {
    const prior = steps.find((s) => s.id === id);
    if (!prior?.repeatable) continue;
    for (const d of dayOccurrences(prior, history)) {
      if (!d.covered && d.closes <= now.getTime()) missed.push(`${prior.title.en} of day ${d.day} was not recorded (window ${iso(d.opens)} – ${iso(d.closes)})`);
    }
  }
  return missed;
}

/** Minutes between the work and its entry, when more than the step's tolerance: a late entry (ALCOA+ contemporaneous). */
export function lateness(def: ProcessDefinition, step: Step, performedAt: string, recordedAt: string): { minutes: number; tolerance: number } | undefined {
  const minutes = (Date.parse(recordedAt) - Date.parse(performedAt)) / 60_000;
  const tolerance = lateEntryTolerance(def, step);
  return minutes > tolerance ? { minutes, tolerance } : undefined;
}
