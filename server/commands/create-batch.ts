// Starts a batch: pins the process definition (id, version, content hash), checks the DIN, the people
// the batch names (patient; donor of an allogeneic process) and its parent batches, issues the batch
// number and the chain-of-identity id, and records the first entry through the one write path of
// every command (append.ts).
import { timeOrderedId } from '../domain/time-ordered-id.js';
import type { AppContext } from '../context.js';
import { badRequest, conflict, notFound, refused, type FieldProblem } from '../errors.js';
import { statusVi, versionStatusVi } from '../problem-texts.js';
import { patientIdProblem } from '../domain/patient-id.js';
import { assertMay } from '../permissions.js';
import { loadVersion, versionOrNotFound } from '../processes/master-records.js';
import type { UserRow } from '../store/store.js';
import { startBatch } from './append.js';
import { chainOfIdentityId, randomAlnum6 } from '../domain/isbt128.js';
import type { EntryPayload } from '../../schemas/entries.js';
import { recipientRule, type ProcessDefinition } from '../../workflows/definition.js';

export interface CreateBatchInput {
  processId: string;
  din: { din: string; check: string };
  patient?: { id: string; weightKg: number };
  donor?: { id: string; eligibility: 'eligible' | 'pending' | 'ineligible' };
  parents?: string[];
  processVersion?: number;
}

export async function createBatch(ctx: AppContext, actor: UserRow, input: CreateBatchInput) {
  // Values of the body, judged with its shape (400 before 404), against the site's configured format:
  // a patient or donor is a code, never a name (21 CFR 1271.290(c)).
  const idProblems = ([['patient.id', input.patient?.id], ['donor.id', input.donor?.id]] as const).flatMap(([field, id]) => {
    const message = id === undefined ? null : patientIdProblem(id, ctx.config.patientIdPattern);
    return message ? [{ field, message }] : [];
  });
  if (idProblems.length) throw badRequest('A person\'s id does not follow the site\'s format', idProblems);
  const process = await processToRun(ctx, input);
  assertMay(actor, 'batch.create');
  const { store, clock } = ctx;
  const now = clock.now();
  let payload!: EntryPayload<'batch-created'>;
  const { record } = await startBatch(ctx, actor, async () => {
    // Inside the write transaction: no other request can take the DIN or the number meanwhile.
    const active = await store.findActiveBatchByDin(input.din.din);
    if (active) throw conflict('din-in-use', `DIN ${input.din.din} is already used by batch ${active.batchNumber} (${active.status})`).inVietnamese(`DIN ${input.din.din} đã được dùng cho lô ${active.batchNumber} (${statusVi(active.status)})`);
    const def = process.definition;
    const subject = subjectProblems(def, input);
    if (subject.length) throw badRequest(`The batch does not name what process ${def.id} asks for`, subject);
    // 21 CFR 1271.45(b): cells of a donor determined ineligible are not made into a product here.
    if (input.donor?.eligibility === 'ineligible') {
      throw refused('donor-ineligible', `donor ${input.donor.id} was determined ineligible`, [{ field: 'donor.eligibility', message: 'the donor is ineligible' }])
        .inVietnamese(`người hiến ${input.donor.id} đã được xác định là không đủ điều kiện`, ['người hiến không đủ điều kiện']);
    }
    const parents = await parentBatches(ctx, def, input.parents ?? []);
    await store.saveDefinition({ hash: process.hash, processId: def.id, version: def.version, definition: JSON.stringify(def), loadedAt: now.toISOString() });
    // Batch numbers say the product (its prefix in the site's catalogue) and year; training batches can
    // never be mistaken for GMP ones.
    // Annex 11 §10: a rehearsal of a master record not in effect says so in its chained first entry,
    // read inside the write transaction (no transition can slip between).
    const rehearsal = rehearsed((await store.processVersion(def.id, def.version))?.status);
    const prefix = `${ctx.config.training ? 'TRN-' : ''}${ctx.processes.prefixOf(def.productType)}-${now.getUTCFullYear()}-`;
    const batchNumber = `${prefix}${String(await store.countBatchNumbers(prefix) + 1).padStart(5, '0')}`;
    payload = {
      processId: def.id, processVersion: def.version, processHash: process.hash, batchNumber,
      din: input.din.din, dinCheck: input.din.check, chainOfIdentityId: chainOfIdentityId(input.din.din, randomAlnum6()),
      ...(input.patient && { patient: input.patient }), ...(input.donor && { donor: input.donor }),
      ...(parents.length && { parents }), training: ctx.config.training,
      ...(rehearsal && { processStatus: rehearsal }),
    };
    return {
      id: timeOrderedId(), batchNumber, processId: def.id, processVersion: def.version, processHash: process.hash, status: 'in_process', version: 0,
      din: payload.din, dinCheck: payload.dinCheck, chainOfIdentityId: payload.chainOfIdentityId, patient: input.patient ?? null, donor: input.donor ?? null,
      training: ctx.config.training, openDeviations: 0, createdAt: now.toISOString(), updatedAt: now.toISOString(), recordState: null,
    };
  }, async (w) => {
    const entry = await w.entry('batch-created', payload);
    await w.audit({ action: 'batch.created', entity: 'batch', entityId: entry.batchId, after: { ...payload, entryId: entry.id } });
  });
  return record;
}

/**
 * The version a batch starts on: the effective master record (Annex 11 §10). Training mode may
 * rehearse a version still in its lifecycle (draft, in review, approved); the batch shows its status.
 */
async function processToRun(ctx: AppContext, input: CreateBatchInput) {
  const effective = ctx.processes.current(input.processId);
  if (input.processVersion === undefined || input.processVersion === effective?.definition.version) {
    if (!effective) throw notFound('process', input.processId);
    return effective;
  }
  const v = await versionOrNotFound(ctx, input.processId, input.processVersion);
  if (!ctx.config.training) {
    const current = effective ? ` (v${effective.definition.version})` : '';
    throw conflict('version-not-effective', `process ${input.processId} v${v.version} is ${v.status}: GMP batches start only on the effective version${current}`)
      .inVietnamese(`quy trình ${input.processId} v${v.version} ${versionStatusVi(v.status)}: lô GMP chỉ bắt đầu trên phiên bản có hiệu lực${current}`);
  }
  if (!['draft', 'in_review', 'approved'].includes(v.status)) {
    throw conflict('version-not-runnable', `process ${input.processId} v${v.version} is ${v.status}: training rehearses only a version in its lifecycle or the effective one`)
      .inVietnamese(`quy trình ${input.processId} v${v.version} ${versionStatusVi(v.status)}: đào tạo chỉ diễn tập một phiên bản đang trong vòng đời hoặc phiên bản có hiệu lực`);
  }
  return loadVersion(ctx.processes, v);
}

const rehearsed = (status: string | undefined) => (status === 'draft' || status === 'in_review' || status === 'approved' ? status : undefined);

/** The patient and donor the definition asks for: an autologous batch names its patient; an allogeneic one its donor. */
function subjectProblems(def: ProcessDefinition, input: CreateBatchInput): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const recipient = recipientRule(def);
  if (recipient === 'required' && !input.patient) problems.push({ field: 'patient', message: `process ${def.id} needs the patient (id and weight)` });
  if (recipient === 'none' && input.patient) problems.push({ field: 'patient', message: `process ${def.id} names no recipient` });
  if (def.autologous && input.donor) problems.push({ field: 'donor', message: `process ${def.id} is autologous: the patient is the donor` });
  if (!def.autologous && !input.donor) problems.push({ field: 'donor', message: `process ${def.id} is allogeneic: the donor (id and eligibility) is required` });
  const n = input.parents?.length ?? 0;
  const rule = def.parents;
  if (!rule && n) problems.push({ field: 'parents', message: `batches of process ${def.id} are not made from other batches` });
  if (rule && (n < rule.min || n > rule.max)) problems.push({ field: 'parents', message: `process ${def.id} takes ${rule.min === rule.max ? rule.min : `${rule.min} to ${rule.max}`} parent batches, not ${n}` });
  return problems;
}

/** The parent batches (genealogy): each must exist, be of a process the definition allows, and not be rejected or terminated. */
async function parentBatches(ctx: AppContext, def: ProcessDefinition, ids: string[]) {
  const problems: FieldProblem[] = [];
  const vi: string[] = [];
  const problem = (field: string, en: string, inVietnamese: string) => { problems.push({ field, message: en }); vi.push(inVietnamese); };
  const rows = await Promise.all(ids.map((id) => ctx.store.getBatch(id)));
  const parents = ids.flatMap((id, i) => {
    const field = `parents.${i}`;
    const b = rows[i];
    if (!b) return problem(field, `batch ${id} does not exist`, `lô ${id} không tồn tại`), [];
    if (ids.indexOf(id) !== i) problem(field, `batch ${b.batchNumber} is named twice`, `lô ${b.batchNumber} được nêu hai lần`);
    if (b.status === 'rejected' || b.status === 'terminated') problem(field, `batch ${b.batchNumber} is ${b.status}`, `lô ${b.batchNumber} ${statusVi(b.status)}`);
    if (def.parents?.processes && !def.parents.processes.includes(b.processId)) {
      const from = def.parents.processes.join(', ');
      problem(field, `batch ${b.batchNumber} is of process ${b.processId}; process ${def.id} is made from ${from}`, `lô ${b.batchNumber} thuộc quy trình ${b.processId}; quy trình ${def.id} được làm từ ${from}`);
    }
    if (b.training !== ctx.config.training) problem(field, `batch ${b.batchNumber} is ${b.training ? 'a training' : 'a GMP'} batch`, `lô ${b.batchNumber} là lô ${b.training ? 'đào tạo' : 'GMP'}`);
    return [{ id: b.id, batchNumber: b.batchNumber, processId: b.processId }];
  });
  if (problems.length) throw refused('parent-batch-refused', problems.map((p) => p.message).join('; '), problems).inVietnamese(vi.join('; '), vi);
  return parents;
}
