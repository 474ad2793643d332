// Rules every command on a step applies the same way: who may work on it, what a step uses (lots,
// equipment, identity scans), and the deviations its values open. Shared by record, verify, correct.
import type { AppContext } from '../context.js';
import { alreadyAudited, badRequest, forbidden, notFound, refused, type FieldProblem } from '../errors.js';
import type { EntryRow, UserRow } from '../store/store.js';
import { findStep, type BatchRecord } from '../record/record.js';
import type { Step } from '../../workflows/definition.js';
import { auditRefusal, type BatchWriter } from './append.js';
import { equipmentProblem, identityProblem, lotProblem } from '../domain/materials-rules.js';

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
export async function checkUsedThings(ctx: AppContext, actor: UserRow, record: BatchRecord, step: Step, values: Record<string, unknown>) {
  const now = ctx.clock.now();
  const problems: (FieldProblem & { status: 400 | 422; vi?: string })[] = [];
  for (const f of step.fields) {
    const v = values[f.name];
    if (typeof v !== 'string') continue;
    const field = `values.${f.name}`;
    if (f.kind === 'lot') { const m = await lotProblem(ctx, f, v, now); if (m) problems.push({ field, message: m.en, vi: m.vi, status: 422 }); }
    if (f.kind === 'equipment') { const m = await equipmentProblem(ctx, f, v, now); if (m) problems.push({ field, message: m.en, vi: m.vi, status: 422 }); }
    if (f.kind === 'identity') { const p = identityProblem(f, v, record.row); if (p) problems.push({ field, ...p }); }
  }
  const malformed = problems.filter((p) => p.status === 400);
  if (malformed.length) throw badRequest('A scanned identity is not valid', malformed.map(({ field, message }) => ({ field, message })));
  if (problems.length === 0) return;
  const errors = problems.map(({ field, message }) => ({ field, message }));
  const identity = step.fields.some((f) => f.kind === 'identity' && problems.some((p) => p.field === `values.${f.name}`));
  await auditRefusal(ctx, actor, record, identity ? 'identity.mismatch' : 'step.refused', errors.map((e) => e.message).join('; '), { stepId: step.id, values });
  const vi = problems.map((p) => p.vi ?? p.message);
  throw alreadyAudited(refused(identity ? 'identity-mismatch' : 'material-or-equipment-refused', errors.map((e) => e.message).join('; '), errors).inVietnamese(vi.join('; '), vi));
}

/**
 * Opens one OOS deviation per failed specification or composite criterion, one timing deviation per
 * missed window or required day. A failure recorded on a released batch (a sterility culture that
 * grew) is a critical post-release deviation: the released product is flagged wherever it is shown.
 * Each is its own audit row (21 CFR 11.10(e), R6), not only a part of the step's row: the trail shows
 * every deviation opened, by whom and when, filtered by action like any other event.
 */
export async function openDeviations(w: BatchWriter, entry: EntryRow, step: Step, failures: { description: string }[], timing: string[], afterRelease = false) {
  const open = async (kind: 'oos' | 'timing' | 'post-release', severity: 'major' | 'minor' | 'critical', description: string) => {
    const payload = { kind, severity, stepId: step.id, entryId: entry.id, description };
    const deviation = await w.entry('deviation', payload);
    await w.audit({ action: 'deviation.opened', entity: 'deviation', entityId: deviation.id, after: payload });
  };
  for (const f of failures) {
    if (afterRelease) await open('post-release', 'critical', `after release: ${f.description}`);
    else await open('oos', 'major', f.description);
  }
  for (const t of timing) await open('timing', 'minor', t);
}
