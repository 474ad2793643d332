// Terminates a batch (aborted run, lost material): a signed entry with the reason; nothing is deleted.
import type { AppContext } from '../context.js';
import { conflict } from '../errors.js';
import { assertMay, PERMISSIONS } from '../permissions.js';
import type { UserRow } from '../store/store.js';
import { assertSignerRole, authenticateSigner, type SignatureInput } from '../services/accounts.js';
import { loadBatch } from '../record/load.js';
import { appendToBatch, assertVersion } from './append.js';

export async function terminateBatch(ctx: AppContext, actor: UserRow, batchId: string, input: { reason: string; signature: SignatureInput; expectedVersion?: number }) {
  const record = loadBatch(ctx, batchId);
  assertMay(actor, 'batch.terminate');
  assertVersion(record, input.expectedVersion);
  if (!record.snapshot.can({ type: 'terminate' })) throw conflict('batch-closed', `a batch in ${String(record.snapshot.value)} cannot be terminated`);
  const signer = await authenticateSigner(ctx, input.signature, batchId);
  assertSignerRole(ctx, signer, PERMISSIONS['batch.terminate'].roles, 'the termination of a batch', batchId);
  const { record: next } = appendToBatch(ctx, record, signer, (w) => {
    const entry = w.entry('termination', { reason: input.reason });
    w.sign(entry, signer, 'approved');
    w.audit({ action: 'batch.terminated', entity: 'batch', entityId: batchId, before: { status: String(record.snapshot.value) }, after: { status: 'terminated' }, reason: input.reason });
  });
  return { record: next };
}
