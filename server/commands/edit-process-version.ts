// Replaces the content of a draft process version (PUT /processes/{id}/versions/{version}): only its
// author, only while it is a draft, only over the content the author last read (If-Match with the
// content hash, so that two people editing one draft cannot silently overwrite each other), checked
// by the same load checks as POST /processes. Each replacement is audited with the content hashes
// before and after (Annex 11 §9); once submitted, the content is locked (migration 0008) and a change
// is a new version (Annex 11 §10). Order of refusals: 404 → 403 → 409 → 428/412 → 400 → write.
import type { AppContext } from '../context.js';
import { badRequest, conflict, forbidden, preconditionFailed, preconditionRequired } from '../errors.js';
import { versionStatusVi } from '../problem-texts.js';
import { assertMay } from '../permissions.js';
import type { UserRow } from '../store/store.js';
import { writeAudit } from '../services/audit.js';
import { versionOrNotFound, versionView } from '../processes/master-records.js';
import { checkDefinition, describeProblem } from '../../workflows/check.js';

export async function editProcessVersion(ctx: AppContext, actor: UserRow, processId: string, version: number, ifMatch: string | undefined, input: unknown) {
  const v = await versionOrNotFound(ctx, processId, version);
  assertMay(actor, 'process.author');
  if (v.createdBy !== actor.id) throw forbidden('not-author', `only the author of process ${processId} v${version} may change its draft`);
  assertDraft(v.status, processId, version);
  assertCurrent(v.hash, ifMatch, processId, version);
  const result = checkDefinition(input, { products: ctx.processes.products });
  if (!result.ok) {
    throw badRequest('The definition does not pass the load checks', result.problems.map((p) => ({ field: p.path ?? 'definition', message: describeProblem(p) })));
  }
  const { definition, hash } = result;
  const moved = [definition.id !== processId && { field: 'id', message: `the draft being replaced is of process ${processId}` }, definition.version !== version && { field: 'version', message: `the draft being replaced is version ${version}` }]
    .filter((p) => p !== false);
  if (moved.length) throw badRequest('A draft keeps its process and version number: another number is another version (POST /processes)', moved);
  const { store, clock } = ctx;
  await store.transaction(async () => {
    // Another request may have submitted or replaced the draft meanwhile.
    const now = await versionOrNotFound(ctx, processId, version);
    assertDraft(now.status, processId, version);
    assertCurrent(now.hash, ifMatch, processId, version);
    if (now.hash === hash) return; // the same content: nothing changes, nothing is audited
    await store.replaceProcessVersionContent(v.id, JSON.stringify(definition), hash, clock.now().toISOString());
    await writeAudit(store, clock, { userId: actor.id, action: 'process.version-edited', entityId: v.id, before: { hash: now.hash }, after: { hash, processId, version } });
  });
  return versionView(ctx, await versionOrNotFound(ctx, processId, version));
}

function assertDraft(status: string, processId: string, version: number) {
  if (status !== 'draft') {
    throw conflict('version-locked', `process ${processId} v${version} is ${status}: only a draft's content can change; a change is a new version (POST /processes)`)
      .inVietnamese(`quy trình ${processId} v${version} ${versionStatusVi(status)}: chỉ nội dung của bản nháp mới thay đổi được; một thay đổi là một phiên bản mới (POST /processes)`);
  }
}

/** RFC 9110 §13.1.1: If-Match holds entity tags (or *); the draft's ETag is its content hash, compared strongly. */
function assertCurrent(hash: string, ifMatch: string | undefined, processId: string, version: number) {
  if (ifMatch === undefined || ifMatch.trim() === '') throw preconditionRequired(`send If-Match with the ETag of process ${processId} v${version} as read (GET /processes/${processId}/versions/${version}), so that another edit is not overwritten`);
  const tags = ifMatch.split(',').map((t) => t.trim());
  if (!tags.includes('*') && !tags.includes(`"${hash}"`)) throw preconditionFailed(`process ${processId} v${version} has changed since it was read (its ETag is now "${hash}"): reload it and apply the change again`);
}
