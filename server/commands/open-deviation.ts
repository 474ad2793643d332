// Opens a deviation by hand (C3): whoever works on batches reports what went wrong, against the batch,
// a step or one entry. Deviations the rules find (out of specification, outside a window, a failing
// result after release) are opened by the commands that record those values.
import type { AppContext } from '../context.js';
import { badRequest, type FieldProblem } from '../errors.js';
import type { UserRow } from '../store/store.js';
import { loadBatch } from '../record/load.js';
import { findStep } from '../record/record.js';
import type { EntryPayload } from '../../schemas/entries.js';
import { appendToBatch, assertVersion } from './append.js';
import { assertMay } from '../permissions.js';

export interface OpenDeviationInput {
  description: string; severity: EntryPayload<'deviation'>['severity']; stepId?: string; entryId?: string; expectedVersion?: number;
}

export async function openDeviation(ctx: AppContext, actor: UserRow, batchId: string, input: OpenDeviationInput) {
  const record = await loadBatch(ctx, batchId);
  assertMay(actor, 'deviation.open');
  assertVersion(record, input.expectedVersion);
  const problems: FieldProblem[] = [];
  if (input.stepId !== undefined && !findStep(record, input.stepId)) problems.push({ field: 'stepId', message: `process ${record.row.processId} has no step ${input.stepId}` });
  const entry = input.entryId === undefined ? undefined : record.entries.find((e) => e.id === input.entryId);
  if (input.entryId !== undefined && !entry) problems.push({ field: 'entryId', message: `batch ${record.row.batchNumber} has no entry ${input.entryId}` });
  if (entry && input.stepId !== undefined && entry.stepId !== input.stepId) problems.push({ field: 'entryId', message: `entry ${input.entryId} does not record step ${input.stepId}` });
  if (problems.length) throw badRequest('The deviation names a step or entry this batch does not have', problems);
  const stepId = input.stepId ?? entry?.stepId ?? undefined;
  const payload: EntryPayload<'deviation'> = {
    kind: 'manual', severity: input.severity, description: input.description,
    ...(stepId && { stepId }), ...(input.entryId !== undefined && { entryId: input.entryId }),
  };
  const { result: opened, record: next } = await appendToBatch(ctx, record, actor, async (w) => {
    const e = await w.entry('deviation', payload, stepId);
    await w.audit({ action: 'deviation.opened', entity: 'deviation', entityId: e.id, after: { ...payload, openedBy: actor.username } });
    return e;
  });
  return { deviationId: opened.id, record: next };
}
