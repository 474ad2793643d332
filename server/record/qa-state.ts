// What QA's entries leave in a batch's record: the investigation, closure and reclassifications of each
// deviation (C3), the signed reviews (C4) and the disposition. Pure: replay.ts calls these from the
// folds of the kinds `deviation-investigation`, `deviation-closure`, `deviation-reclassification`,
// `review` and `disposition`; the batch's status itself comes from the machine (dispose.* events).
import type { EntryRow } from '../store/store.js';
import type { EntryPayload } from '../../schemas/entries.js';

export type Severity = EntryPayload<'deviation'>['severity'];

export interface DeviationInvestigation {
  entryId: string; recordedAt: string;
  rootCause: string; productImpact: string; otherBatchesImpact: string; capaReference?: string;
}
export interface DeviationClosure { entryId: string; closedAt: string; investigation: string; conclusion: string }
export interface DeviationReclassification { entryId: string; at: string; from: Severity; to: Severity; reason: string }

/** The parts of a deviation QA's entries move on; the deviation itself lives in record.ts. */
export interface DeviationProgress {
  status: 'open' | 'investigating' | 'closed';
  severity: Severity;
  investigation?: DeviationInvestigation;
  closure?: DeviationClosure;
  reclassifications: DeviationReclassification[];
}

export interface ReviewRecord { entryId: string; signedAt: string; comment?: string; covered: string[] }

export interface DispositionRecord {
  entryId: string; decidedAt: string;
  decision: EntryPayload<'disposition'>['decision'];
  justification?: string; physicianRequest?: string;
  conditional: boolean; pendingTests: string[]; failedTests: string[];
}

/** QA's part of the record, beside the deviations. */
export interface QaState {
  reviews: ReviewRecord[];
  disposition?: DispositionRecord;
}

export const emptyQaState = (): QaState => ({ reviews: [] });

export function foldInvestigation(d: DeviationProgress, p: EntryPayload<'deviation-investigation'>, e: EntryRow) {
  d.status = 'investigating';
  d.investigation = {
    entryId: e.id, recordedAt: e.recordedAt, rootCause: p.rootCause, productImpact: p.productImpact, otherBatchesImpact: p.otherBatchesImpact,
    ...(p.capaReference !== undefined && { capaReference: p.capaReference }),
  };
}

export function foldClosure(d: DeviationProgress, p: EntryPayload<'deviation-closure'>, e: EntryRow) {
  d.status = 'closed';
  d.closure = { entryId: e.id, closedAt: e.recordedAt, investigation: p.investigation, conclusion: p.conclusion };
}

export function foldReclassification(d: DeviationProgress, p: EntryPayload<'deviation-reclassification'>, e: EntryRow) {
  d.severity = p.to;
  d.reclassifications.push({ entryId: e.id, at: e.recordedAt, from: p.from, to: p.to, reason: p.reason });
}

export function foldReview(q: QaState, p: EntryPayload<'review'>, e: EntryRow) {
  q.reviews.push({ entryId: e.id, signedAt: e.recordedAt, covered: p.covered, ...(p.comment !== undefined && { comment: p.comment }) });
}

export function foldDisposition(q: QaState, p: EntryPayload<'disposition'>, e: EntryRow) {
  q.disposition = {
    entryId: e.id, decidedAt: e.recordedAt, decision: p.decision, conditional: p.conditional, pendingTests: p.pendingTests, failedTests: p.failedTests,
    ...(p.justification !== undefined && { justification: p.justification }), ...(p.physicianRequest !== undefined && { physicianRequest: p.physicianRequest }),
  };
}
