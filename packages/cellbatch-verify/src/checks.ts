// One named line of the verdict: PASS or FAIL with its reason, and each failure with its place
// (table/seq/field, or page number) so that an inspector can go and look.

export type Status = 'PASS' | 'FAIL' | 'NOT RUN';
export interface Problem { place: string; message: string }
export interface CheckResult {
  id: string;
  title: string;
  status: Status;
  /** What was checked, in one sentence (on PASS), or why the check did not run. */
  detail: string;
  problems: Problem[];
}

export class Check {
  readonly problems: Problem[] = [];
  constructor(readonly id: string, readonly title: string) {}

  fail(place: string, message: string) {
    this.problems.push({ place, message });
  }

  /** Fails unless `ok`; returns `ok`. */
  expect(ok: boolean, place: string, message: string): boolean {
    if (!ok) this.fail(place, message);
    return ok;
  }

  done(detail: string): CheckResult {
    return { id: this.id, title: this.title, status: this.problems.length ? 'FAIL' : 'PASS', detail, problems: this.problems };
  }
}

export const notRun = (id: string, title: string, why: string): CheckResult => ({ id, title, status: 'NOT RUN', detail: why, problems: [] });

/** The first place where two JSON values differ, as a dotted path (`values.viability`), or null. */
export function firstDifference(a: unknown, b: unknown, at = ''): string | null {
  if (a === b) return null;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return at || '(value)';
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  for (const k of keys) {
    const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], at ? `${at}.${k}` : k);
    if (d) return d;
  }
  return null;
}

export const show = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v));
