// The batches projection, its read model and the frozen record PDFs in SQLite.
import { and, asc, eq, gt, sql } from 'drizzle-orm';
import { decodeCursor, decodePendingCursor, memberPattern, mergePendingPages, page, type BatchLists, type BatchState, type BatchStore, type DeviationListRow, type PendingWorkRow } from '../store.js';
import * as t from '../tables.js';
import type { SqliteConnection } from './connection.js';

export const DEVIATION_COLUMNS = 'deviation_id as deviationId, batch_id as batchId, sort_key as sortKey, status, severity, item';
export const PENDING_COLUMNS = 'batch_id as batchId, position, role, action, gate, excluded, item';

export function sqliteBatches(c: SqliteConnection): BatchStore {
  const { db, q } = c;
  // A batch's projection state and its rows of the lists: one write each, for a write and for the read model's fill alike.
  const saveState = (id: string, s: BatchState) => void q.saveBatchState.run(s.status, s.version, s.openDeviations, s.updatedAt, s.recordState, id);
  const replaceLists = (batchId: string, lists: BatchLists) => {
    q.deleteDeviationRows.run(batchId);
    q.deletePendingRows.run(batchId);
    for (const r of lists.deviations) q.insertDeviationRow.run(r);
    for (const r of lists.pending) q.insertPendingRow.run(r);
  };
  return {
    insertBatch: (row) => c.run(() => void db.insert(t.batches).values(row).run()),
    saveBatchState: (id, s) => c.run(() => saveState(id, s)),
    getBatch: (id) => c.run(() => q.batch.get({ id })),
    listBatches: (status, limit, cursor) => c.run(() => {
      const after = decodeCursor(cursor) ?? '';
      return page(status ? q.batchPageOfStatus.all({ status, after, limit: limit + 1 }) : q.batchPage.all({ after, limit: limit + 1 }), limit, (r) => r.id);
    }),
    allBatchIds: () => c.run(() => db.select({ id: t.batches.id }).from(t.batches).all().map((r) => r.id)),
    batchIdsWithEntryKind: (kind) => c.run(() => db.selectDistinct({ id: t.entries.batchId }).from(t.entries)
      .where(eq(t.entries.kind, kind)).orderBy(asc(t.entries.batchId)).all().map((r) => r.id)),
    replaceBatchLists: (batchId, lists) => c.run(() => replaceLists(batchId, lists)),
    saveReadModels: (rows) => c.run(() => {
      for (const { id, state, lists } of rows) {
        saveState(id, state);
        replaceLists(id, lists);
      }
    }),
    batchLists: (batchId) => c.run(() => ({
      deviations: q.deviationRowsOf.all(batchId) as DeviationListRow[],
      pending: q.pendingRowsOf.all(batchId) as PendingWorkRow[],
    })),
    listDeviationRows: (f, limit, cursor) => c.run(() => {
      const after = decodeCursor(cursor);
      const where = [f.status !== undefined && 'status = @status', f.severity !== undefined && 'severity = @severity', after !== undefined && 'sort_key > @after'].filter(Boolean);
      const rows = c.sqlite.prepare(`select ${DEVIATION_COLUMNS} from deviation_list ${where.length ? `where ${where.join(' and ')}` : ''} order by sort_key limit @n`)
        .all({ status: f.status, severity: f.severity, after, n: limit + 1 }) as DeviationListRow[];
      return page(rows, limit, (r) => r.sortKey);
    }),
    listPendingRows: (caller, limit, cursor) => c.run(() => {
      const roles = [...new Set(caller.roles)];
      if (roles.length === 0) return { items: [] };
      const anyRole = roles.map((_, i) => `gate like @g${i}`).join(' or ');
      const after = decodePendingCursor(cursor);
      // Each of the caller's roles read from its index in order, up to a page; merged in memory.
      const statement = c.sqlite.prepare(`select ${PENDING_COLUMNS} from pending_work
        where role = @role and (gate is null or ${anyRole}) and excluded not like @me
        ${after ? 'and (batch_id > @afterBatch or (batch_id = @afterBatch and position > @afterPosition))' : ''}
        order by batch_id, position limit @n`);
      const params = { ...Object.fromEntries(roles.map((r, i) => [`g${i}`, memberPattern(r)])), me: memberPattern(caller.id), afterBatch: after?.batchId, afterPosition: after?.position, n: limit + 1 };
      return mergePendingPages(roles.map((role) => statement.all({ ...params, role }) as PendingWorkRow[]), limit);
    }),
    findActiveBatchByDin: (din) => c.run(() => db.select().from(t.batches)
      .where(and(eq(t.batches.din, din), sql`${t.batches.status} not in ('terminated', 'rejected')`)).get()),
    countBatchNumbers: (prefix) => c.run(() => db.select({ n: sql<number>`count(*)` }).from(t.batches)
      .where(sql`${t.batches.batchNumber} like ${prefix + '%'}`).get()?.n ?? 0),
    getRecordPdf: (batchId, lang) => c.run(() => db.select().from(t.recordPdfs).where(and(eq(t.recordPdfs.batchId, batchId), eq(t.recordPdfs.lang, lang))).get()),
    saveRecordPdf: (row) => c.run(() => void db.insert(t.recordPdfs).values(row).onConflictDoNothing().run()),
  };
}
