// The projection table is a cache: this rebuilds a batch's row from its entries alone, and says
// whether the cached row agrees. A test proves both equal after every kind of write.
import type { AppContext } from '../context.js';
import { openDeviationCount, statusOfRecord } from '../record/record.js';
import { replay } from '../record/load.js';

export interface ProjectionState { status: string; version: number; openDeviations: number }

export function rebuildProjection(ctx: AppContext, batchId: string): { cached: ProjectionState; rebuilt: ProjectionState } | undefined {
  const row = ctx.store.getBatch(batchId);
  if (!row) return undefined;
  const record = replay(ctx, row, ctx.store.entriesOfBatch(batchId));
  return {
    cached: { status: row.status, version: row.version, openDeviations: row.openDeviations },
    rebuilt: { status: statusOfRecord(record), version: record.version, openDeviations: openDeviationCount(record) },
  };
}

/** Rewrites every cached row from the entries (after a restore, or when a check finds a difference). */
export function rebuildAllProjections(ctx: AppContext) {
  let fixed = 0;
  for (const id of ctx.store.allBatchIds()) {
    const r = rebuildProjection(ctx, id)!;
    if (JSON.stringify(r.cached) !== JSON.stringify(r.rebuilt)) {
      ctx.store.saveBatchState(id, { ...r.rebuilt, updatedAt: ctx.clock.now().toISOString() });
      fixed++;
    }
  }
  return fixed;
}
