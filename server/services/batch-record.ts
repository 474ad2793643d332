// The read model of one batch: its entries folded through its machine (event sourcing). Reports, the
// API and the terminal all read this; the projection table is only a cache of its status.
import type { AppContext } from '../context.js';
import { notFound } from '../errors.js';
import type { BatchRow, EntryRow, SignatureRow } from '../store/store.js';
import { MOVED_SIGNATURE } from '../store/verify.js';
import { parsePayload, type EntryPayload } from '../../schemas/entries.js';
import { foldEvents, needsVerification, isSatisfied, stepEvent, statusOf, type BatchEvent, type BatchSnapshot, type BatchStatus } from '../../workflows/compile.js';
import { allSteps, type ProcessDefinition, type Step } from '../../workflows/definition.js';
import type { StepHistory } from '../../workflows/values.js';
import { scheduleOf } from '../../workflows/schedule.js';
import type { LoadedProcess } from '../processes/registry.js';

export type Lang = 'en' | 'vi';

export interface Deviation {
  id: string; batchId: string; kind: EntryPayload<'deviation'>['kind']; status: 'open' | 'investigating' | 'closed';
  severity: string; stepId?: string; entryId?: string; description: string; openedAt: string;
}

export interface BatchRecord {
  row: BatchRow;
  process: LoadedProcess;
  entries: EntryRow[];
  signatures: SignatureRow[];
  snapshot: BatchSnapshot;
  history: StepHistory;
  deviations: Deviation[];
  /** The batch version a write must state: the number of entries recorded. */
  version: number;
}

export function processOf(ctx: AppContext, row: BatchRow): LoadedProcess {
  const known = ctx.processes.byContentHash(row.processHash);
  if (known) return known;
  const stored = ctx.store.getDefinition(row.processHash);
  if (!stored) throw new Error(`definition ${row.processHash} of batch ${row.id} is missing from the store`);
  return ctx.processes.remember(JSON.parse(stored.definition) as ProcessDefinition, row.processHash);
}

/** Loads and replays a batch; 404 when it does not exist. */
export function loadBatch(ctx: AppContext, id: string): BatchRecord {
  const row = ctx.store.getBatch(id);
  if (!row) throw notFound('batch', id);
  return replay(ctx, row, ctx.store.entriesOfBatch(id));
}

/** Folds a batch's entries through its machine; its signatures are read unless the caller has them. */
export function replay(ctx: AppContext, row: BatchRow, entries: EntryRow[], signatures = ctx.store.signaturesOfBatch(row.id)): BatchRecord {
  const process = processOf(ctx, row);
  const events: BatchEvent[] = [];
  const history: StepHistory = { occurrences: {}, patient: { weightKg: row.patient.weightKg } };
  const deviations: Deviation[] = [];
  const occurrenceOf = new Map<string, { values: Record<string, unknown> }>();
  for (const e of entries) {
    switch (e.kind) {
      case 'step': {
        const p = parsePayload('step', e.payload);
        events.push({ type: stepEvent(p.stepId), entryId: e.id, values: p.values });
        const occ = { entryId: e.id, recordedAt: e.recordedAt, values: { ...p.values } };
        (history.occurrences[p.stepId] ??= []).push(occ);
        occurrenceOf.set(e.id, occ);
        break;
      }
      case 'verification':
        events.push({ type: 'verify', entryId: parsePayload('verification', e.payload).entryId });
        break;
      case 'correction': {
        const p = parsePayload('correction', e.payload);
        const step = allSteps(process.definition).find((s) => s.id === p.stepId);
        events.push({ type: 'correct', entryId: e.id, correctsEntryId: p.correctsEntryId, stepId: p.stepId, needsVerification: !!step && needsVerification(step), values: p.values });
        const occ = occurrenceOf.get(p.correctsEntryId);
        if (occ) Object.assign(occ.values, p.values);
        break;
      }
      case 'deviation': {
        const p = parsePayload('deviation', e.payload);
        deviations.push({ id: e.id, batchId: row.id, kind: p.kind, status: 'open', severity: p.severity, stepId: p.stepId, entryId: p.entryId, description: p.description, openedAt: e.recordedAt });
        break;
      }
      case 'termination':
        events.push({ type: 'terminate' });
        break;
    }
  }
  const snapshot = foldEvents(process.machine, events);
  return { row, process, entries, signatures, snapshot, history, deviations, version: entries.length };
}

export const statusOfRecord = (r: BatchRecord): BatchStatus => statusOf(r.snapshot);
export const openDeviationCount = (r: BatchRecord) => r.deviations.filter((d) => d.status !== 'closed').length;

export const stepsOf = (r: BatchRecord) => allSteps(r.process.definition);

export function findStep(r: BatchRecord, stepId: string): Step | undefined {
  return stepsOf(r).find((s) => s.id === stepId);
}

export const canRecord = (r: BatchRecord, stepId: string) => r.snapshot.can({ type: stepEvent(stepId), entryId: '', values: {} });

// ─── the Batch view of API.md ──────────────────────────────────────────────────

const t = (text: { en: string; vi: string }, lang: Lang) => text[lang];

function fieldView(step: Step, lang: Lang) {
  return step.fields.map((f) => ({
    name: f.name,
    label: t(f.label, lang),
    kind: f.kind,
    ...(f.unit && { unit: f.unit }),
    ...(f.computed && { computed: true }),
    ...(f.spec && { spec: f.spec }),
    ...(f.alert && { alert: f.alert }),
    ...(f.limits && { limits: f.limits }),
    ...(f.decimals !== undefined && { decimals: f.decimals }),
    ...(f.options && { options: f.options }),
    ...(f.materialType && { materialType: f.materialType }),
    ...(f.equipmentType && { equipmentType: f.equipmentType }),
    ...(f.identity && { identity: f.identity }),
    required: f.required && !f.computed,
  }));
}

/** Why a step is not offered now, in words a technician understands. */
export function lockReason(r: BatchRecord, step: Step, lang: Lang): string | null {
  const status = statusOfRecord(r);
  const ctx = r.snapshot.context;
  const title = (id: string) => { const s = findStep(r, id); return s ? t(s.title, lang) : id; };
  const vi = lang === 'vi';
  if (status === 'terminated' || status === 'rejected') return vi ? `Lô đã ${status === 'terminated' ? 'bị chấm dứt' : 'bị loại'}: không còn bước nào.` : `The batch is ${status}: no further steps are allowed.`;
  if (!step.repeatable && ctx.recorded[step.id]) return null; // done, not locked
  if (step.stage === 'release' && status === 'in_process') {
    return vi ? 'Kiểm nghiệm xuất xưởng bắt đầu khi mọi bước sản xuất đã được ghi và xác minh.' : 'Release testing opens once every manufacturing step is recorded and verified.';
  }
  if (step.stage === 'process' && status !== 'in_process') return null; // manufacturing is over: nothing to wait for
  if (step.stage === 'release' && (status === 'qa_review' || status === 'released') && !step.mayFollowRelease) return null;
  for (const d of step.after) {
    if (isSatisfied(ctx, d)) continue;
    const done = ctx.recorded[d] ?? 0;
    const due = ctx.counts[d] ?? 1;
    if (done === 0) return vi ? `Chờ bước «${title(d)}» được ghi nhận.` : `Waiting for "${title(d)}" to be recorded.`;
    if (done < due) return vi ? `Chờ bước «${title(d)}»: đã ghi ${done}/${due}.` : `Waiting for "${title(d)}": ${done} of ${due} recorded.`;
    return vi ? `Chờ người thứ hai xác minh bước «${title(d)}».` : `Waiting for a second person to verify "${title(d)}".`;
  }
  return vi ? 'Quy trình chưa cho phép bước này.' : 'The process does not allow this step now.';
}

export function batchSummary(r: BatchRecord) {
  const b = r.row;
  return {
    id: b.id, batchNumber: b.batchNumber, processId: b.processId, processVersion: b.processVersion, processHash: b.processHash,
    status: statusOfRecord(r), state: { value: r.snapshot.value, recorded: r.snapshot.context.recorded, pendingVerification: Object.keys(r.snapshot.context.pending) },
    version: r.version, din: b.din, dinCheck: b.dinCheck, chainOfIdentityId: b.chainOfIdentityId, patient: b.patient,
    createdAt: b.createdAt, openDeviations: openDeviationCount(r), training: b.training,
  };
}

/** R1: whether the batch's own rows still match their hashes; the view and the PDF say so. */
export function integrityOf(ctx: AppContext, r: BatchRecord) {
  // A failure that cannot be pinned on rows (missing or rewritten stretches, a damaged checkpoint
  // log) makes every batch's record untrustworthy; a row-level one only the batches it touches. A
  // signature moved onto another entry touches two batches, one of which lost a signature and whose
  // own rows still match: every batch says so.
  const failed = ctx.recordCheck.report?.firstInvalid;
  if (failed?.kind === 'chain' || failed?.reason === MOVED_SIGNATURE || ctx.integrity?.log.damaged) return false;
  return ctx.store.batchIntact(r.row.id, { entries: r.entries, signatures: r.signatures });
}

export function batchView(ctx: AppContext, r: BatchRecord, opts: { lang?: Lang; entries?: boolean } = {}) {
  const lang = opts.lang ?? 'en';
  const now = ctx.clock.now();
  const steps = stepsOf(r);
  const availableSteps = steps.filter((s) => canRecord(r, s.id)).map((s) => {
    const { window, remaining } = scheduleOf(s, r.history, r.snapshot.context.counts, now);
    return {
      stepId: s.id, title: t(s.title, lang), ...(s.instructions && { instructions: t(s.instructions, lang) }),
      stage: s.stage, repeatable: s.repeatable, required: s.required,
      ...(remaining !== undefined && { remaining }), ...(window && { window }),
      fields: fieldView(s, lang),
      signatures: s.signatures.map((g) => ({ meaning: g.meaning, roles: g.roles })),
    };
  });
  const lockedSteps = steps
    .filter((s) => !canRecord(r, s.id))
    .flatMap((s) => { const reason = lockReason(r, s, lang); return reason ? [{ stepId: s.id, title: t(s.title, lang), reason }] : []; });
  return {
    ...batchSummary(r),
    integrity: integrityOf(ctx, r),
    availableSteps,
    lockedSteps,
    ...(opts.entries !== false && { entries: entryViews(r) }),
  };
}

export function signatureView(s: SignatureRow) {
  return { userId: s.userId, username: s.username, printedName: s.printedName, meaning: s.meaning, signedAt: s.signedAt };
}

/** Entries as API.md shows them; a verification appears as the `verified` signature on the entry it verifies. */
export function entryViews(r: BatchRecord) {
  return r.entries.filter((e) => e.kind !== 'verification').map((e) => entryView(r, e));
}

export function entryView(r: BatchRecord, e: EntryRow) {
  const sigs = r.signatures.filter((s) => s.entryId === e.id).map(signatureView);
  const base = { id: e.id, seq: e.batchSeq, kind: e.kind, recordedAt: e.recordedAt, signatures: sigs, training: e.training };
  switch (e.kind) {
    case 'step': {
      const p = parsePayload('step', e.payload);
      const step = findStep(r, p.stepId);
      return { ...base, stepId: p.stepId, values: p.values, results: p.results, occurrence: p.occurrence, ...verifiedFlag(r, e.id, step) };
    }
    case 'correction': {
      const p = parsePayload('correction', e.payload);
      const step = findStep(r, p.stepId);
      return { ...base, stepId: p.stepId, values: p.values, results: p.results, correctsEntryId: p.correctsEntryId, reason: p.reason, ...verifiedFlag(r, e.id, step) };
    }
    case 'deviation':
      return { ...base, deviation: parsePayload('deviation', e.payload) };
    case 'termination':
      return { ...base, reason: parsePayload('termination', e.payload).reason };
    case 'batch-created': {
      const p = parsePayload('batch-created', e.payload);
      return { ...base, values: { processId: p.processId, processVersion: p.processVersion, din: p.din, patientId: p.patient.id, weightKg: p.patient.weightKg } };
    }
    default:
      return base;
  }
}

/** `verified`: false while a required verification is pending, true once done, absent when none is needed. */
function verifiedFlag(r: BatchRecord, entryId: string, step: Step | undefined) {
  if (!step || !needsVerification(step)) return {};
  return { verified: !(entryId in r.snapshot.context.pending) };
}
