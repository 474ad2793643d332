// The one better-sqlite3 connection of a SQLite store, its hot-path statements, and who may use it when.
//
// better-sqlite3 is synchronous and the store's interface is not (PostgreSQL's driver is asynchronous,
// server/store/store.ts). A transaction now spans awaits, and every request shares this connection:
// a statement run by another request while a transaction is open would join that transaction, or read
// rows that may yet roll back. So the connection has one holder at a time:
// - a transaction takes the lock, runs BEGIN IMMEDIATE (SQLite's write lock, at once), awaits its
//   function, and commits or rolls back before it lets go;
// - any other store call waits for the lock while a transaction holds it, and runs at once when none
//   does (its statements are synchronous: nothing can slip in between them);
// - a store call made inside the transaction (AsyncLocalStorage follows it across awaits) runs at once.
// One writer, and nobody reads uncommitted rows (21 CFR 11.10(a): the record shows only what was
// committed; docs/design-decisions.md "The store is asynchronous").
import type Database from 'better-sqlite3';
import { AsyncLocalStorage } from 'node:async_hooks';
import { and, asc, eq, getTableColumns, gt, sql } from 'drizzle-orm';
import { CHAINED } from '../chain.js';
import { CHAIN_TABLES, type ChainTable } from '../checkpoints.js';
import * as t from '../tables.js';
import { openDatabase, type Db } from './database.js';

/** The time column of each chain: what must never go backwards along it. */
const TIME_COLUMN: Record<ChainTable, string> = { entries: 'recorded_at', signatures: 'signed_at', audit_log: 'at' };

/**
 * What one transaction has learnt while it holds the write lock, and nothing outside it can change
 * until it ends: the version (last batch_seq) of each batch it read or wrote.
 */
export interface TransactionFrame { batchVersions: Map<string, number> }

/** The last row of a chain as an append needs it. */
export interface LastRow { seq: number; hash: string; at: string }

export class SqliteConnection {
  readonly sqlite: Database.Database;
  readonly db: Db;
  /** Statements of the hot paths (every request, every append), prepared once. */
  readonly q: ReturnType<typeof prepareStatements>;

  /** The open transaction, and the one each caller belongs to (AsyncLocalStorage follows it across awaits). */
  private current: TransactionFrame | undefined;
  private readonly owner = new AsyncLocalStorage<TransactionFrame>();
  private locked = false;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly file: string, opts: { readonly?: boolean } = {}) {
    ({ sqlite: this.sqlite, db: this.db } = openDatabase(file, opts));
    this.q = prepareStatements(this.sqlite, this.db);
  }

  /** Whether the caller runs inside this connection's open transaction. */
  get inTransaction() {
    return this.current !== undefined && this.owner.getStore() === this.current;
  }

  /** What the caller's open transaction knows, or undefined outside one. */
  get frame(): TransactionFrame | undefined {
    return this.inTransaction ? this.current : undefined;
  }

  /**
   * Runs synchronous statements for a store call: at once when no transaction is open or the caller
   * is inside it, else once the transaction has ended.
   */
  run<T>(statements: () => T): Promise<T> {
    if (!this.locked || this.inTransaction) {
      try {
        return Promise.resolve(statements());
      } catch (e) {
        return Promise.reject(e as Error);
      }
    }
    return this.exclusive(async () => statements());
  }

  /**
   * Runs `fn` as the connection's only user until it settles, inside the caller's transaction if it
   * runs in one: for reads that span awaits (the chain walk streams a statement across them).
   */
  holding<T>(fn: () => Promise<T>): Promise<T> {
    return this.inTransaction ? fn() : this.exclusive(fn);
  }

  /** Runs `fn` holding the connection: no other store call runs until it has settled. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    await this.lock();
    try {
      return await fn();
    } finally {
      this.unlock();
    }
  }

  /**
   * One IMMEDIATE transaction across awaits: the write lock is taken at once, and the request commits
   * all or nothing. `fn` and every store call it makes run as the connection's holder.
   */
  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    this.sqlite.exec('BEGIN IMMEDIATE');
    const token: TransactionFrame = { batchVersions: new Map() };
    this.current = token;
    try {
      const result = await this.owner.run(token, fn);
      this.sqlite.exec('COMMIT');
      return result;
    } catch (e) {
      if (this.sqlite.inTransaction) this.sqlite.exec('ROLLBACK');
      throw e;
    } finally {
      // A promise left running by `fn` is no longer inside the transaction: it waits like any caller.
      this.current = undefined;
    }
  }

  private lock(): Promise<void> {
    if (!this.locked) {
      this.locked = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Hands the connection to the next in line (it stays locked), or frees it. */
  private unlock() {
    const next = this.waiting.shift();
    if (next) next();
    else this.locked = false;
  }

  close() {
    if (this.sqlite.open) this.sqlite.close();
  }
}

function prepareStatements(sqlite: Database.Database, db: Db) {
  const p = sql.placeholder;
  const insert = (table: ChainTable, columns: readonly string[]) =>
    sqlite.prepare(`insert into ${table} (${columns.join(', ')}, prev_hash, hash) values (${columns.map(() => '?').join(', ')}, ?, ?)`);
  return {
    userById: db.select().from(t.users).where(eq(t.users.id, p('id'))).prepare(),
    userByUsernameKey: db.select().from(t.users).where(eq(t.users.usernameKey, p('usernameKey'))).prepare(),
    processVersion: db.select().from(t.processVersions).where(and(eq(t.processVersions.processId, p('processId')), eq(t.processVersions.version, p('version')))).prepare(),
    processVersionStatus: sqlite.prepare('select status from process_versions where process_id = ? and version = ?').pluck(),
    session: db.select().from(t.sessions).where(eq(t.sessions.tokenHash, p('tokenHash'))).prepare(),
    material: db.select().from(t.materials).where(eq(t.materials.id, p('id'))).prepare(),
    equipment: db.select().from(t.equipment).where(eq(t.equipment.id, p('id'))).prepare(),
    batch: db.select().from(t.batches).where(eq(t.batches.id, p('id'))).prepare(),
    // GET /batches: a page after the cursor (every id sorts after ''), of any status or of one.
    batchPage: db.select().from(t.batches).where(gt(t.batches.id, p('after'))).orderBy(asc(t.batches.id)).limit(p('limit')).prepare(),
    batchPageOfStatus: db.select().from(t.batches).where(and(eq(t.batches.status, p('status')), gt(t.batches.id, p('after')))).orderBy(asc(t.batches.id)).limit(p('limit')).prepare(),
    deleteDeviationRows: sqlite.prepare('delete from deviation_list where batch_id = ?'),
    deletePendingRows: sqlite.prepare('delete from pending_work where batch_id = ?'),
    insertDeviationRow: sqlite.prepare('insert into deviation_list (deviation_id, batch_id, sort_key, status, severity, item) values (@deviationId, @batchId, @sortKey, @status, @severity, @item)'),
    insertPendingRow: sqlite.prepare('insert into pending_work (batch_id, position, role, action, gate, excluded, item) values (@batchId, @position, @role, @action, @gate, @excluded, @item)'),
    deviationRowsOf: sqlite.prepare('select deviation_id as deviationId, batch_id as batchId, sort_key as sortKey, status, severity, item from deviation_list where batch_id = ? order by sort_key'),
    pendingRowsOf: sqlite.prepare('select batch_id as batchId, position, role, action, gate, excluded, item from pending_work where batch_id = ? order by position, role'),
    saveBatchState: sqlite.prepare('update batches set status = ?, version = ?, open_deviations = ?, updated_at = ?, record_state = ? where id = ?'),
    entry: db.select().from(t.entries).where(eq(t.entries.id, p('id'))).prepare(),
    entriesOfBatch: db.select().from(t.entries).where(eq(t.entries.batchId, p('batchId'))).orderBy(asc(t.entries.batchSeq)).prepare(),
    signaturesOfBatch: db.select(getTableColumns(t.signatures)).from(t.signatures).innerJoin(t.entries, eq(t.entries.id, t.signatures.entryId))
      .where(eq(t.entries.batchId, p('batchId'))).orderBy(asc(t.signatures.seq)).prepare(),
    auditOfBatch: db.select().from(t.auditLog).where(eq(t.auditLog.batchId, p('batchId'))).orderBy(asc(t.auditLog.seq)).prepare(),
    batchVersion: sqlite.prepare('select coalesce(max(batch_seq), 0) from entries where batch_id = ?').pluck(),
    // A chain's last row: its hash to chain onto and its time for the clock check, in one read.
    last: Object.fromEntries(CHAIN_TABLES.map((table) => [table, sqlite.prepare(`select seq, hash, ${TIME_COLUMN[table]} as at from ${table} order by seq desc limit 1`)])) as Record<ChainTable, Database.Statement<[], LastRow>>,
    insertEntry: insert('entries', CHAINED.entries),
    insertSignature: insert('signatures', CHAINED.signatures),
    insertAudit: insert('audit_log', CHAINED.audit_log),
  };
}
