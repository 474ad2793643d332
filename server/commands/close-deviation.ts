// QA closes a deviation (C3; 21 CFR 211.192; EU GMP Part IV §6.5): the investigation as concluded and
// the conclusion, signed "approved". A closed deviation stays in the record; nothing reopens it.
import type { AppContext } from '../context.js';
import { conflict } from '../errors.js';
import type { UserRow } from '../store/store.js';
import { assertSignerRole, authenticateSigner, type SignatureInput } from '../services/accounts.js';
import { appendToBatch, assertVersion } from './append.js';
import { loadDeviation } from './qa-rules.js';
import { assertMay, PERMISSIONS } from '../permissions.js';

export interface CloseDeviationInput { investigation: string; conclusion: string; signature: SignatureInput; expectedVersion?: number }

export async function closeDeviation(ctx: AppContext, actor: UserRow, deviationId: string, input: CloseDeviationInput) {
  const { record, deviation } = loadDeviation(ctx, deviationId);
  const batchId = record.row.id;
  assertMay(actor, 'deviation.close');
  assertVersion(record, input.expectedVersion);
  if (deviation.status === 'closed') throw conflict('deviation-closed', `deviation ${deviationId} is already closed`);
  const signer = await authenticateSigner(ctx, input.signature, batchId);
  assertSignerRole(ctx, signer, PERMISSIONS['deviation.close'].roles, 'the closing of a deviation', batchId);
  const { record: next } = appendToBatch(ctx, record, signer, (w) => {
    const e = w.entry('deviation-closure', { deviationId, investigation: input.investigation, conclusion: input.conclusion }, deviation.stepId);
    w.sign(e, signer, 'approved');
    w.audit({
      action: 'deviation.closed', entity: 'deviation', entityId: deviationId, before: { status: deviation.status },
      after: { status: 'closed', investigation: input.investigation, conclusion: input.conclusion, entryId: e.id, signedBy: signer.username, session: actor.username },
    });
  });
  return { deviationId, record: next };
}
