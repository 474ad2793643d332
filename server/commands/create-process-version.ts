// Drafts a new version of a process's master record from the definition JSON (POST /processes): the
// same load checks as the site folder, every problem named by its JSON path; a version number is
// used once, and only upwards (a change of an approved record is a new version, Annex 11 §10).
import { randomUUID } from 'node:crypto';
import type { AppContext } from '../context.js';
import { badRequest, conflict } from '../errors.js';
import { assertMay } from '../permissions.js';
import type { ProcessVersionRow, UserRow } from '../store/store.js';
import { writeAudit } from '../services/audit.js';
import { versionView } from '../processes/master-records.js';
import { checkDefinition, describeProblem } from '../../workflows/check.js';

export async function createProcessVersion(ctx: AppContext, actor: UserRow, input: unknown) {
  assertMay(actor, 'process.author');
  const result = checkDefinition(input, { products: ctx.processes.products });
  if (!result.ok) {
    throw badRequest('The definition does not pass the load checks', result.problems.map((p) => ({ field: p.path ?? 'definition', message: describeProblem(p) })));
  }
  const { id, version } = result.definition;
  const { store, clock } = ctx;
  return store.transaction(async () => {
    const versions = await store.processVersions(id);
    const highest = Math.max(0, ...versions.map((v) => v.version));
    if (versions.some((v) => v.version === version)) {
      throw conflict('version-exists', `process ${id} already has a version ${version}: a change is a new version (next: ${highest + 1})`)
        .inVietnamese(`quy trình ${id} đã có phiên bản ${version}: một thay đổi là một phiên bản mới (tiếp theo: ${highest + 1})`);
    }
    if (version < highest) {
      throw conflict('version-not-newer', `process ${id} is at version ${highest}: a new version is numbered above it`)
        .inVietnamese(`quy trình ${id} đang ở phiên bản ${highest}: phiên bản mới được đánh số cao hơn`);
    }
    const now = clock.now().toISOString();
    const row: ProcessVersionRow = {
      id: randomUUID(), processId: id, version, hash: result.hash, definition: JSON.stringify(result.definition), status: 'draft', source: 'api',
      createdAt: now, createdBy: actor.id, updatedAt: now,
    };
    await store.insertProcessVersion(row);
    await writeAudit(store, clock, { userId: actor.id, action: 'process.version-created', entityId: row.id, after: { processId: id, version, hash: result.hash, source: 'api', status: 'draft' } });
    return versionView(ctx, row);
  });
}
