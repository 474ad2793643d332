// Moves a process version through its lifecycle with a signature and a reason (21 CFR 11.50, 11.70;
// Annex 11 §10): the author submits it (authored), a second person reviews it (reviewed), QA — a third
// person — approves it (approved), QA puts it into effect (the effective version before it is
// superseded) or withdraws it. Order of refusals as API.md: 404 → 403 → 409 → 401 → 403 → write.
import type { AppContext } from '../context.js';
import { conflict, forbidden } from '../errors.js';
import { versionStatusVi } from '../problem-texts.js';
import { assertMay, PERMISSIONS, type Action } from '../permissions.js';
import type { UserRow } from '../store/store.js';
import { assertSignerRole, authenticateSigner, type SignatureInput } from '../services/accounts.js';
import { writeAudit } from '../services/audit.js';
import { loadVersion, supersede, versionOrNotFound, versionView, type VersionStatus } from '../processes/master-records.js';

export const VERSION_ACTIONS = {
  submit: { from: ['draft'], to: 'in_review', meaning: 'authored', permission: 'process.author' },
  review: { from: ['in_review'], to: 'in_review', meaning: 'reviewed', permission: 'process.review' },
  approve: { from: ['in_review'], to: 'approved', meaning: 'approved', permission: 'process.approve' },
  'make-effective': { from: ['approved'], to: 'effective', meaning: 'effective', permission: 'process.approve' },
  withdraw: { from: ['draft', 'in_review', 'approved', 'effective'], to: 'withdrawn', meaning: 'withdrawn', permission: 'process.approve' },
} as const satisfies Record<string, { from: readonly VersionStatus[]; to: VersionStatus; meaning: string; permission: Action }>;
export type VersionAction = keyof typeof VERSION_ACTIONS;

export interface TransitionInput { action: VersionAction; reason: string; signature: SignatureInput }

export async function transitionProcessVersion(ctx: AppContext, actor: UserRow, processId: string, version: number, input: TransitionInput) {
  const v = await versionOrNotFound(ctx, processId, version);
  const rule = VERSION_ACTIONS[input.action];
  assertMay(actor, rule.permission);
  await assertState(ctx, v.status as VersionStatus, input.action, processId, version);
  const signer = await authenticateSigner(ctx, input.signature);
  await assertSignerRole(ctx, signer, PERMISSIONS[rule.permission].roles, `the ${input.action} of process ${processId} v${version}`);
  const signed = await ctx.store.processVersionSignatures(v.id);
  const by = (meaning: string) => signed.filter((s) => s.meaning === meaning).map((s) => s.userId);
  // Three different people write, review and approve a master record (21 CFR 211.186(a), 211.22).
  if (input.action === 'review' && by('authored').includes(signer.id)) throw forbidden('separation-of-duties', 'the author of a version cannot review it');
  if (input.action === 'approve' && [...by('authored'), ...by('reviewed')].includes(signer.id)) throw forbidden('separation-of-duties', 'the author or the reviewer of a version cannot approve it');
  const { store, clock } = ctx;
  await store.transaction(async () => {
    // Another request may have moved the version while this one checked the password.
    const now = await versionOrNotFound(ctx, processId, version);
    await assertState(ctx, now.status as VersionStatus, input.action, processId, version);
    const at = clock.now().toISOString();
    await store.appendProcessVersionSignature({
      versionId: v.id, action: input.action, meaning: rule.meaning, userId: signer.id, username: signer.username, printedName: signer.fullName, reason: input.reason, signedAt: at,
    });
    // 21 CFR 11.10(a), 11.70: the signature row as written goes into the chained audit row (its reason
    // is the row's own), so that verification holds process_version_signatures to the chain
    // (processes/verify-master-records.ts).
    const { reason: _reason, ...signature } = (await store.processVersionSignatures(v.id)).at(-1)!;
    if (rule.to !== now.status) await store.setProcessVersionStatus(v.id, rule.to, at);
    await writeAudit(store, clock, {
      userId: actor.id, action: 'process.version-transition', entityId: v.id, reason: input.reason,
      before: { status: now.status }, after: { status: rule.to, action: input.action, meaning: rule.meaning, signedBy: signer.username, session: actor.username, signature },
    });
    if (input.action === 'make-effective') {
      for (const old of (await store.processVersions(processId)).filter((x) => x.status === 'effective' && x.id !== v.id)) await supersede(store, clock, old, version);
      ctx.processes.setCurrent(loadVersion(ctx.processes, v));
    }
    if (input.action === 'withdraw' && now.status === 'effective') ctx.processes.clearCurrent(processId);
  });
  return versionView(ctx, await versionOrNotFound(ctx, processId, version));
}

async function assertState(ctx: AppContext, status: VersionStatus, action: VersionAction, processId: string, version: number) {
  const rule = VERSION_ACTIONS[action];
  if (!(rule.from as readonly string[]).includes(status)) {
    throw conflict('version-state', `process ${processId} v${version} is ${status}: "${action}" needs it ${rule.from.join(' or ')}`)
      .inVietnamese(`quy trình ${processId} v${version} ${versionStatusVi(status)}: "${action}" cần phiên bản ở trạng thái ${rule.from.join(' hoặc ')}`);
  }
  const signed = await ctx.store.processVersionSignatures((await versionOrNotFound(ctx, processId, version)).id);
  if (action === 'approve' && !signed.some((s) => s.meaning === 'reviewed')) {
    throw conflict('review-missing', `process ${processId} v${version} has no review signature yet: a second person reviews it before QA approves it`)
      .inVietnamese(`quy trình ${processId} v${version} chưa có chữ ký xem xét: một người thứ hai xem xét trước khi QA phê duyệt`);
  }
  if (action === 'make-effective') {
    const newer = (await ctx.store.processVersions(processId)).find((x) => x.status === 'effective' && x.version > version);
    if (newer) throw conflict('version-not-newer', `version ${newer.version} of process ${processId} is already effective`).inVietnamese(`phiên bản ${newer.version} của quy trình ${processId} đã có hiệu lực`);
  }
}
