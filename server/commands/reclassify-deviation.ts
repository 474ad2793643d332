// QA changes the severity of a deviation, with the reason (EU GMP Part I §1.4(xiv): deviations are
// classified by their risk). A signed entry; the earlier severity stays in the record.
import type { AppContext } from '../context.js';
import { badRequest } from '../errors.js';
import type { UserRow } from '../store/store.js';
import type { SignatureInput } from '../services/accounts.js';
import type { Severity } from '../record/qa-state.js';
import { appendToBatch } from './append.js';
import { signedDeviationAct } from './qa-rules.js';

export interface ReclassifyDeviationInput { severity: Severity; reason: string; signature: SignatureInput; expectedVersion?: number }

export async function reclassifyDeviation(ctx: AppContext, actor: UserRow, deviationId: string, input: ReclassifyDeviationInput) {
  const { record, deviation, signer } = await signedDeviationAct(ctx, actor, deviationId, {
    action: 'deviation.reclassify', what: 'the reclassification of a deviation', closed: { en: 'is closed; its severity can no longer change', vi: 'đã đóng; mức độ không còn thay đổi được' },
    signature: input.signature, expectedVersion: input.expectedVersion,
    check: (d) => {
      if (d.severity === input.severity) throw badRequest('The severity is unchanged', [{ field: 'severity', message: `deviation ${deviationId} is already ${input.severity}` }]);
    },
  });
  const payload = { deviationId, from: deviation.severity, to: input.severity, reason: input.reason };
  const { record: next } = await appendToBatch(ctx, record, signer, async (w) => {
    const e = await w.entry('deviation-reclassification', payload, deviation.stepId);
    await w.sign(e, signer, 'approved');
    await w.audit({
      action: 'deviation.reclassified', entity: 'deviation', entityId: deviationId, before: { severity: deviation.severity },
      after: { severity: input.severity, entryId: e.id, signedBy: signer.username, session: actor.username }, reason: input.reason,
    });
  });
  return { deviationId, record: next };
}
