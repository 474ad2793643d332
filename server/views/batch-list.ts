// GET /batches: a page of Batches without entries, served from the read model kept in each batch's
// projection row (record/record-state.ts) instead of replaying every batch of the page. A row written
// before the read model existed is replayed.
import type { AppContext } from '../context.js';
import { processOf, replay } from '../record/load.js';
import { recordFromRow } from '../record/record-state.js';
import { listedIntegrity } from '../record/integrity.js';
import { batchView, processStatusOf } from './batch-view.js';
import type { BatchRow } from '../store/store.js';
import type { VersionStatus } from '../processes/master-records.js';
import type { Lang } from './text.js';

export async function listBatchViews(ctx: AppContext, q: { status?: string; limit: number; cursor?: string }, lang: Lang) {
  const page = await ctx.store.listBatches(q.status, q.limit, q.cursor);
  // The master record's status once per version on the page, not once per batch.
  const statuses = new Map<string, Promise<VersionStatus>>();
  const statusOf = (row: BatchRow) => {
    const key = `${row.processId}@${row.processVersion}`;
    if (!statuses.has(key)) statuses.set(key, processStatusOf(ctx, row));
    return statuses.get(key)!;
  };
  const items = await Promise.all(page.items.map(async (row) => {
    const record = recordFromRow(await processOf(ctx, row), row) ?? await replay(ctx, row, await ctx.store.entriesOfBatch(row.id));
    return batchView(ctx, record, { lang, entries: false, integrity: await listedIntegrity(ctx, row.id), processStatus: await statusOf(row) });
  }));
  return { items, ...(page.nextCursor && { nextCursor: page.nextCursor }) };
}
