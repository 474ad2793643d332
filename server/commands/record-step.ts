// Records one step of a batch: load and replay → authorize → ask the machine and the rules → one
// transaction that appends the entry, its signature, any deviations, the audit row and the projection.
// The order of refusals is API.md's: 404 → 403 → 409 → 400 → 401 → 403 → 422.
import type { AppContext } from '../context.js';
import { badRequest, conflict } from '../errors.js';
import type { UserRow } from '../store/store.js';
import { assertSignerRole, authenticateSigner, type SignatureInput } from '../services/accounts.js';
import { loadBatch } from '../record/load.js';
import { canRecord, statusOfRecord, type BatchRecord } from '../record/record.js';
import { lockReason } from '../views/lock-reason.js';
import { computeValues, judgeValues, validateValues } from '../../workflows/values.js';
import { judgeTiming, missedOccurrences } from '../../workflows/schedule.js';
import type { Step } from '../../workflows/definition.js';
import { appendToBatch, assertVersion } from './append.js';
import { malformedScans, usedSnapshots } from '../domain/materials-rules.js';
import { assertSessionMayWork, checkUsedThings, openDeviations, rolesFor, stepOrNotFound } from './step-rules.js';
import { assertHonestTimes, performedAtOrNow } from './performed-at.js';

export interface RecordStepInput { values: Record<string, unknown>; signature: SignatureInput; expectedVersion: number; performedAt?: string; lateReason?: string }

export async function recordStep(ctx: AppContext, actor: UserRow, batchId: string, stepId: string, input: RecordStepInput) {
  const record = await loadBatch(ctx, batchId);
  const step = stepOrNotFound(record, stepId);
  assertSessionMayWork(actor, step);
  assertVersion(record, input.expectedVersion);
  if (!canRecord(record, stepId)) {
    throw conflict('step-not-allowed', `"${step.title.en}" is not allowed now: ${whyLocked(record, step, 'en')}`)
      .inVietnamese(`bước «${step.title.vi}» chưa ghi được lúc này: ${whyLocked(record, step, 'vi')}`);
  }
  const now = ctx.clock.now();
  const errors = [...validateValues(step, input.values, now), ...malformedScans(step, input.values)];
  if (errors.length) throw badRequest(`The values do not fit the fields of "${step.title.en}"`, errors);
  const performedAt = performedAtOrNow(input.performedAt, now);
  const signer = await authenticateSigner(ctx, input.signature, batchId);
  await assertSignerRole(ctx, signer, rolesFor(step, 'performed'), `"${step.title.en}" as performer`, batchId);
  await checkUsedThings(ctx, signer, record, step, input.values);
  await assertHonestTimes(ctx, signer, record, step, input.values, performedAt, input.lateReason);

  // Culture days, windows and missed days are judged on when the work was done, not when it was entered.
  const values = computeValues(step, input.values, record.history, performedAt);
  const { results, failures } = judgeValues(step, values);
  const timing = [judgeTiming(step, values, record.history, performedAt), ...missedOccurrences(step, record.process.definition.phases.flatMap((p) => p.steps), record.history, performedAt)]
    .filter((t): t is string => t !== null);
  const occurrence = (record.snapshot.context.recorded[stepId] ?? 0) + 1;
  const used = await usedSnapshots(ctx, step, input.values);
  const { result: entry, record: next } = await appendToBatch(ctx, record, signer, async (w) => {
    const times = { performedAt: performedAt.toISOString(), ...(input.lateReason && { lateReason: input.lateReason }) };
    const entry = await w.entry('step', { stepId, values, results, occurrence, ...times, ...(used && { used }) }, stepId);
    await w.sign(entry, signer, 'performed');
    await openDeviations(w, entry, step, failures, timing, statusOfRecord(record) === 'released');
    await w.audit({ action: 'step.recorded', entity: 'entry', entityId: entry.id, after: { stepId, values, results, ...times, signedBy: signer.username, session: actor.username } });
    return entry;
  });
  return { entryId: entry.id, record: next };
}

function whyLocked(record: BatchRecord, step: Step, lang: 'en' | 'vi'): string {
  // The same words the terminal shows in lockedSteps.
  return lockReason(record, step, lang) ?? (lang === 'vi' ? 'bước đã được ghi nhận' : 'it has already been recorded');
}
