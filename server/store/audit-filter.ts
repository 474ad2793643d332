// The conditions of an audit listing (GET /audit's filters and the page after a cursor), written once
// for both stores: drizzle's conditions are the same on SQLite and PostgreSQL, only the audit table's
// columns are each dialect's own.
import { and, gt, gte, lte, eq, type Column, type SQL } from 'drizzle-orm';
import { decodeCursor, type AuditFilter } from './store.js';

/** The audit table's columns a filter reads, in either dialect's table. */
export type AuditColumns = Record<'at' | 'userId' | 'batchId' | 'action' | 'seq', Column>;

/**
 * `maxSeq`: the largest seq the column can hold. A cursor is whatever a client sends (decoded, a number
 * or not): past the column's range PostgreSQL's int4 would refuse the parameter (a 500), so the cursor
 * is capped there, which selects the same rows (none beyond it).
 */
export function auditConditions(table: AuditColumns, f: AuditFilter, cursor: string | undefined, maxSeq = Infinity): SQL | undefined {
  const after = decodeCursor(cursor);
  return and(
    f.from ? gte(table.at, f.from) : undefined,
    f.to ? lte(table.at, f.to) : undefined,
    f.userId ? eq(table.userId, f.userId) : undefined,
    f.batchId ? eq(table.batchId, f.batchId) : undefined,
    f.action ? eq(table.action, f.action) : undefined,
    after ? gt(table.seq, Math.min(Number(after) || 0, maxSeq)) : undefined,
  );
}
