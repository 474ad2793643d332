// Corrects a recorded step: a new signed entry that names the original and keeps it (GMP records are
// never updated; 21 CFR 11.10(e)). A corrected step that needed verification needs it again.
import type { AppContext } from '../context.js';
import { badRequest, conflict } from '../errors.js';
import { statusVi } from '../problem-texts.js';
import type { UserRow } from '../store/store.js';
import { assertSignerRole, authenticateSigner, type SignatureInput } from '../services/accounts.js';
import { loadBatch } from '../record/load.js';
import { statusOfRecord } from '../record/record.js';
import { computeValues, judgeValues, performedAtOf, validateValues } from '../../workflows/values.js';
import { appendToBatch, assertVersion } from './append.js';
import { assertSessionMayWork, checkUsedThings, openDeviations, rolesFor } from './step-rules.js';
import { recordedEntry } from './verify-entry.js';
import { malformedScans, usedSnapshots } from '../domain/materials-rules.js';

export interface CorrectEntryInput { values: Record<string, unknown>; reason: string; signature: SignatureInput; expectedVersion?: number }

export async function correctEntry(ctx: AppContext, actor: UserRow, batchId: string, entryId: string, input: CorrectEntryInput) {
  const record = await loadBatch(ctx, batchId);
  const { entry, step } = recordedEntry(record, entryId);
  assertSessionMayWork(actor, step);
  assertVersion(record, input.expectedVersion);
  const status = statusOfRecord(record);
  if (status === 'terminated' || status === 'rejected') {
    throw conflict('batch-closed', `the batch is ${status}; its record can no longer be corrected`).inVietnamese(`lô ${statusVi(status)}: hồ sơ không còn sửa được`);
  }
  if (entry.kind !== 'step') {
    throw conflict('correct-the-original', `entry ${entryId} is itself a correction: correct the original step entry instead`)
      .inVietnamese(`bản ghi ${entryId} là một bản sửa: hãy sửa bản ghi gốc của bước`);
  }
  const now = ctx.clock.now();
  const errors = [...validateValues(step, input.values, now, true), ...malformedScans(step, input.values)];
  if (errors.length) throw badRequest(`The corrected values do not fit the fields of "${step.title.en}"`, errors);
  const signer = await authenticateSigner(ctx, input.signature, batchId);
  await assertSignerRole(ctx, signer, rolesFor(step, 'performed'), `a correction of "${step.title.en}"`, batchId);
  await checkUsedThings(ctx, signer, record, step, input.values);

  const occurrence = Object.values(record.history.occurrences).flat().find((o) => o.entryId === entryId)!;
  const current = occurrence.values;
  // Computed values follow the corrected inputs, evaluated as of when the step was performed (a
  // culture day stays the day of the check); only what changes is stored in the correction.
  const merged = computeValues(step, { ...stripComputed(step, current), ...input.values }, record.history, new Date(performedAtOf(occurrence)));
  const changed = Object.fromEntries(Object.entries(merged).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(current[k])));
  if (Object.keys(changed).length === 0) throw badRequest('The correction changes nothing', [{ field: 'values', message: 'every value sent equals the value recorded' }]);
  const { results, failures } = judgeValues(step, merged);
  const before = Object.fromEntries(Object.keys(changed).map((k) => [k, current[k] ?? null]));
  const used = await usedSnapshots(ctx, step, changed);
  const { result: correction, record: next } = await appendToBatch(ctx, record, signer, async (w) => {
    const correction = await w.entry('correction', { correctsEntryId: entryId, stepId: step.id, values: changed, results, reason: input.reason, ...(used && { used }) }, step.id);
    await w.sign(correction, signer, 'performed');
    // A value corrected into failure opens a deviation; one that already failed has its deviation.
    const previous = judgeValues(step, current).results;
    await openDeviations(w, correction, step, failures.filter((f) => previous[f.name] !== 'fail'), [], status === 'released');
    await w.audit({ action: 'entry.corrected', entity: 'entry', entityId: entryId, before, after: { ...changed, signedBy: signer.username, session: actor.username }, reason: input.reason });
    return correction;
  });
  return { entryId: correction.id, record: next };
}

const stripComputed = (step: { fields: { name: string; computed?: unknown }[] }, values: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(values).filter(([k]) => !step.fields.find((f) => f.name === k)?.computed));
