// The projection table is a cache: this rebuilds a batch's row from its entries alone, and says
// whether the cached row agrees. A test proves both equal after every kind of write. The row holds
// the read model GET /batches serves (record-state.ts), and the batch's rows of the site-wide lists
// (deviation_list, pending_work: record/list-rows.ts) are part of it: all are rebuilt and compared alike.
import { isDeepStrictEqual } from 'node:util';
import type { AppContext } from '../context.js';
import type { BatchLists } from '../store/store.js';
import { openDeviationCount, statusOfRecord } from '../record/record.js';
import { replay } from '../record/load.js';
import { recordStateOf, type RecordState } from '../record/record-state.js';
import { deviationRows, pendingRows } from '../record/list-rows.js';

export interface ProjectionState { status: string; version: number; openDeviations: number; recordState: RecordState | null; lists: BatchLists }

export async function rebuildProjection(ctx: AppContext, batchId: string): Promise<{ cached: ProjectionState; rebuilt: ProjectionState } | undefined> {
  const row = await ctx.store.getBatch(batchId);
  if (!row) return undefined;
  const record = await replay(ctx, row, await ctx.store.entriesOfBatch(batchId));
  return {
    cached: {
      status: row.status, version: row.version, openDeviations: row.openDeviations, recordState: row.recordState ? (JSON.parse(row.recordState) as RecordState) : null,
      lists: await ctx.store.batchLists(batchId),
    },
    // Through JSON, as it is stored.
    rebuilt: {
      status: statusOfRecord(record), version: record.version, openDeviations: openDeviationCount(record), recordState: JSON.parse(JSON.stringify(recordStateOf(record))) as RecordState,
      lists: { deviations: deviationRows(record).sort((a, b) => (a.sortKey < b.sortKey ? -1 : 1)), pending: pendingRows(record) },
    },
  };
}

/** Rewrites every cached row from the entries (after a restore, or when a check finds a difference); the number of batches rewritten. */
export async function rebuildAllProjections(ctx: AppContext, opts: { skipUnreadable?: boolean } = {}) {
  let fixed = 0;
  let unreadable = 0;
  for (const id of await ctx.store.allBatchIds()) {
    let r;
    try {
      r = (await rebuildProjection(ctx, id))!;
    } catch (e) {
      // A batch whose entries no longer replay (edited in the database) is verification's to report.
      if (!opts.skipUnreadable) throw e;
      unreadable++;
      continue;
    }
    if (!isDeepStrictEqual(r.cached, r.rebuilt)) {
      const { lists, ...state } = r.rebuilt;
      await ctx.store.saveBatchState(id, { ...state, recordState: JSON.stringify(state.recordState), updatedAt: ctx.clock.now().toISOString() });
      await ctx.store.replaceBatchLists(id, lists);
      fixed++;
    }
  }
  return { fixed, unreadable };
}

/** Settings key: the read models this database's rows were written for (the lists' tables came with migration 0009). */
const READ_MODEL = 'read-model.version';
const READ_MODEL_VERSION = '2';

/**
 * At start: a database written before the lists' tables existed has none of their rows; they are
 * rebuilt once from the entries, in one transaction (on PostgreSQL, whichever server starts first). A
 * batch that does not replay does not stop the start (the record's verification reports it); the
 * rebuild is tried again at the next start.
 */
export async function fillReadModel(ctx: AppContext) {
  if ((await ctx.store.getSetting(READ_MODEL)) === READ_MODEL_VERSION) return;
  await ctx.store.transaction(async () => {
    if ((await ctx.store.getSetting(READ_MODEL)) === READ_MODEL_VERSION) return;
    const { unreadable } = await rebuildAllProjections(ctx, { skipUnreadable: true });
    if (unreadable === 0) await ctx.store.putSetting(READ_MODEL, READ_MODEL_VERSION);
  });
}
