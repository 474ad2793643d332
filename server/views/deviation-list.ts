// GET /deviations: every batch's deviations, site-wide, oldest first, filtered by status and severity
// and paged. Served from the read model `deviation_list` (record/list-rows.ts): one row per deviation,
// written with every write to its batch; a page is one indexed query, no batch is read or replayed.
import type { AppContext } from '../context.js';
import type { Deviation } from '../record/record.js';
import type { deviationView } from './deviation-view.js';
import { readModelGate } from '../services/projection.js';

export interface DeviationFilter { status?: Deviation['status']; severity?: Deviation['severity']; limit: number; cursor?: string }

export async function listDeviations(ctx: AppContext, f: DeviationFilter) {
  readModelGate(ctx); // an upgraded database's rows are still being filled (services/projection.ts)
  // The cursor is the sort key of the last deviation served: stable while deviations are added after it.
  const page = await ctx.store.listDeviationRows({ status: f.status, severity: f.severity }, f.limit, f.cursor);
  return {
    items: page.items.map((r) => JSON.parse(r.item) as ReturnType<typeof deviationView> & { batchNumber: string }),
    ...(page.nextCursor && { nextCursor: page.nextCursor }),
  };
}
