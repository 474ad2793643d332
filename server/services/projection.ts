// The projection table is a cache: this rebuilds a batch's row from its entries alone, and says
// whether the cached row agrees. A test proves both equal after every kind of write. The row holds
// the read model the lists serve (record-state.ts): it is rebuilt and compared like the rest.
import { isDeepStrictEqual } from 'node:util';
import type { AppContext } from '../context.js';
import { openDeviationCount, statusOfRecord } from '../record/record.js';
import { replay } from '../record/load.js';
import { recordStateOf, type RecordState } from '../record/record-state.js';

export interface ProjectionState { status: string; version: number; openDeviations: number; recordState: RecordState | null }

export async function rebuildProjection(ctx: AppContext, batchId: string): Promise<{ cached: ProjectionState; rebuilt: ProjectionState } | undefined> {
  const row = await ctx.store.getBatch(batchId);
  if (!row) return undefined;
  const record = await replay(ctx, row, await ctx.store.entriesOfBatch(batchId));
  return {
    cached: { status: row.status, version: row.version, openDeviations: row.openDeviations, recordState: row.recordState ? (JSON.parse(row.recordState) as RecordState) : null },
    // Through JSON, as it is stored.
    rebuilt: { status: statusOfRecord(record), version: record.version, openDeviations: openDeviationCount(record), recordState: JSON.parse(JSON.stringify(recordStateOf(record))) as RecordState },
  };
}

/** Rewrites every cached row from the entries (after a restore, or when a check finds a difference). */
export async function rebuildAllProjections(ctx: AppContext) {
  let fixed = 0;
  for (const id of await ctx.store.allBatchIds()) {
    const r = (await rebuildProjection(ctx, id))!;
    if (!isDeepStrictEqual(r.cached, r.rebuilt)) {
      await ctx.store.saveBatchState(id, { ...r.rebuilt, recordState: JSON.stringify(r.rebuilt.recordState), updatedAt: ctx.clock.now().toISOString() });
      fixed++;
    }
  }
  return fixed;
}
