// The pure replay of a batch (event sourcing): its stored entries, in order, folded into its record.
// Each entry kind has one row in FOLDS: the machine event it feeds, and what else it changes in the
// record (step history, deviations). The table is typed by the registry of stored kinds
// (schemas/entries.ts): a new kind does not compile until it says how it folds. No clock, no
// database: the same entries always give the same record.
import type { BatchRow, EntryRow, SignatureRow } from '../store/store.js';
import { EntryPayloads, parsePayload, type EntryKind, type EntryPayload } from '../../schemas/entries.js';
import { foldEvents, needsVerification, stepEvent, type BatchEvent } from '../../workflows/compile.js';
import { allSteps, type Step } from '../../workflows/definition.js';
import type { StepHistory } from '../../workflows/values.js';
import type { LoadedProcess } from '../processes/registry.js';
import type { BatchRecord, Deviation } from './record.js';
import { emptyQaState, foldClosure, foldDisposition, foldInvestigation, foldReclassification, foldReview, type QaState } from './qa-state.js';

type Occurrence = StepHistory['occurrences'][string][number];

/** What the fold accumulates before the machine runs over the events. */
interface Replaying {
  row: BatchRow;
  steps: Map<string, Step>;
  history: StepHistory;
  occurrenceOf: Map<string, Occurrence>;
  deviations: Map<string, Deviation>;
  qa: QaState;
}

interface KindFold<K extends EntryKind> {
  /** The machine event this entry feeds, if any. */
  event?: (p: EntryPayload<K>, e: EntryRow, r: Replaying) => BatchEvent;
  /** Everything else the entry changes in the record. */
  fold?: (p: EntryPayload<K>, e: EntryRow, r: Replaying) => void;
}

const FOLDS: { [K in EntryKind]: KindFold<K> } = {
  'batch-created': {},
  step: {
    event: (p, e) => ({ type: stepEvent(p.stepId), entryId: e.id, values: p.values }),
    fold: (p, e, r) => {
      // Entries made before performed-at existed were performed, as far as the record knows, when recorded.
      const occ = { entryId: e.id, recordedAt: e.recordedAt, performedAt: p.performedAt ?? e.recordedAt, values: { ...p.values } };
      (r.history.occurrences[p.stepId] ??= []).push(occ);
      r.occurrenceOf.set(e.id, occ);
    },
  },
  verification: { event: (p) => ({ type: 'verify', entryId: p.entryId }) },
  correction: {
    event: (p, e, r) => {
      const step = r.steps.get(p.stepId);
      return { type: 'correct', entryId: e.id, correctsEntryId: p.correctsEntryId, stepId: p.stepId, needsVerification: !!step && needsVerification(step), values: p.values };
    },
    // Later computations (a dose from a corrected count) read the corrected values.
    fold: (p, _e, r) => { const occ = r.occurrenceOf.get(p.correctsEntryId); if (occ) Object.assign(occ.values, p.values); },
  },
  // Deviations live beside the machine, each in its own open → investigating → closed states. The
  // entries that move a deviation on (investigation, closing, reclassification) each get a row here
  // that finds it with deviationOf() and changes it; none of them feeds the batch's machine.
  deviation: {
    fold: (p, e, r) => {
      r.deviations.set(e.id, {
        id: e.id, batchId: r.row.id, kind: p.kind, status: 'open', severity: p.severity,
        stepId: p.stepId, entryId: p.entryId, description: p.description, openedAt: e.recordedAt, reclassifications: [],
      });
    },
  },
  termination: { event: () => ({ type: 'terminate' }) },
  'deviation-investigation': { fold: (p, e, r) => foldInvestigation(deviationOf(r, p.deviationId), p, e) },
  'deviation-closure': { fold: (p, e, r) => foldClosure(deviationOf(r, p.deviationId), p, e) },
  'deviation-reclassification': { fold: (p, e, r) => foldReclassification(deviationOf(r, p.deviationId), p, e) },
  review: { fold: (p, e, r) => foldReview(r.qa, p, e) },
  // The batch's status follows from the machine: released and exceptional release both end in released.
  disposition: {
    event: (p) => ({ type: p.decision === 'reject' ? 'dispose.reject' : 'dispose.release' }),
    fold: (p, e, r) => foldDisposition(r.qa, p, e),
  },
};

/** The deviation an entry names; a record that names an unknown one is corrupt. */
export function deviationOf(r: Replaying, deviationId: string): Deviation {
  const d = r.deviations.get(deviationId);
  if (!d) throw new Error(`entry names deviation ${deviationId}, which batch ${r.row.id} does not have`);
  return d;
}

/** Folds a batch's entries (in their order) through its process into its record. Throws on a corrupt record. */
export function replayEntries(process: LoadedProcess, row: BatchRow, entries: EntryRow[], signatures: SignatureRow[]): BatchRecord {
  const r: Replaying = {
    row,
    steps: new Map(allSteps(process.definition).map((s) => [s.id, s])),
    history: { occurrences: {}, patient: { ...(row.patient && { weightKg: row.patient.weightKg }) } },
    occurrenceOf: new Map(),
    deviations: new Map(),
    qa: emptyQaState(),
  };
  const snapshot = foldEvents(process.machine, foldEntries(r, entries));
  return { row, process, entries, signatures, snapshot, history: r.history, deviations: [...r.deviations.values()], qa: r.qa, version: entries.length };
}

/**
 * The record after entries appended to it (a write's own, inside its transaction: commands/append.ts),
 * folded onto what the record already holds instead of replaying the whole batch again: the same record
 * replayEntries gives for all the entries (the machine continues from the record's snapshot; the step
 * history, deviations and QA state continue from copies, so `r` itself is left as it was).
 */
export function replayAppended(r: BatchRecord, entries: EntryRow[], signatures: SignatureRow[]): BatchRecord {
  const added = entries.slice(r.entries.length);
  const history = structuredClone(r.history);
  const occurrenceOf = new Map<string, Occurrence>();
  for (const list of Object.values(history.occurrences)) for (const occ of list) occurrenceOf.set(occ.entryId, occ);
  const state: Replaying = {
    row: r.row,
    steps: new Map(allSteps(r.process.definition).map((s) => [s.id, s])),
    history,
    occurrenceOf,
    deviations: new Map(structuredClone(r.deviations).map((d) => [d.id, d])),
    qa: structuredClone(r.qa),
  };
  const snapshot = foldEvents(r.process.machine, foldEntries(state, added), r.snapshot);
  return { row: r.row, process: r.process, entries, signatures, snapshot, history, deviations: [...state.deviations.values()], qa: state.qa, version: entries.length };
}

/** Folds entries into the replay state; returns the machine events they feed, in order. */
function foldEntries(r: Replaying, entries: EntryRow[]): BatchEvent[] {
  const events: BatchEvent[] = [];
  for (const e of entries) {
    if (!(e.kind in EntryPayloads)) throw new Error(`entry ${e.id} of batch ${r.row.id} has unknown kind ${e.kind}`);
    const kind = e.kind as EntryKind;
    const fold = FOLDS[kind] as KindFold<EntryKind>;
    if (!fold.event && !fold.fold) continue;
    const payload = parsePayload(kind, e.payload);
    if (fold.event) events.push(fold.event(payload, e, r));
    fold.fold?.(payload, e, r);
  }
  return events;
}
