// QA records the investigation of a deviation (C3; 21 CFR 211.192: the investigation of any unexplained
// discrepancy, its conclusions and follow-up): root cause, impact on the product and on other batches,
// the CAPA reference. A signed entry; the deviation is then `investigating`. A later investigation
// entry supersedes the earlier one, which stays in the record.
import type { AppContext } from '../context.js';
import type { UserRow } from '../store/store.js';
import type { SignatureInput } from '../services/accounts.js';
import type { EntryPayload } from '../../schemas/entries.js';
import { appendToBatch } from './append.js';
import { signedDeviationAct } from './qa-rules.js';

export type InvestigateDeviationInput = Omit<EntryPayload<'deviation-investigation'>, 'deviationId'> & { signature: SignatureInput; expectedVersion?: number };

export async function investigateDeviation(ctx: AppContext, actor: UserRow, deviationId: string, input: InvestigateDeviationInput) {
  const { record, deviation, signer } = await signedDeviationAct(ctx, actor, deviationId, {
    action: 'deviation.investigate', what: 'the investigation of a deviation', closed: { en: 'is closed; open a new deviation for what was found since', vi: 'đã đóng; hãy mở một sai lệch mới cho những gì phát hiện sau đó' },
    signature: input.signature, expectedVersion: input.expectedVersion,
  });
  const payload: EntryPayload<'deviation-investigation'> = {
    deviationId, rootCause: input.rootCause, productImpact: input.productImpact, otherBatchesImpact: input.otherBatchesImpact,
    ...(input.capaReference !== undefined && { capaReference: input.capaReference }),
  };
  const { record: next } = await appendToBatch(ctx, record, signer, async (w) => {
    const e = await w.entry('deviation-investigation', payload, deviation.stepId);
    await w.sign(e, signer, 'investigated');
    await w.audit({
      action: 'deviation.investigated', entity: 'deviation', entityId: deviationId,
      before: { status: deviation.status }, after: { status: 'investigating', ...payload, entryId: e.id, signedBy: signer.username, session: actor.username },
    });
  });
  return { deviationId, record: next };
}
