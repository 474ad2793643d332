// QA closes a deviation (C3; 21 CFR 211.192; EU GMP Part IV §6.5): the investigation as concluded and
// the conclusion, signed "approved". A closed deviation stays in the record; nothing reopens it.
import type { AppContext } from '../context.js';
import type { UserRow } from '../store/store.js';
import type { SignatureInput } from '../services/accounts.js';
import { appendToBatch } from './append.js';
import { signedDeviationAct } from './qa-rules.js';

export interface CloseDeviationInput { investigation: string; conclusion: string; signature: SignatureInput; expectedVersion?: number }

export async function closeDeviation(ctx: AppContext, actor: UserRow, deviationId: string, input: CloseDeviationInput) {
  const { record, deviation, signer } = await signedDeviationAct(ctx, actor, deviationId, {
    action: 'deviation.close', what: 'the closing of a deviation', closed: { en: 'is already closed', vi: 'đã đóng' }, signature: input.signature, expectedVersion: input.expectedVersion,
  });
  const { record: next } = await appendToBatch(ctx, record, signer, async (w) => {
    const e = await w.entry('deviation-closure', { deviationId, investigation: input.investigation, conclusion: input.conclusion }, deviation.stepId);
    await w.sign(e, signer, 'approved');
    await w.audit({
      action: 'deviation.closed', entity: 'deviation', entityId: deviationId, before: { status: deviation.status },
      after: { status: 'closed', investigation: input.investigation, conclusion: input.conclusion, entryId: e.id, signedBy: signer.username, session: actor.username },
    });
  });
  return { deviationId, record: next };
}
