// The release tests of a batch as its record shows them: the latest values of each QC release step
// (corrections applied), judged against the definition's specifications and composite criteria. The
// disposition rules and the certificate of analysis both read this. Pure.
import type { Step } from '../../workflows/definition.js';
import { judgeValues } from '../../workflows/values.js';
import type { BatchRecord } from './record.js';

export type TestOutcome = 'pass' | 'fail' | 'pending';

export interface ReleaseTest {
  step: Step;
  outcome: TestOutcome;
  /** The step entry (the original, not its corrections); absent while pending. */
  entryId?: string;
  /** Latest values, corrections applied. */
  values?: Record<string, unknown>;
  /** Field or criterion → pass / fail / alert. */
  results?: Record<string, 'pass' | 'fail' | 'alert'>;
  /** Entries that corrected it, in order. */
  correctionIds: string[];
}

export function releaseTests(r: BatchRecord): ReleaseTest[] {
  const steps = r.process.definition.phases.flatMap((p) => p.steps).filter((s) => s.stage === 'release');
  return steps.map((step) => {
    const occurrences = r.history.occurrences[step.id] ?? [];
    const last = occurrences[occurrences.length - 1];
    if (!last) return { step, outcome: 'pending' as const, correctionIds: [] };
    const { results } = judgeValues(step, last.values);
    const correctionIds = r.entries
      .filter((e) => e.kind === 'correction' && (JSON.parse(e.payload) as { correctsEntryId: string }).correctsEntryId === last.entryId)
      .map((e) => e.id);
    const outcome = Object.values(results).includes('fail') ? 'fail' : 'pass';
    return { step, outcome, entryId: last.entryId, values: last.values, results, correctionIds };
  });
}

/** What a release still waits for: required release tests not recorded, except those that may follow release. */
export const awaitedTests = (tests: ReleaseTest[]) => tests.filter((t) => t.outcome === 'pending' && t.step.required && !t.step.mayFollowRelease);
/** Results that may follow release and are not in: releasing now is a conditional release. */
export const followingTests = (tests: ReleaseTest[]) => tests.filter((t) => t.outcome === 'pending' && t.step.mayFollowRelease);
export const failedTests = (tests: ReleaseTest[]) => tests.filter((t) => t.outcome === 'fail');
