// GET /deviations: every batch's deviations, site-wide, oldest first, filtered by status and severity
// and paged. It replays the batches that have had a deviation; the read model of the lists will serve
// it once it exists.
import type { AppContext } from '../context.js';
import { loadBatch } from '../record/load.js';
import type { Deviation } from '../record/record.js';
import { deviationView } from './deviation-view.js';

export interface DeviationFilter { status?: Deviation['status']; severity?: Deviation['severity']; limit: number; cursor?: string }

export function listDeviations(ctx: AppContext, f: DeviationFilter) {
  const rows: { d: Deviation; view: ReturnType<typeof deviationView> & { batchNumber: string } }[] = [];
  for (const batchId of ctx.store.batchIdsWithEntryKind('deviation')) {
    const r = loadBatch(ctx, batchId);
    for (const d of r.deviations) {
      if ((f.status && d.status !== f.status) || (f.severity && d.severity !== f.severity)) continue;
      rows.push({ d, view: { ...deviationView(d, r), batchNumber: r.row.batchNumber } });
    }
  }
  rows.sort((a, b) => a.d.openedAt.localeCompare(b.d.openedAt) || a.d.id.localeCompare(b.d.id));
  // The cursor is the last (openedAt, id) served: stable while deviations are added after it.
  const after = f.cursor ? Buffer.from(f.cursor, 'base64url').toString() : undefined;
  const start = after ? rows.findIndex((x) => `${x.d.openedAt}|${x.d.id}` > after) : 0;
  const from = start === -1 ? rows.length : start;
  const items = rows.slice(from, from + f.limit);
  const last = items[items.length - 1];
  const next = from + f.limit < rows.length && last ? Buffer.from(`${last.d.openedAt}|${last.d.id}`).toString('base64url') : undefined;
  return { items: items.map((x) => x.view), ...(next && { nextCursor: next }) };
}
