// QA's disposition of a batch (21 CFR 211.22, 211.165; EU GMP Part IV §11 and Annex 16): release,
// reject, or the exceptional release of an out-of-specification ATMP (EU GMP Part IV §11.5: on the
// treating physician's request, with a justification). Signed "released" or "rejected"; the batch's
// status follows from the entry through the machine (dispose.release / dispose.reject), never from a
// stored field. Order of refusals (API.md): 404 → 403 role → 409 state, version → 401 signature →
// 403 separation of duties → 422 rules. (The body — meaning, justification, physician request — is
// checked before any of these by the route's schema.)
import type { AppContext } from '../context.js';
import { conflict, refused, type FieldProblem } from '../errors.js';
import { deviationVi, statusVi } from '../problem-texts.js';
import type { UserRow } from '../store/store.js';
import { assertSignerRole, authenticateSigner, type SignatureInput } from '../services/accounts.js';
import { loadBatch } from '../record/load.js';
import { statusOfRecord, type BatchRecord } from '../record/record.js';
import { entryLabel, reviewState } from '../record/exceptions.js';
import { awaitedTests, failedTests, followingTests, releaseTests } from '../record/release-tests.js';
import type { EntryPayload } from '../../schemas/entries.js';
import { appendToBatch, assertVersion } from './append.js';
import { assertIndependentOfBatch } from './qa-rules.js';
import { assertMay, PERMISSIONS } from '../permissions.js';
import { freezeRecordPdfs } from './export-batch-record.js';


export type Decision = EntryPayload<'disposition'>['decision'];
export interface DisposeBatchInput {
  decision: Decision; justification?: string; physicianRequest?: string; signature: SignatureInput; expectedVersion?: number;
}

export const meaningOf = (decision: Decision) => (decision === 'reject' ? 'rejected' : 'released');

export async function disposeBatch(ctx: AppContext, actor: UserRow, batchId: string, input: DisposeBatchInput) {
  const record = await loadBatch(ctx, batchId);
  assertMay(actor, 'batch.dispose');
  assertVersion(record, input.expectedVersion);
  const releasing = input.decision !== 'reject';
  if (!record.snapshot.can({ type: releasing ? 'dispose.release' : 'dispose.reject' })) {
    const status = statusOfRecord(record);
    throw conflict('not-ready-for-disposition', releasing
      ? `the batch is ${status}; it can be released only from qa_review, once every required step and release test is recorded`
      : `the batch is ${status} and can no longer be rejected`)
      .inVietnamese(releasing
        ? `lô ${statusVi(status)}; chỉ xuất xưởng được khi lô đang chờ QA xem xét, sau khi mọi bước bắt buộc và mọi kiểm nghiệm xuất xưởng đã được ghi`
        : `lô ${statusVi(status)} và không còn loại bỏ được`);
  }
  const signer = await authenticateSigner(ctx, input.signature, batchId);
  await assertSignerRole(ctx, signer, PERMISSIONS['batch.dispose'].roles, 'the disposition of a batch', batchId);
  await assertIndependentOfBatch(ctx, signer, record);
  const tests = releaseTests(record);
  if (releasing) assertReleasable(record, input.decision, tests);

  const pending = releasing ? followingTests(tests).map((t) => t.step.id) : [];
  const payload: EntryPayload<'disposition'> = {
    decision: input.decision, conditional: pending.length > 0, pendingTests: pending,
    failedTests: releasing ? failedTests(tests).map((t) => t.step.id) : [],
    ...(input.justification !== undefined && { justification: input.justification }),
    ...(input.physicianRequest !== undefined && { physicianRequest: input.physicianRequest }),
    ...(releasing && { reviewEntryId: reviewState(record, record.qa.reviews).current!.entryId }),
  };
  const { result: entry, record: next } = await appendToBatch(ctx, record, signer, async (w) => {
    const e = await w.entry('disposition', payload);
    await w.sign(e, signer, meaningOf(input.decision));
    await w.audit({ action: 'batch.disposed', entity: 'batch', entityId: batchId, after: { ...payload, entryId: e.id, signedBy: signer.username, session: actor.username }, reason: input.justification });
    return e;
  });
  await afterDispositionCommitted(ctx, next);
  return { entryId: entry.id, record: next };
}

/** API.md "Review and disposition": what a release and an exceptional release need (422 otherwise, every reason listed). */
function assertReleasable(record: BatchRecord, decision: Decision, tests: ReturnType<typeof releaseTests>) {
  const problems: FieldProblem[] = [];
  const vi: string[] = [];
  const problem = (field: string, en: string, inVietnamese: string) => { problems.push({ field, message: en }); vi.push(inVietnamese); };
  for (const d of record.deviations.filter((x) => x.status !== 'closed')) {
    problem(`deviations.${d.id}`, `${d.kind} deviation (${d.severity}, ${d.status}) is open: ${d.description}`, `${deviationVi(d)} còn mở: ${d.description}`);
  }
  for (const t of awaitedTests(tests)) problem(`tests.${t.step.id}`, `"${t.step.title.en}" has no result`, `«${t.step.title.vi}» chưa có kết quả`);
  // API.md "Entries": a step that needs a verified signature is pending until verified. A correction made
  // after the manufacturing steps were verified needs its second person again (21 CFR 211.101(d)); the
  // product is not released on an entry nobody has checked.
  for (const entryId of Object.keys(record.snapshot.context.pending)) {
    const entry = entryLabel(record, entryId);
    problem(`entries.${entryId}`, `${entry.en} awaits its second-person verification`, `${entry.vi} đang chờ người thứ hai xác nhận`);
  }
  // An exceptional release accepts failed tests; a release does not.
  if (decision === 'release') {
    for (const t of failedTests(tests)) {
      problem(`tests.${t.step.id}`, `"${t.step.title.en}" failed its specification; only an exceptional release can release it`, `«${t.step.title.vi}» không đạt tiêu chuẩn; chỉ xuất xưởng ngoại lệ mới xuất xưởng được`);
    }
  }
  const review = reviewState(record, record.qa.reviews);
  if (review.voided) {
    problem('review', `the review signed ${review.voided.review.signedAt} is void: exceptions appeared after it (${review.voided.by.join(', ')}); sign a new review`,
      `bản xem xét ký lúc ${review.voided.review.signedAt} không còn hiệu lực: có ngoại lệ mới sau đó (${review.voided.by.join(', ')}); hãy ký một bản xem xét mới`);
  } else if (!review.current) problem('review', 'the review of the record and its audit trail is not signed', 'việc xem xét hồ sơ và nhật ký kiểm tra chưa được ký');
  if (problems.length) {
    throw refused('not-releasable', `batch ${record.row.batchNumber} cannot be ${decision === 'release' ? 'released' : 'released exceptionally'}: ${problems.map((p) => p.message).join('; ')}`, problems)
      .inVietnamese(`lô ${record.row.batchNumber} chưa ${decision === 'release' ? 'xuất xưởng' : 'xuất xưởng ngoại lệ'} được: ${vi.join('; ')}`, vi);
  }
}

/**
 * After the disposition is committed: side effects that must not undo it, each guarded so that one
 * failing leaves the disposition and the others standing. The batch record PDF is frozen here.
 */
export async function afterDispositionCommitted(ctx: AppContext, record: BatchRecord) {
  // API.md "PDF bytes": the batch record is rendered and stored now, and served byte-identical after.
  // Should it fail, the disposition stands and the first GET of record.pdf freezes it instead.
  try {
    await freezeRecordPdfs(ctx, record);
  } catch {
    /* frozen at the first request instead */
  }
}
