// Terminates a batch (aborted run, lost material): a signed entry with the reason; nothing is deleted.
import type { AppContext } from '../context.js';
import { conflict } from '../errors.js';
import { statusVi } from '../problem-texts.js';
import { assertMay, PERMISSIONS } from '../permissions.js';
import type { UserRow } from '../store/store.js';
import { assertSignerRole, authenticateSigner, type SignatureInput } from '../services/accounts.js';
import { loadBatch } from '../record/load.js';
import { appendToBatch, assertVersion } from './append.js';

export async function terminateBatch(ctx: AppContext, actor: UserRow, batchId: string, input: { reason: string; signature: SignatureInput; expectedVersion?: number }) {
  const record = await loadBatch(ctx, batchId);
  assertMay(actor, 'batch.terminate');
  assertVersion(record, input.expectedVersion);
  if (!record.snapshot.can({ type: 'terminate' })) {
    throw conflict('batch-closed', `a batch in ${String(record.snapshot.value)} cannot be terminated`).inVietnamese(`lô ${statusVi(String(record.snapshot.value))} không chấm dứt được`);
  }
  const signer = await authenticateSigner(ctx, input.signature, batchId);
  await assertSignerRole(ctx, signer, PERMISSIONS['batch.terminate'].roles, 'the termination of a batch', batchId);
  const { record: next } = await appendToBatch(ctx, record, signer, async (w) => {
    const entry = await w.entry('termination', { reason: input.reason });
    await w.sign(entry, signer, 'approved');
    await w.audit({ action: 'batch.terminated', entity: 'batch', entityId: batchId, before: { status: String(record.snapshot.value) }, after: { status: 'terminated' }, reason: input.reason });
  });
  return { record: next };
}
