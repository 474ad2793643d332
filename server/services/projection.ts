// The projection table is a cache: this rebuilds a batch's row from its entries alone, and says
// whether the cached row agrees. A test proves both equal after every kind of write. The row holds
// the read model GET /batches serves (record-state.ts), and the batch's rows of the site-wide lists
// (deviation_list, pending_work: record/list-rows.ts) are part of it: all are rebuilt and compared alike.
import { isDeepStrictEqual } from 'node:util';
import type { AppContext } from '../context.js';
import type { BatchLists } from '../store/store.js';
import { AppError } from '../errors.js';
import { openDeviationCount, statusOfRecord, type BatchRecord } from '../record/record.js';
import { replay } from '../record/load.js';
import { recordStateOf, type RecordState } from '../record/record-state.js';
import { deviationRows, pendingRows } from '../record/list-rows.js';

export interface ProjectionState { status: string; version: number; openDeviations: number; recordState: RecordState | null; lists: BatchLists }

export async function rebuildProjection(ctx: AppContext, batchId: string): Promise<{ cached: ProjectionState; rebuilt: ProjectionState } | undefined> {
  const row = await ctx.store.getBatch(batchId);
  if (!row) return undefined;
  const record = await replay(ctx, row, await ctx.store.entriesOfBatch(batchId));
  const rebuilt = projectionOf(record);
  return {
    cached: {
      status: row.status, version: row.version, openDeviations: row.openDeviations, recordState: row.recordState ? (JSON.parse(row.recordState) as RecordState) : null,
      lists: await ctx.store.batchLists(batchId),
    },
    // Through JSON, as it is stored.
    rebuilt: { ...rebuilt, recordState: JSON.parse(JSON.stringify(rebuilt.recordState)) as RecordState },
  };
}

/** A batch's cached rows as its record gives them. */
function projectionOf(record: BatchRecord): ProjectionState & { recordState: RecordState } {
  return {
    status: statusOfRecord(record), version: record.version, openDeviations: openDeviationCount(record), recordState: recordStateOf(record),
    lists: { deviations: deviationRows(record).sort((a, b) => (a.sortKey < b.sortKey ? -1 : 1)), pending: pendingRows(record) },
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
/** Batches rebuilt per transaction while filling: each transaction holds the writer's lock for a few milliseconds, not minutes. */
const FILL_CHUNK = 50;

/**
 * Whether this database's read-model rows are all there: `filled` once a fill has finished (here, or on
 * another app server sharing the database); `filling` runs while they are not. Until then GET /batches
 * replays a batch whose row has no stored state, and GET /deviations and GET /me/pending answer 503
 * (readModelGate): their pages are indexed queries over rows that are not all written yet.
 */
export interface ReadModelState { filled: boolean; filling?: Promise<FillReport> }

export interface FillReport { batches: number; unreadable: number; filled: boolean }

export const readModelFilled = async (ctx: AppContext) => (await ctx.store.getSetting(READ_MODEL)) === READ_MODEL_VERSION;

/** A database that has no batch yet has nothing to fill: it is marked filled at once (a new database, at its first start). */
export async function openReadModel(ctx: AppContext): Promise<ReadModelState> {
  if (await readModelFilled(ctx)) return { filled: true };
  if ((await ctx.store.listBatches(undefined, 1)).items.length > 0) return { filled: false };
  await ctx.store.transaction(() => ctx.store.putSetting(READ_MODEL, READ_MODEL_VERSION));
  return { filled: true };
}

/**
 * Fills the read model of a database written before it existed (or whose rows were removed): every
 * batch's projection row and list rows rebuilt from its entries, FILL_CHUNK batches per short
 * transaction, `pause` between them so that requests and writes go on meanwhile (issue 15 item 5: the
 * server serves while this runs; app.ts starts it in the background). Each chunk reads and writes under
 * the writer's lock, so a write to a batch lands wholly before or after its rebuild, and the rows a
 * write leaves are complete anyway (commands/append.ts rewrites its batch's). A batch that does not
 * replay is skipped (the record's verification reports it) and the fill is tried again at the next
 * start; a fill that finds another server finished it stops. `again`: every batch even so (the
 * benchmarks' seeder, whose rows bypass the write path).
 */
export async function fillReadModel(ctx: AppContext, opts: { chunk?: number; pause?: () => Promise<void>; stopped?: () => boolean; again?: boolean } = {}): Promise<FillReport> {
  const pause = opts.pause ?? (() => new Promise<void>((resolve) => setImmediate(resolve)));
  let batches = 0;
  let unreadable = 0;
  let cursor: string | undefined;
  do {
    if (opts.stopped?.()) return { batches, unreadable, filled: false };
    if (!opts.again && await readModelFilled(ctx)) return { batches, unreadable, filled: true };
    cursor = await ctx.store.transaction(async () => {
      const page = await ctx.store.listBatches(undefined, opts.chunk ?? FILL_CHUNK, cursor);
      // The chunk's entries and signatures in two statements, not two per batch.
      const rows = await ctx.store.recordsOfBatches(page.items.map((r) => r.id));
      const filled = [];
      for (const row of page.items) {
        let record;
        try {
          const { entries, signatures } = rows.get(row.id)!;
          record = await replay(ctx, row, entries, signatures);
        } catch {
          unreadable++;
          continue;
        }
        const { lists, ...state } = projectionOf(record);
        filled.push({ id: row.id, state: { ...state, recordState: JSON.stringify(state.recordState), updatedAt: row.updatedAt }, lists });
      }
      // Written together: a few statements per chunk, not four per batch.
      await ctx.store.saveReadModels(filled);
      batches += filled.length;
      return page.nextCursor;
    });
    if (cursor) await pause();
  } while (cursor);
  if (unreadable === 0) await ctx.store.transaction(() => ctx.store.putSetting(READ_MODEL, READ_MODEL_VERSION));
  return { batches, unreadable, filled: unreadable === 0 };
}

/** 503 read-model-filling for a list served only from the read model's rows while they are being filled (Retry-After). */
export function readModelGate(ctx: AppContext) {
  if (ctx.readModel.filled) return;
  const e = new AppError('read-model-filling', 503, 'the lists of this database are being rebuilt from its entries after an upgrade; try again in a moment')
    .inVietnamese('danh sách của cơ sở dữ liệu này đang được dựng lại từ các mục ghi sau khi nâng cấp; vui lòng thử lại sau giây lát');
  e.retryAfter = 10;
  throw e;
}
