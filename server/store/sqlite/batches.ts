// The batches projection, its read model and the frozen record PDFs in SQLite.
import { and, asc, eq, gt, sql } from 'drizzle-orm';
import { decodeCursor, page, type BatchStore, type DeviationState } from '../store.js';
import * as t from '../tables.js';
import type { SqliteConnection } from './connection.js';

export function sqliteBatches(c: SqliteConnection): BatchStore {
  const { db, q } = c;
  return {
    insertBatch: (row) => c.run(() => void db.insert(t.batches).values(row).run()),
    saveBatchState: (id, s) => c.run(() => void q.saveBatchState.run(s.status, s.version, s.openDeviations, s.updatedAt, s.recordState, id)),
    getBatch: (id) => c.run(() => q.batch.get({ id })),
    listBatches: (status, limit, cursor) => c.run(() => {
      const after = decodeCursor(cursor);
      const where = and(status ? eq(t.batches.status, status) : undefined, after ? gt(t.batches.id, after) : undefined);
      return page(db.select().from(t.batches).where(where).orderBy(asc(t.batches.id)).limit(limit + 1).all(), limit, (r) => r.id);
    }),
    allBatchIds: () => c.run(() => db.select({ id: t.batches.id }).from(t.batches).all().map((r) => r.id)),
    batchIdsWithEntryKind: (kind) => c.run(() => db.selectDistinct({ id: t.entries.batchId }).from(t.entries)
      .where(eq(t.entries.kind, kind)).orderBy(asc(t.entries.batchId)).all().map((r) => r.id)),
    // Taken out of the stored JSON by SQLite; a batch written before the read model existed has none here.
    deviationStates: () => c.run(() => q.deviationStates.all() as DeviationState[]),
    batchIdsWithoutRecordState: () => c.run(() => q.batchIdsWithoutRecordState.all() as string[]),
    findActiveBatchByDin: (din) => c.run(() => db.select().from(t.batches)
      .where(and(eq(t.batches.din, din), sql`${t.batches.status} not in ('terminated', 'rejected')`)).get()),
    countBatchNumbers: (prefix) => c.run(() => db.select({ n: sql<number>`count(*)` }).from(t.batches)
      .where(sql`${t.batches.batchNumber} like ${prefix + '%'}`).get()?.n ?? 0),
    getRecordPdf: (batchId, lang) => c.run(() => db.select().from(t.recordPdfs).where(and(eq(t.recordPdfs.batchId, batchId), eq(t.recordPdfs.lang, lang))).get()),
    saveRecordPdf: (row) => c.run(() => void db.insert(t.recordPdfs).values(row).onConflictDoNothing().run()),
  };
}
