// Rules every QA command applies the same way: finding a deviation by its id,
// and the separation of duties of a disposition (who may do what: server/permissions.ts). Shared by the deviation, review and disposition commands.
import type { AppContext } from '../context.js';
import { alreadyAudited, conflict, forbidden, notFound, type Said } from '../errors.js';
import type { UserRow } from '../store/store.js';
import { loadBatch } from '../record/load.js';
import type { BatchRecord, Deviation } from '../record/record.js';
import { auditRefusal, assertVersion } from './append.js';
import { assertSignerRole, authenticateSigner, type SignatureInput } from '../services/accounts.js';
import { assertMay, PERMISSIONS, type Action } from '../permissions.js';

/** A deviation and the batch it belongs to, replayed; 404 when no batch has it. */
export async function loadDeviation(ctx: AppContext, deviationId: string): Promise<{ record: BatchRecord; deviation: Deviation }> {
  const entry = await ctx.store.getEntry(deviationId);
  if (!entry || entry.kind !== 'deviation') throw notFound('deviation', deviationId);
  const record = await loadBatch(ctx, entry.batchId);
  const deviation = record.deviations.find((d) => d.id === deviationId);
  if (!deviation) throw notFound('deviation', deviationId);
  return { record, deviation };
}

/**
 * The start every signed act on an open deviation shares (investigate, reclassify, close), in the order
 * of API.md "Which error wins": the deviation (404), the session's role (403), the batch version (409),
 * still open (409 deviation-closed, with `closed` saying why that matters), the act's own `check`, the
 * signer's credentials (401/423) and the signer's role (403). Returns the signer for the entry.
 */
export async function signedDeviationAct(ctx: AppContext, actor: UserRow, deviationId: string, act: {
  action: Action; what: string; closed: Said; signature: SignatureInput; expectedVersion?: number; check?: (deviation: Deviation) => void;
}) {
  const { record, deviation } = await loadDeviation(ctx, deviationId);
  const batchId = record.row.id;
  assertMay(actor, act.action);
  assertVersion(record, act.expectedVersion);
  if (deviation.status === 'closed') throw conflict('deviation-closed', `deviation ${deviationId} ${act.closed.en}`).inVietnamese(`sai lệch ${deviationId} ${act.closed.vi}`);
  act.check?.(deviation);
  const signer = await authenticateSigner(ctx, act.signature, batchId);
  await assertSignerRole(ctx, signer, PERMISSIONS[act.action].roles, act.what, batchId);
  return { record, deviation, signer };
}

/**
 * 21 CFR 211.22, 211.101(d); EU GMP Part IV §6.5; S6: whoever signs a disposition performed and verified
 * none of the batch's steps, whatever roles they hold. Closing deviations or signing the review does not
 * disqualify (API.md "Review and disposition"). The refusal is audited on the batch.
 */
export async function assertIndependentOfBatch(ctx: AppContext, signer: UserRow, record: BatchRecord) {
  const own = record.signatures.filter((s) => s.userId === signer.id && (s.meaning === 'performed' || s.meaning === 'verified'));
  if (own.length === 0) return;
  const did = [...new Set(own.map((s) => s.meaning))].join(' and ');
  await auditRefusal(ctx, signer, record, 'signature.refused', `the disposer ${did} steps of this batch`, { entryIds: [...new Set(own.map((s) => s.entryId))] });
  throw alreadyAudited(forbidden('separation-of-duties', `${signer.username} ${did} ${own.length} signature(s) on steps of batch ${record.row.batchNumber} and cannot sign its disposition; another QA person must`));
}
