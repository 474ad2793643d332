// Records one step of a batch: load and replay → authorize → ask the machine and the rules → one
// transaction that appends the entry, its signature, any deviations, the audit row and the projection.
// The order of refusals is API.md's: 404 → 403 → 409 → 400 → 401 → 403 → 422.
import type { AppContext } from '../context.js';
import { alreadyAudited, badRequest, conflict, forbidden, notFound, refused, type FieldProblem } from '../errors.js';
import type { UserRow } from '../store/store.js';
import { assertSignerRole, authenticateSigner, type SignatureInput } from '../services/accounts.js';
import { canRecord, findStep, loadBatch, lockReason, type BatchRecord } from '../services/batch-record.js';
import { computeValues, judgeValues, validateValues } from '../../workflows/values.js';
import { judgeTiming, missedOccurrences } from '../../workflows/schedule.js';
import type { Step } from '../../workflows/definition.js';
import { appendToBatch, assertVersion, auditRefusal, type BatchWriter } from './append.js';
import { equipmentProblem, identityProblem, lotProblem, malformedScans } from '../domain/materials-rules.js';
import type { EntryRow } from '../store/store.js';

export interface RecordStepInput { values: Record<string, unknown>; signature: SignatureInput; expectedVersion: number }

export const rolesFor = (step: Step, meaning: 'performed' | 'verified') => step.signatures.find((s) => s.meaning === meaning)?.roles ?? [];

/** The session's user must hold a role the step's signatures list (a route's roles are the session's). */
export function assertSessionMayWork(user: UserRow, step: Step) {
  const roles = step.signatures.flatMap((s) => s.roles);
  if (!user.roles.some((r) => (roles as string[]).includes(r))) {
    throw forbidden('role-not-allowed', `${user.username} (${user.roles.join(', ')}) cannot work on "${step.title.en}"; it needs one of: ${[...new Set(roles)].join(', ')}`);
  }
}

export function stepOrNotFound(record: BatchRecord, stepId: string): Step {
  const step = findStep(record, stepId);
  if (!step) throw notFound(`step`, `${stepId} of process ${record.row.processId}`);
  return step;
}

/** Lots, equipment and identity scans: 400 for a malformed scan, 422 (audited) for what the rules refuse. */
export function checkUsedThings(ctx: AppContext, actor: UserRow, record: BatchRecord, step: Step, values: Record<string, unknown>) {
  const now = ctx.clock.now();
  const problems: (FieldProblem & { status: 400 | 422 })[] = [];
  for (const f of step.fields) {
    const v = values[f.name];
    if (typeof v !== 'string') continue;
    const field = `values.${f.name}`;
    if (f.kind === 'lot') { const m = lotProblem(ctx, f, v, now); if (m) problems.push({ field, message: m, status: 422 }); }
    if (f.kind === 'equipment') { const m = equipmentProblem(ctx, f, v, now); if (m) problems.push({ field, message: m, status: 422 }); }
    if (f.kind === 'identity') { const p = identityProblem(f, v, record.row); if (p) problems.push({ field, ...p }); }
  }
  const malformed = problems.filter((p) => p.status === 400);
  if (malformed.length) throw badRequest('A scanned identity is not valid', malformed.map(({ field, message }) => ({ field, message })));
  if (problems.length === 0) return;
  const errors = problems.map(({ field, message }) => ({ field, message }));
  const identity = step.fields.some((f) => f.kind === 'identity' && problems.some((p) => p.field === `values.${f.name}`));
  auditRefusal(ctx, actor, record, identity ? 'identity.mismatch' : 'step.refused', errors.map((e) => e.message).join('; '), { stepId: step.id, values });
  throw alreadyAudited(refused(identity ? 'identity-mismatch' : 'material-or-equipment-refused', errors.map((e) => e.message).join('; '), errors));
}

/** Opens one OOS deviation per failed specification, one timing deviation per missed window. */
export function openDeviations(w: BatchWriter, entry: EntryRow, step: Step, failures: { description: string }[], timing: string[]) {
  for (const f of failures) w.entry('deviation', { kind: 'oos', severity: 'major', stepId: step.id, entryId: entry.id, description: f.description });
  for (const t of timing) w.entry('deviation', { kind: 'timing', severity: 'minor', stepId: step.id, entryId: entry.id, description: t });
}

export async function recordStep(ctx: AppContext, actor: UserRow, batchId: string, stepId: string, input: RecordStepInput) {
  const record = loadBatch(ctx, batchId);
  const step = stepOrNotFound(record, stepId);
  assertSessionMayWork(actor, step);
  assertVersion(record, input.expectedVersion);
  if (!canRecord(record, stepId)) {
    throw conflict('step-not-allowed', `"${step.title.en}" is not allowed now: ${whyLocked(record, step)}`);
  }
  const now = ctx.clock.now();
  const errors = [...validateValues(step, input.values, now), ...malformedScans(step, input.values)];
  if (errors.length) throw badRequest(`The values do not fit the fields of "${step.title.en}"`, errors);
  const signer = await authenticateSigner(ctx, input.signature, batchId);
  assertSignerRole(ctx, signer, rolesFor(step, 'performed'), `"${step.title.en}" as performer`, batchId);
  checkUsedThings(ctx, signer, record, step, input.values);

  const values = computeValues(step, input.values, record.history, now);
  const { results, failures } = judgeValues(step, values);
  const timing = [judgeTiming(step, values, record.history, now), ...missedOccurrences(step, record.process.definition.phases.flatMap((p) => p.steps), record.history, now)]
    .filter((t): t is string => t !== null);
  const occurrence = (record.snapshot.context.recorded[stepId] ?? 0) + 1;
  const { result: entry, record: next } = appendToBatch(ctx, record, signer, (w) => {
    const entry = w.entry('step', { stepId, values, results, occurrence }, stepId);
    w.sign(entry, signer, 'performed');
    openDeviations(w, entry, step, failures, timing);
    w.audit({ action: 'step.recorded', entity: 'entry', entityId: entry.id, after: { stepId, values, results, signedBy: signer.username, session: actor.username } });
    return entry;
  });
  return { entryId: entry.id, record: next };
}

function whyLocked(record: BatchRecord, step: Step): string {
  // The same words the terminal shows in lockedSteps.
  return lockReason(record, step, 'en') ?? 'it has already been recorded';
}
