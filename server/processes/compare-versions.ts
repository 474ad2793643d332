// The comparison a QA reviewer reads before approving a change (workflows/compare.ts), with its impact:
// which batches not yet at a final status run which version of the process.
import type { AppContext } from '../context.js';
import { compareDefinitions } from '../../workflows/compare.js';
import type { ProcessDefinition } from '../../workflows/definition.js';
import { versionOrNotFound } from './master-records.js';

export async function compareVersions(ctx: AppContext, processId: string, from: number, to: number) {
  const a = await versionOrNotFound(ctx, processId, from);
  const b = await versionOrNotFound(ctx, processId, to);
  const changes = compareDefinitions(JSON.parse(a.definition) as ProcessDefinition, JSON.parse(b.definition) as ProcessDefinition);
  const running = await ctx.store.runningBatchesOf(processId);
  const versions = [...new Set(running.map((r) => r.processVersion))].sort((x, y) => x - y);
  return {
    processId,
    from: { version: a.version, status: a.status, hash: a.hash },
    to: { version: b.version, status: b.status, hash: b.hash },
    changes,
    impact: versions.map((version) => ({
      version,
      batches: running.filter((r) => r.processVersion === version).map((r) => ({ id: r.id, batchNumber: r.batchNumber, status: r.status, training: r.training })),
    })),
  };
}
