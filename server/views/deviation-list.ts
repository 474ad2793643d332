// GET /deviations: every batch's deviations, site-wide, oldest first, filtered by status and severity
// and paged. Served from the read model of the batches that have had a deviation (their projection
// rows, record/record-state.ts): no batch is replayed.
import type { AppContext } from '../context.js';
import { loadBatch, processOf } from '../record/load.js';
import { recordFromRow } from '../record/record-state.js';
import type { Deviation } from '../record/record.js';
import { deviationView } from './deviation-view.js';

export interface DeviationFilter { status?: Deviation['status']; severity?: Deviation['severity']; limit: number; cursor?: string }

export function listDeviations(ctx: AppContext, f: DeviationFilter) {
  const rows: { key: string; view: ReturnType<typeof deviationView> & { batchNumber: string } }[] = [];
  for (const batchId of ctx.store.batchIdsWithEntryKind('deviation')) {
    const row = ctx.store.getBatch(batchId)!;
    const r = recordFromRow(processOf(ctx, row), row) ?? loadBatch(ctx, batchId);
    r.deviations.forEach((d, i) => {
      if ((f.status && d.status !== f.status) || (f.severity && d.severity !== f.severity)) return;
      // Oldest first; deviations opened at the same time keep their batch's order (append-only: stable).
      rows.push({ key: `${d.openedAt}|${batchId}|${String(i).padStart(6, '0')}`, view: { ...deviationView(d, r), batchNumber: r.row.batchNumber } });
    });
  }
  rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  // The cursor is the key of the last deviation served: stable while deviations are added after it.
  const after = f.cursor ? Buffer.from(f.cursor, 'base64url').toString() : undefined;
  const from = after ? rows.findIndex((x) => x.key > after) : 0;
  const start = from === -1 ? rows.length : from;
  const items = rows.slice(start, start + f.limit);
  const last = items[items.length - 1];
  const next = start + f.limit < rows.length && last ? Buffer.from(last.key).toString('base64url') : undefined;
  return { items: items.map((x) => x.view), ...(next && { nextCursor: next }) };
}
