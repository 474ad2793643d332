// GET /deviations: every batch's deviations, site-wide, oldest first, filtered by status and severity
// and paged. Served from the read model (record/record-state.ts): the deviations and signatures kept in
// the projection rows of the batches that have had one, taken out of the stored JSON by SQLite; no
// batch is replayed. A batch written before the read model existed is replayed.
import type { AppContext } from '../context.js';
import { loadBatch } from '../record/load.js';
import type { BatchRecord, Deviation } from '../record/record.js';
import type { SignatureRow } from '../store/store.js';
import { deviationView } from './deviation-view.js';

export interface DeviationFilter { status?: Deviation['status']; severity?: Deviation['severity']; limit: number; cursor?: string }

async function* deviationsOfBatches(ctx: AppContext): AsyncGenerator<{ batchId: string; batchNumber: string; deviations: Deviation[]; signatures: SignatureRow[] }> {
  for (const row of await ctx.store.deviationStates()) {
    yield { batchId: row.id, batchNumber: row.batchNumber, deviations: JSON.parse(row.deviations) as Deviation[], signatures: JSON.parse(row.signatures) as SignatureRow[] };
  }
  for (const id of await ctx.store.batchIdsWithoutRecordState()) {
    const r = await loadBatch(ctx, id);
    if (r.deviations.length) yield { batchId: id, batchNumber: r.row.batchNumber, deviations: r.deviations, signatures: r.signatures };
  }
}

export async function listDeviations(ctx: AppContext, f: DeviationFilter) {
  const rows: { key: string; view: ReturnType<typeof deviationView> & { batchNumber: string } }[] = [];
  for await (const b of deviationsOfBatches(ctx)) {
    // deviationView reads the signatures of QA's entries on the deviation, which the read model keeps.
    const signed = { signatures: b.signatures } as Pick<BatchRecord, 'signatures'> as BatchRecord;
    b.deviations.forEach((d, i) => {
      if ((f.status && d.status !== f.status) || (f.severity && d.severity !== f.severity)) return;
      // Oldest first; deviations opened at the same time keep their batch's order (append-only: stable).
      rows.push({ key: `${d.openedAt}|${b.batchId}|${String(i).padStart(6, '0')}`, view: { ...deviationView(d, signed), batchNumber: b.batchNumber } });
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
