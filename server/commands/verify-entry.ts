// Second-person verification of a recorded step (21 CFR 211.101(d), Annex 11 §6: four eyes).
import type { AppContext } from '../context.js';
import { alreadyAudited, conflict, forbidden, notFound } from '../errors.js';
import { statusVi } from '../problem-texts.js';
import type { UserRow } from '../store/store.js';
import { assertSignerRole, authenticateSigner, type SignatureInput } from '../services/accounts.js';
import { loadBatch } from '../record/load.js';
import type { BatchRecord } from '../record/record.js';
import { appendToBatch, assertVersion, auditRefusal } from './append.js';
import { assertSessionMayWork, rolesFor, stepOrNotFound } from './step-rules.js';
import { parsePayload } from '../../schemas/entries.js';

/** A step or correction entry of this batch, with the step it records; 404 otherwise. */
export function recordedEntry(record: BatchRecord, entryId: string) {
  const entry = record.entries.find((e) => e.id === entryId && (e.kind === 'step' || e.kind === 'correction'));
  if (!entry) throw notFound('entry', `${entryId} of batch ${record.row.id}`);
  const stepId = entry.kind === 'step' ? parsePayload('step', entry.payload).stepId : parsePayload('correction', entry.payload).stepId;
  return { entry, step: stepOrNotFound(record, stepId) };
}

export async function verifyEntry(ctx: AppContext, actor: UserRow, batchId: string, entryId: string, input: { signature: SignatureInput; expectedVersion?: number }) {
  const record = await loadBatch(ctx, batchId);
  const { entry, step } = recordedEntry(record, entryId);
  assertSessionMayWork(actor, step);
  assertVersion(record, input.expectedVersion);
  const roles = rolesFor(step, 'verified');
  if (roles.length === 0) throw conflict('verification-not-required', `"${step.title.en}" needs no verification`).inVietnamese(`bước «${step.title.vi}» không cần người thứ hai xác nhận`);
  if (!(entryId in record.snapshot.context.pending)) {
    throw conflict('already-verified', `entry ${entryId} of "${step.title.en}" is already verified`).inVietnamese(`bản ghi ${entryId} của bước «${step.title.vi}» đã được xác nhận`);
  }
  if (!record.snapshot.can({ type: 'verify', entryId })) {
    throw conflict('batch-closed', `the batch is ${String(record.snapshot.value)}; its entries can no longer be verified`)
      .inVietnamese(`lô ${statusVi(String(record.snapshot.value))}: không xác nhận thêm bản ghi nào được`);
  }
  const signer = await authenticateSigner(ctx, input.signature, batchId);
  await assertSignerRole(ctx, signer, roles, `the verification of "${step.title.en}"`, batchId);
  // 21 CFR 211.101(d): the verifier is not the performer.
  const performers = record.signatures.filter((s) => s.entryId === entryId && s.meaning === 'performed').map((s) => s.userId);
  if (performers.includes(signer.id)) {
    await auditRefusal(ctx, signer, record, 'signature.refused', 'the verifier performed the step', { entryId });
    throw alreadyAudited(forbidden('separation-of-duties', `${signer.username} performed "${step.title.en}" and cannot also verify it; a second person must verify`));
  }
  const { record: next } = await appendToBatch(ctx, record, signer, async (w) => {
    const verification = await w.entry('verification', { entryId }, step.id);
    // The verifier signs the content of the step entry itself: the signature carries that entry's hash.
    await w.sign(entry, signer, 'verified');
    await w.audit({ action: 'step.verified', entity: 'entry', entityId: entryId, after: { verificationEntryId: verification.id, stepId: step.id, signedBy: signer.username, session: actor.username } });
  });
  return { entryId, record: next };
}
