// QA records the investigation of a deviation (C3; 21 CFR 211.192: the investigation of any unexplained
// discrepancy, its conclusions and follow-up): root cause, impact on the product and on other batches,
// the CAPA reference. A signed entry; the deviation is then `investigating`. A later investigation
// entry supersedes the earlier one, which stays in the record.
import type { AppContext } from '../context.js';
import { conflict } from '../errors.js';
import type { UserRow } from '../store/store.js';
import { assertSignerRole, authenticateSigner, type SignatureInput } from '../services/accounts.js';
import type { EntryPayload } from '../../schemas/entries.js';
import { appendToBatch, assertVersion } from './append.js';
import { loadDeviation } from './qa-rules.js';
import { assertMay, PERMISSIONS } from '../permissions.js';

export type InvestigateDeviationInput = Omit<EntryPayload<'deviation-investigation'>, 'deviationId'> & { signature: SignatureInput; expectedVersion?: number };

export async function investigateDeviation(ctx: AppContext, actor: UserRow, deviationId: string, input: InvestigateDeviationInput) {
  const { record, deviation } = loadDeviation(ctx, deviationId);
  const batchId = record.row.id;
  assertMay(actor, 'deviation.investigate');
  assertVersion(record, input.expectedVersion);
  if (deviation.status === 'closed') throw conflict('deviation-closed', `deviation ${deviationId} is closed; open a new deviation for what was found since`);
  const signer = await authenticateSigner(ctx, input.signature, batchId);
  assertSignerRole(ctx, signer, PERMISSIONS['deviation.investigate'].roles, 'the investigation of a deviation', batchId);
  const payload: EntryPayload<'deviation-investigation'> = {
    deviationId, rootCause: input.rootCause, productImpact: input.productImpact, otherBatchesImpact: input.otherBatchesImpact,
    ...(input.capaReference !== undefined && { capaReference: input.capaReference }),
  };
  const { record: next } = appendToBatch(ctx, record, signer, (w) => {
    const e = w.entry('deviation-investigation', payload, deviation.stepId);
    w.sign(e, signer, 'investigated');
    w.audit({
      action: 'deviation.investigated', entity: 'deviation', entityId: deviationId,
      before: { status: deviation.status }, after: { status: 'investigating', ...payload, entryId: e.id, signedBy: signer.username, session: actor.username },
    });
  });
  return { deviationId, record: next };
}
