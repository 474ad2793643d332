// Entries as API.md shows them, shaped from the record.
import type { EntryRow, SignatureRow } from '../store/store.js';
import { parsePayload, type EntryKind } from '../../schemas/entries.js';
import { needsVerification } from '../../workflows/compile.js';
import type { Step } from '../../workflows/definition.js';
import { findStep, type BatchRecord } from '../record/record.js';
import { lateness } from '../../workflows/schedule.js';

export function signatureView(s: SignatureRow) {
  return { userId: s.userId, username: s.username, printedName: s.printedName, meaning: s.meaning, signedAt: s.signedAt };
}

/** A verification appears as the `verified` signature on the entry it verifies, not as an entry of its own. */
export function entryViews(r: BatchRecord) {
  // Each entry's signatures found once for all (in the record's order), not by a search of every signature per entry.
  const byEntry = new Map<string, SignatureRow[]>();
  for (const s of r.signatures) {
    const list = byEntry.get(s.entryId);
    if (list) list.push(s);
    else byEntry.set(s.entryId, [s]);
  }
  return r.entries.filter((e) => e.kind !== 'verification').map((e) => entryView(r, e, byEntry.get(e.id) ?? []));
}

export function entryView(r: BatchRecord, e: EntryRow, signatures = r.signatures.filter((s) => s.entryId === e.id)) {
  const sigs = signatures.map(signatureView);
  const base = { id: e.id, seq: e.batchSeq, kind: e.kind as EntryKind, recordedAt: e.recordedAt, signatures: sigs, training: e.training };
  switch (e.kind) {
    case 'step': {
      const p = parsePayload('step', e.payload);
      const step = findStep(r, p.stepId);
      return { ...base, stepId: p.stepId, values: p.values, results: p.results, occurrence: p.occurrence, ...stepTimes(r, step, p, e.recordedAt), ...(p.used && { used: p.used }), ...verifiedFlag(r, e.id, step) };
    }
    case 'correction': {
      const p = parsePayload('correction', e.payload);
      const step = findStep(r, p.stepId);
      return { ...base, stepId: p.stepId, values: p.values, results: p.results, correctsEntryId: p.correctsEntryId, reason: p.reason, ...(p.used && { used: p.used }), ...verifiedFlag(r, e.id, step) };
    }
    case 'deviation':
      return { ...base, deviation: parsePayload('deviation', e.payload) };
    case 'termination':
      return { ...base, reason: parsePayload('termination', e.payload).reason };
    case 'batch-created': {
      const p = parsePayload('batch-created', e.payload);
      return {
        ...base,
        values: {
          processId: p.processId, processVersion: p.processVersion, din: p.din,
          ...(p.patient && { patientId: p.patient.id, weightKg: p.patient.weightKg }),
          ...(p.donor && { donorId: p.donor.id, donorEligibility: p.donor.eligibility }),
          ...(p.parents && { parents: p.parents.map((x) => x.batchNumber) }),
        },
      };
    }
    // QA's entries carry no top-level stepId: they sign no step (the walk and clients read stepId as a step).
    case 'deviation-investigation':
      return { ...base, investigation: parsePayload('deviation-investigation', e.payload) };
    case 'deviation-closure':
      return { ...base, closure: parsePayload('deviation-closure', e.payload) };
    case 'deviation-reclassification':
      return { ...base, reclassification: parsePayload('deviation-reclassification', e.payload) };
    case 'review':
      return { ...base, review: parsePayload('review', e.payload) };
    case 'disposition':
      return { ...base, disposition: parsePayload('disposition', e.payload) };
    default:
      return base;
  }
}

/** When the step was performed (absent on entries made before performed-at existed) and whether its entry was late. */
export function stepTimes(r: BatchRecord, step: Step | undefined, p: { performedAt?: string; lateReason?: string }, recordedAt: string) {
  if (!p.performedAt) return {};
  const late = step ? lateness(r.process.definition, step, p.performedAt, recordedAt) : undefined;
  return { performedAt: p.performedAt, ...(late && { late: true }), ...(p.lateReason && { lateReason: p.lateReason }) };
}

/** `verified`: false while a required verification is pending, true once done, absent when none is needed. */
function verifiedFlag(r: BatchRecord, entryId: string, step: Step | undefined) {
  if (!step || !needsVerification(step)) return {};
  return { verified: !(entryId in r.snapshot.context.pending) };
}
