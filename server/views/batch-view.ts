// The Batch of API.md, shaped from the record: its state, the steps offered now with their fields
// and windows, the steps locked and why, and (but in lists) its entries.
import type { AppContext } from '../context.js';
import { statusAtStart, type VersionStatus } from '../processes/master-records.js';
import { parsePayload } from '../../schemas/entries.js';
import type { Step } from '../../workflows/definition.js';
import { scheduleOf } from '../../workflows/schedule.js';
import { impliedSpec } from '../../workflows/values.js';
import { canRecord, openDeviationCount, statusOfRecord, stepsOf, type BatchRecord } from '../record/record.js';
import { integrityOf } from '../record/integrity.js';
import { entryViews } from './entry-view.js';
import { lockReason } from './lock-reason.js';
import { conditionalRelease, dispositionView, postReleaseFinding } from './disposition-view.js';
import { t, type Lang } from './text.js';

function fieldView(step: Step, lang: Lang, r: BatchRecord, now: Date) {
  return step.fields.map((f) => {
    const implied = impliedSpec(step, f, r.history, now);
    return {
      name: f.name,
      label: t(f.label, lang),
      kind: f.kind,
      ...(f.unit && { unit: f.unit }),
      ...(f.computed && { computed: true }),
      ...(f.spec && { spec: f.spec }),
      // For this batch: the limits a computed field's spec sets on this input (dose per kg → total cells).
      ...(implied && { spec: implied.spec, specFrom: implied.from }),
      ...(f.alert && { alert: f.alert }),
      ...(f.limits && { limits: f.limits }),
      ...(f.decimals !== undefined && { decimals: f.decimals }),
      ...(f.options && { options: f.options }),
      ...(f.optionLabels && { optionLabels: Object.fromEntries(Object.entries(f.optionLabels).map(([o, l]) => [o, t(l, lang)])) }),
      ...(f.materialType && { materialType: f.materialType }),
      ...(f.equipmentType && { equipmentType: f.equipmentType }),
      ...(f.identity && { identity: f.identity }),
      required: f.required && !f.computed,
    };
  });
}

/** The batches this one was made from, as its first entry names them (genealogy). */
function parentsOf(r: BatchRecord) {
  const first = r.entries[0];
  return first?.kind === 'batch-created' ? parsePayload('batch-created', first.payload).parents : undefined;
}

export function batchSummary(r: BatchRecord) {
  const b = r.row;
  const parents = parentsOf(r);
  return {
    id: b.id, batchNumber: b.batchNumber, processId: b.processId, processVersion: b.processVersion, processHash: b.processHash,
    status: statusOfRecord(r), state: { value: r.snapshot.value, recorded: r.snapshot.context.recorded, pendingVerification: Object.keys(r.snapshot.context.pending) },
    version: r.version, din: b.din, dinCheck: b.dinCheck, chainOfIdentityId: b.chainOfIdentityId,
    // An allogeneic batch names its donor, and its patient only where there is one.
    ...(b.patient && { patient: b.patient }), ...(b.donor && { donor: b.donor }), ...(parents && { parents }),
    productType: r.process.definition.productType, autologous: r.process.definition.autologous,
    createdAt: b.createdAt, openDeviations: openDeviationCount(r), training: b.training,
    // Started on a master record not yet in effect (training only): every screen and document says DRAFT.
    draftProcess: statusAtStart(r) !== 'effective', processStatusAtStart: statusAtStart(r),
    disposition: dispositionView(r), conditionalRelease: conditionalRelease(r), postReleaseFinding: postReleaseFinding(r),
  };
}

/** The status of the master record version a batch runs ("effective" when the database has no such version). */
export async function processStatusOf(ctx: AppContext, row: { processId: string; processVersion: number }): Promise<VersionStatus> {
  return ((await ctx.store.processVersionStatus(row.processId, row.processVersion)) ?? 'effective') as VersionStatus;
}

/** A batch as lists show it: everything but its entries. `integrity`: a list passes what it knows (record/integrity.ts listedIntegrity); otherwise the batch's rows are hashed. */
export async function batchListView(ctx: AppContext, r: BatchRecord, opts: { lang?: Lang; integrity?: boolean; processStatus?: VersionStatus } = {}) {
  const lang = opts.lang ?? 'en';
  const now = ctx.clock.now();
  const steps = stepsOf(r);
  const availableSteps = steps.filter((s) => canRecord(r, s.id)).map((s) => {
    const { window, remaining } = scheduleOf(s, r.history, r.snapshot.context.counts, now);
    return {
        stepId: s.id, title: t(s.title, lang), ...(s.instructions && { instructions: t(s.instructions, lang) }),
        stage: s.stage, repeatable: s.repeatable, required: s.required,
        ...(remaining !== undefined && { remaining }), ...(window && { window }),
        fields: fieldView(s, lang, r, now),
        signatures: s.signatures.map((g) => ({ meaning: g.meaning, roles: g.roles })),
    };
  });
  const lockedSteps = steps
    .filter((s) => !canRecord(r, s.id))
    .flatMap((s) => { const reason = lockReason(r, s, lang); return reason ? [{ stepId: s.id, title: t(s.title, lang), reason }] : []; });
  return {
    ...batchSummary(r),
    integrity: opts.integrity ?? await integrityOf(ctx, r),
    // The master record's status: "effective" (or "superseded" for a batch started before a change);
    // a training batch may rehearse a version not yet effective, and every view says so.
    processStatus: opts.processStatus ?? await processStatusOf(ctx, r.row),
    availableSteps,
    lockedSteps,
  };
}

type ListView = Awaited<ReturnType<typeof batchListView>>;

/** The Batch of API.md: the list view and its entries (`entries: false` gives the list view). */
export function batchView(ctx: AppContext, r: BatchRecord, opts: { lang?: Lang; entries: false; integrity?: boolean; processStatus?: VersionStatus }): Promise<ListView>;
export function batchView(ctx: AppContext, r: BatchRecord, opts?: { lang?: Lang; entries?: true; integrity?: boolean }): Promise<ListView & { entries: ReturnType<typeof entryViews> }>;
export async function batchView(ctx: AppContext, r: BatchRecord, opts: { lang?: Lang; entries?: boolean; integrity?: boolean; processStatus?: VersionStatus } = {}) {
  const view = await batchListView(ctx, r, opts);
  return opts.entries === false ? view : { ...view, entries: entryViews(r) };
}
