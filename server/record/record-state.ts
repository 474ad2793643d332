// The read model of a batch: what its replay leaves that the lists show (state, counts, the last
// values and the times of each step, deviations, QA's reviews and disposition), stored in the batch's
// projection row with every write (commands/append.ts) and rebuilt-and-compared from the entries by
// services/projection.ts. A list serves a page from these rows instead of replaying every batch of
// it. The full record (entries, signatures) is still what a single batch, the PDF and every command
// read; a view that needs more than is kept here reads that.
import type { BatchRow, SignatureRow } from '../store/store.js';
import type { BatchContext } from '../../workflows/compile.js';
import { performedAtOf, type StepHistory } from '../../workflows/values.js';
import type { LoadedProcess } from '../processes/registry.js';
import type { BatchRecord, Deviation } from './record.js';
import type { QaState } from './qa-state.js';

/**
 * Per step: when each occurrence was recorded, and the last one's entry and values (all a schedule or a
 * computed value reads). `performed`: when each was performed, kept only when one differs from its
 * recording time, so that the rows written before performed-at existed rebuild to the same state.
 */
type CompactHistory = Record<string, { times: string[]; performed?: string[]; lastEntryId: string; lastValues: Record<string, unknown> }>;

export interface RecordState {
  value: string;
  context: BatchContext;
  history: CompactHistory;
  deviations: Deviation[];
  qa: QaState;
  /** The signatures the lists show: the disposition's, those of QA's entries on each deviation, and those of entries awaiting verification. */
  signatures: SignatureRow[];
}

export function recordStateOf(r: BatchRecord): RecordState {
  const history: CompactHistory = {};
  for (const [stepId, list] of Object.entries(r.history.occurrences)) {
    const last = list[list.length - 1];
    if (!last) continue;
    const late = list.some((o) => performedAtOf(o) !== o.recordedAt);
    history[stepId] = { times: list.map((o) => o.recordedAt), ...(late && { performed: list.map(performedAtOf) }), lastEntryId: last.entryId, lastValues: last.values };
  }
  const shown = new Set<string>(Object.keys(r.snapshot.context.pending));
  if (r.qa.disposition) shown.add(r.qa.disposition.entryId);
  for (const d of r.deviations) {
    if (d.investigation) shown.add(d.investigation.entryId);
    if (d.closure) shown.add(d.closure.entryId);
    for (const c of d.reclassifications) shown.add(c.entryId);
  }
  return {
    value: String(r.snapshot.value), context: r.snapshot.context, history, deviations: r.deviations, qa: r.qa,
    signatures: r.signatures.filter((s) => shown.has(s.entryId)),
  };
}

export const serializeRecordState = (r: BatchRecord) => JSON.stringify(recordStateOf(r));

/**
 * A batch's record as its projection row keeps it, without entries: the machine's snapshot is
 * resolved from the stored state value and context, the history rebuilt with the last values of each
 * step. Undefined when the row has no stored state (written before the read model existed).
 */
export function recordFromRow(process: LoadedProcess, row: BatchRow): BatchRecord | undefined {
  if (!row.recordState) return undefined;
  const s = JSON.parse(row.recordState) as RecordState;
  const occurrences: StepHistory['occurrences'] = {};
  for (const [stepId, h] of Object.entries(s.history)) {
    const n = h.times.length;
    occurrences[stepId] = h.times.map((recordedAt, i) => {
      const performedAt = h.performed?.[i] ?? recordedAt;
      return i === n - 1 ? { entryId: h.lastEntryId, recordedAt, performedAt, values: h.lastValues } : { entryId: '', recordedAt, performedAt, values: {} };
    });
  }
  const snapshot = process.machine.resolveState({ value: s.value, context: s.context });
  return {
    row, process, entries: [], signatures: s.signatures, snapshot, history: { occurrences, patient: { ...(row.patient && { weightKg: row.patient.weightKg }) } },
    deviations: s.deviations, qa: s.qa, version: row.version,
  };
}
