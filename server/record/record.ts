// The record of one batch: its stored entries and signatures replayed through its process (see
// replay.ts). Everything that shows a batch (the API view, the PDF, the export, the terminal) reads
// this, each through its own small view module; none reaches into another's shape.
import type { BatchRow, EntryRow, SignatureRow } from '../store/store.js';
import type { EntryPayload } from '../../schemas/entries.js';
import { stepEvent, statusOf, type BatchSnapshot, type BatchStatus } from '../../workflows/compile.js';
import { allSteps, stepById, type Step } from '../../workflows/definition.js';
import type { StepHistory } from '../../workflows/values.js';
import type { LoadedProcess } from '../processes/registry.js';
import type { DeviationProgress, QaState } from './qa-state.js';

export type DeviationStatus = 'open' | 'investigating' | 'closed';

/** A deviation as its entries left it: opened by a `deviation` entry, moved on by the entries that name it. */
export interface Deviation extends DeviationProgress {
  id: string; batchId: string; kind: EntryPayload<'deviation'>['kind']; status: DeviationStatus;
  severity: EntryPayload<'deviation'>['severity']; stepId?: string; entryId?: string; description: string; openedAt: string;
}

export interface BatchRecord {
  row: BatchRow;
  process: LoadedProcess;
  entries: EntryRow[];
  signatures: SignatureRow[];
  snapshot: BatchSnapshot;
  history: StepHistory;
  /** In the order they were opened. */
  deviations: Deviation[];
  /** QA's reviews and disposition (the status itself comes from the machine). */
  qa: QaState;
  /** The batch version a write must state: the number of entries recorded. */
  version: number;
}

export const statusOfRecord = (r: BatchRecord): BatchStatus => statusOf(r.snapshot);
export const openDeviationCount = (r: BatchRecord) => r.deviations.filter((d) => d.status !== 'closed').length;

export const stepsOf = (r: BatchRecord) => allSteps(r.process.definition);

export function findStep(r: BatchRecord, stepId: string): Step | undefined {
  return stepById(r.process.definition, stepId);
}

/**
 * Whether the machine offers the step now. A snapshot never changes and its guards read only its
 * context, so the answer is kept per snapshot: a reply asks it of every step twice (offered, locked)
 * and the pending rows once more, and xstate's `can` computes a whole transition each time.
 */
export function canRecord(r: BatchRecord, stepId: string): boolean {
  let known = offered.get(r.snapshot);
  if (!known) offered.set(r.snapshot, known = new Map());
  let can = known.get(stepId);
  if (can === undefined) known.set(stepId, can = r.snapshot.can({ type: stepEvent(stepId), entryId: '', values: {} }));
  return can;
}
const offered = new WeakMap<BatchSnapshot, Map<string, boolean>>();
