// QA's disposition as every view shows it (batch, lists, CoA, containers): the decision, whether the
// release is conditional (results that may follow release still outstanding) and whether a failing
// result after release flags the product.
import type { BatchRecord } from '../record/record.js';
import { signatureView } from './entry-view.js';

export function dispositionView(r: BatchRecord) {
  const d = r.qa.disposition;
  if (!d) return null;
  const s = r.signatures.find((x) => x.entryId === d.entryId);
  const stillPending = d.pendingTests.filter((id) => !(r.history.occurrences[id]?.length));
  return {
    entryId: d.entryId, decision: d.decision, decidedAt: d.decidedAt,
    ...(d.justification !== undefined && { justification: d.justification }),
    ...(d.physicianRequest !== undefined && { physicianRequest: d.physicianRequest }),
    conditional: d.conditional, pendingTests: d.pendingTests, stillPending, failedTests: d.failedTests,
    signature: s ? signatureView(s) : null,
  };
}

/** Released with results that may follow release still outstanding. */
export const conditionalRelease = (r: BatchRecord) => (dispositionView(r)?.stillPending.length ?? 0) > 0;
/** A failing result recorded after release: the released product is flagged wherever it is shown. */
export const postReleaseFinding = (r: BatchRecord) => r.deviations.some((d) => d.kind === 'post-release');

