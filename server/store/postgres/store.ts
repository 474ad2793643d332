// The store on PostgreSQL (issue 15): the same interface, chains, hashed bytes and checkpoints as the
// SQLite store, for sites that run several app servers on one database with a standby beside it
// (docs/deployment.md).
//
// One writer at a time, as in SQLite: every transaction first takes one transaction-level advisory
// lock (pg_advisory_xact_lock), held until it commits or rolls back, whichever app server runs it. So
// the chains (global: one sequence of rows for the whole record) are appended in one order, a batch's
// `expectedVersion` is checked against the last committed entry (two terminals on two servers writing
// the same batch: one 201, one 409, never a fork), and a failed password re-read inside the transaction
// sees every failure counted by any server (21 CFR 11.300(d): the lockout cannot be raced). Reads
// outside a transaction take no lock and see committed rows only.
//
// The store calls made inside `transaction(fn)` find their transaction through AsyncLocalStorage, so
// commands keep calling `ctx.store.x()` however deep, across awaits.
import { AsyncLocalStorage } from 'node:async_hooks';
import type pg from 'pg';
import { and, asc, desc, eq, getTableColumns, gt, lte, inArray, ne, sql, type SQL } from 'drizzle-orm';
import * as t from './tables.js';
import { connect, createPool, LOCKS, migratePostgres, redactUrl, type PgDb } from './database.js';
import { auditConditions } from '../audit-filter.js';
import { CHAINED, GENESIS, rowHash } from '../chain.js';
import { CHAIN_TABLES, checkpointOf, checkpointRow, type ChainTable, type Checkpoint, type Head } from '../checkpoints.js';
import { AppError, clockWentBack } from '../../errors.js';
import { walkPostgres } from './verify.js';
import {
  CHECKPOINTS_BY_KEY, keyUseOf, type KeyUse, type KeyUseRow,
  auditCells, decodeCursor, decodePendingCursor, groupByBatch, memberPattern, mergePendingPages, entryCells, expectedHash, page, signatureCells, stored,
  type AuditFilter, type AuditRow, type BatchRow, type BatchRows, type ChainedRows, type BatchState, type ChainReport, type DefinitionRow, type DeviationListRow, type PendingWorkRow, type BatchLists, type PendingCaller,
  type EntryRow, type EquipmentRow, type LegacyHeads, type MaterialRow, type NewAudit, type NewDefinition, type NewEntry,
  type NewSignature, type NewUser, type Page, type ProcessVersionRow, type ProcessVersionSignatureRow, type RecordPdfRow,
  type AttemptWindow, type RowMismatch, type RunningBatch, type SessionRow, type SignatureRow, type Store, type StoreOptions, type UserRow,
} from '../store.js';

type Tx = Parameters<Parameters<PgDb['transaction']>[0]>[0];

/**
 * What a running transaction carries: its connection, the rows it appended, a clock found gone back,
 * and the version (last batch_seq) of each batch it read or wrote: under the write lock nobody else
 * can move it until the transaction ends.
 */
interface Frame { tx: Tx; appended: number; clockAlert?: ClockAlert; batchVersions: Map<string, number> }
interface ClockAlert { table: ChainTable; observed: string; last: string }

/** The time column of each chain: what must never go backwards along it. */
const TIME_COLUMN: Record<ChainTable, string> = { entries: 'recorded_at', signatures: 'signed_at', audit_log: 'at' };

const first = <T>(rows: T[]): T | undefined => rows[0];

export interface PostgresStoreOptions extends StoreOptions {
  /** Connections in the pool (default 20). */
  poolSize?: number;
}

/** Connects, applies the migrations the role may apply, and reads what the store keeps in memory. */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
  const pool = createPool(url, options.poolSize, { readonly: options.readonly });
  try {
    if (!options.readonly) await migratePostgres(pool, url);
    const store = new PostgresStore(pool, redactUrl(url), options);
    await store.init();
    return store;
  } catch (e) {
    await pool.end();
    throw e;
  }
}

export class PostgresStore implements Store {
  readonly dialect = 'postgres' as const;
  legacyHeads: LegacyHeads = { entries: 0, signatures: 0, audit_log: 0 };
  private readonly root: PgDb;
  private readonly frames = new AsyncLocalStorage<Frame>();
  private appendedSinceCheckpoint = 0;
  private closed = false;

  /**
   * The statements of every request and of GET /batches, named: node-postgres prepares a named statement
   * once per connection, so PostgreSQL parses and plans it once, not at every call. They run on the pool;
   * inside a transaction the same query runs on the transaction's connection instead (`read`).
   */
  private readonly q;

  constructor(readonly pool: pg.Pool, readonly location: string, private readonly options: StoreOptions = {}) {
    this.root = connect(pool);
    const p = sql.placeholder;
    this.q = {
      session: this.root.select().from(t.sessions).where(eq(t.sessions.tokenHash, p('tokenHash'))).prepare('cellbatch_session'),
      userById: this.root.select().from(t.users).where(eq(t.users.id, p('id'))).prepare('cellbatch_user_by_id'),
      userByUsernameKey: this.root.select().from(t.users).where(eq(t.users.usernameKey, p('usernameKey'))).prepare('cellbatch_user_by_username_key'),
      // A batch and its record, as every request on a batch reads them (loadBatch), and its master record's status.
      batch: this.root.select().from(t.batches).where(eq(t.batches.id, p('id'))).prepare('cellbatch_batch'),
      entriesOfBatch: this.root.select().from(t.entries).where(eq(t.entries.batchId, p('batchId'))).orderBy(asc(t.entries.batchSeq)).prepare('cellbatch_entries_of_batch'),
      signaturesOfBatch: this.root.select(getTableColumns(t.signatures)).from(t.signatures).innerJoin(t.entries, eq(t.entries.id, t.signatures.entryId))
        .where(eq(t.entries.batchId, p('batchId'))).orderBy(asc(t.signatures.seq)).prepare('cellbatch_signatures_of_batch'),
      processVersionStatus: this.root.select({ status: t.processVersions.status }).from(t.processVersions)
        .where(and(eq(t.processVersions.processId, p('processId')), eq(t.processVersions.version, p('version')))).prepare('cellbatch_process_version_status'),
      batchPage: this.root.select().from(t.batches).where(gt(t.batches.id, p('after'))).orderBy(asc(t.batches.id)).limit(p('limit')).prepare('cellbatch_batch_page'),
      batchPageOfStatus: this.root.select().from(t.batches).where(and(eq(t.batches.status, p('status')), gt(t.batches.id, p('after'))))
        .orderBy(asc(t.batches.id)).limit(p('limit')).prepare('cellbatch_batch_page_of_status'),
    };
  }

  /** A named statement on the pool, or the same query on the open transaction's connection. */
  private read<R>(prepared: { execute(params: Record<string, unknown>): Promise<R> }, params: Record<string, unknown>, inTransaction: () => Promise<R>): Promise<R> {
    return this.frames.getStore() ? inTransaction() : prepared.execute(params);
  }

  /** The transaction running in this async context, else the pool (one statement, autocommit). */
  private get db(): PgDb | Tx {
    return this.frames.getStore()?.tx ?? this.root;
  }

  private async rows<R>(query: SQL): Promise<R[]> {
    return (await this.db.execute(query)).rows as R[];
  }

  async init() {
    const legacy = JSON.parse((await this.getSetting('chain.legacy-heads')) ?? '{}') as Partial<LegacyHeads>;
    this.legacyHeads = Object.fromEntries(CHAIN_TABLES.map((c) => [c, Number(legacy[c]) || 0])) as LegacyHeads;
    // Rows appended since the last signed checkpoint, also those of a run that crashed before signing.
    try {
      const last = this.options.signer ? await this.lastCheckpoint() : undefined;
      const heads = await this.heads();
      this.appendedSinceCheckpoint = CHAIN_TABLES.reduce((n, c) => n + Math.max(0, heads[c].seq - (last?.heads[c].seq ?? 0)), 0);
    } catch {
      this.appendedSinceCheckpoint = 0; // a damaged checkpoint is reported by verification
    }
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    if (this.frames.getStore()) return fn();
    let frame: Frame | undefined;
    let result: T;
    try {
      result = await this.root.transaction(async (tx) => {
        // One writer at a time across every app server (see the top of this file).
        await tx.execute(sql`select pg_advisory_xact_lock(${LOCKS.write})`);
        frame = { tx, appended: 0, batchVersions: new Map() };
        return this.frames.run(frame, fn);
      });
    } catch (e) {
      const alert = frame?.clockAlert;
      if (alert) {
        try {
          await this.writeClockAlert(alert);
        } catch {
          // the refusal stands; the alert could not be written (the database is not writable)
        }
        if (e instanceof AppError) e.audited = true;
      }
      throw e;
    }
    this.appendedSinceCheckpoint += frame!.appended;
    const every = this.options.checkpointEvery ?? 1000;
    if (this.options.signer && this.appendedSinceCheckpoint >= every) {
      try {
        await this.checkpoint('interval');
      } catch {
        // not signed now (the database unreachable or the mark unwritable): the count stands, the next commit tries again
      }
    }
    return result;
  }

  /** Runs an append in the caller's transaction, or in one of its own. */
  private inTransaction<T>(fn: (frame: Frame) => Promise<T>): Promise<T> {
    const frame = this.frames.getStore();
    return frame ? fn(frame) : this.transaction(() => fn(this.frames.getStore()!));
  }

  async heads(): Promise<Record<ChainTable, Head>> {
    const out = {} as Record<ChainTable, Head>;
    for (const table of CHAIN_TABLES) out[table] = await this.lastHash(table);
    return out;
  }

  /**
   * Signs the heads under the write lock every app server takes (the advisory lock): the heads and the
   * site's last checkpoint are read and the next inserted in one transaction, so the servers' checkpoints
   * form one chain (issue 15 item 3). Runs after a commit, never inside the request's transaction.
   */
  async checkpoint(reason: Checkpoint['reason']): Promise<Checkpoint | undefined> {
    const signer = this.options.signer;
    if (!signer || this.closed) return undefined;
    const at = (this.options.now ?? (() => new Date()))();
    let signed: Checkpoint | undefined;
    const c = await this.root.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${LOCKS.write})`);
      return this.frames.run({ tx, appended: 0, batchVersions: new Map() }, async () => {
        const last = await this.lastCheckpoint();
        const marked = signer.markedNumber();
        const next = signer.next(last, marked === undefined ? undefined : await this.checkpointNumbered(marked), await this.heads(), reason, at);
        if (next && next !== last) {
          await this.insertCheckpoints([next]);
          signed = next;
        }
        return next;
      });
    });
    if (signed) signer.remember(signed);
    this.appendedSinceCheckpoint = 0;
    return c;
  }

  async checkpoints(): Promise<Checkpoint[]> {
    return (await this.db.select().from(t.checkpoints).orderBy(asc(t.checkpoints.n))).map(checkpointOf);
  }

  async lastCheckpoint(): Promise<Checkpoint | undefined> {
    const row = first(await this.db.select().from(t.checkpoints).orderBy(desc(t.checkpoints.n)).limit(1));
    return row && checkpointOf(row);
  }

  async checkpointNumbered(n: number): Promise<Checkpoint | undefined> {
    const row = first(await this.db.select().from(t.checkpoints).where(eq(t.checkpoints.n, n)));
    return row && checkpointOf(row);
  }

  async checkpointsByKey(): Promise<KeyUse[]> {
    return (await this.rows<KeyUseRow>(sql.raw(CHECKPOINTS_BY_KEY))).map(keyUseOf);
  }

  async insertCheckpoints(rows: Checkpoint[]): Promise<void> {
    if (rows.length) await this.db.insert(t.checkpoints).values(rows.map(checkpointRow));
  }

  // ─── users and sessions ───────────────────────────────────────────────

  async findUserByUsername(username: string): Promise<UserRow | undefined> {
    const usernameKey = username.toLowerCase();
    return first(await this.read(this.q.userByUsernameKey, { usernameKey }, () => this.db.select().from(t.users).where(eq(t.users.usernameKey, usernameKey))));
  }
  async findUserById(id: string): Promise<UserRow | undefined> {
    return first(await this.read(this.q.userById, { id }, () => this.db.select().from(t.users).where(eq(t.users.id, id))));
  }
  async listUsers(limit: number, cursor?: string): Promise<Page<UserRow>> {
    const after = decodeCursor(cursor);
    const rows = await this.db.select().from(t.users).where(after ? gt(t.users.usernameKey, after) : undefined)
      .orderBy(asc(t.users.usernameKey)).limit(limit + 1);
    return page(rows, limit, (r) => r.usernameKey);
  }
  async activeAdminIds(): Promise<string[]> {
    const rows = await this.db.select({ id: t.users.id, roles: t.users.roles }).from(t.users).where(eq(t.users.active, true));
    return rows.filter((u) => u.roles.includes('admin')).map((u) => u.id);
  }
  async countUsers(): Promise<number> {
    return (await this.rows<{ n: number }>(sql`select count(*)::int as n from users`))[0].n;
  }
  async insertUser(row: NewUser) {
    await this.db.insert(t.users).values(row);
  }
  async updateUser(id: string, patch: Partial<NewUser>) {
    await this.db.update(t.users).set(patch).where(eq(t.users.id, id));
  }
  async addPasswordHistory(userId: string, passwordHash: string, changedAt: string) {
    await this.db.insert(t.passwordHistory).values({ userId, passwordHash, changedAt });
  }
  async recentPasswordHashes(userId: string, n: number): Promise<string[]> {
    const rows = await this.db.select({ h: t.passwordHistory.passwordHash }).from(t.passwordHistory).where(eq(t.passwordHistory.userId, userId))
      .orderBy(desc(t.passwordHistory.id)).limit(n);
    return rows.map((r) => r.h);
  }
  async insertSession(row: SessionRow) {
    await this.db.insert(t.sessions).values(row);
  }
  async findSession(tokenHash: string): Promise<SessionRow | undefined> {
    return first(await this.read(this.q.session, { tokenHash }, () => this.db.select().from(t.sessions).where(eq(t.sessions.tokenHash, tokenHash))));
  }
  async touchSession(tokenHash: string, at: string) {
    await this.db.update(t.sessions).set({ lastSeenAt: at }).where(eq(t.sessions.tokenHash, tokenHash));
  }
  async revokeSession(tokenHash: string, at: string) {
    await this.db.update(t.sessions).set({ revokedAt: at }).where(eq(t.sessions.tokenHash, tokenHash));
  }
  async revokeSessionsOf(userId: string, at: string, except?: string) {
    await this.db.update(t.sessions).set({ revokedAt: at })
      .where(and(eq(t.sessions.userId, userId), sql`${t.sessions.revokedAt} is null`, except ? ne(t.sessions.tokenHash, except) : undefined));
  }
  async countAttempt(key: string, now: string, windowEndsAt: string): Promise<AttemptWindow> {
    // Two statements, each atomic: INSERT ... ON CONFLICT counts exactly once per attempt however many
    // app servers count the same key at once; no advisory lock (nothing here touches the record).
    await this.db.delete(t.attemptWindows).where(lte(t.attemptWindows.windowEndsAt, now));
    const ended = sql`${t.attemptWindows.windowEndsAt} <= ${now}`;
    const rows = await this.db.insert(t.attemptWindows).values({ key, windowEndsAt, hits: 1 })
      .onConflictDoUpdate({ target: t.attemptWindows.key, set: {
        hits: sql`case when ${ended} then 1 else ${t.attemptWindows.hits} + 1 end`,
        windowEndsAt: sql`case when ${ended} then excluded.window_ends_at else ${t.attemptWindows.windowEndsAt} end`,
      } })
      .returning({ hits: t.attemptWindows.hits, windowEndsAt: t.attemptWindows.windowEndsAt });
    return rows[0];
  }

  // ─── materials and equipment ──────────────────────────────────────────

  async insertMaterial(row: MaterialRow) {
    await this.db.insert(t.materials).values(row);
  }
  async getMaterial(id: string): Promise<MaterialRow | undefined> {
    return first(await this.db.select().from(t.materials).where(eq(t.materials.id, id)));
  }
  async updateMaterialStatus(id: string, status: string) {
    await this.db.update(t.materials).set({ status }).where(eq(t.materials.id, id));
  }
  async listMaterials(type: string | undefined, limit: number, cursor?: string): Promise<Page<MaterialRow>> {
    const after = decodeCursor(cursor);
    const where = and(type ? eq(t.materials.type, type) : undefined, after ? gt(t.materials.id, after) : undefined);
    return page(await this.db.select().from(t.materials).where(where).orderBy(asc(t.materials.id)).limit(limit + 1), limit, (r) => r.id);
  }
  async insertEquipment(row: EquipmentRow) {
    await this.db.insert(t.equipment).values(row);
  }
  async getEquipment(id: string): Promise<EquipmentRow | undefined> {
    return first(await this.db.select().from(t.equipment).where(eq(t.equipment.id, id)));
  }
  async updateEquipmentCalibration(id: string, calibrationDueOn: string) {
    await this.db.update(t.equipment).set({ calibrationDueOn }).where(eq(t.equipment.id, id));
  }
  async findEquipmentByAssetId(assetId: string): Promise<EquipmentRow | undefined> {
    return first(await this.db.select().from(t.equipment).where(eq(t.equipment.assetId, assetId)));
  }
  async listEquipment(type: string | undefined, limit: number, cursor?: string): Promise<Page<EquipmentRow>> {
    const after = decodeCursor(cursor);
    const where = and(type ? eq(t.equipment.type, type) : undefined, after ? gt(t.equipment.id, after) : undefined);
    return page(await this.db.select().from(t.equipment).where(where).orderBy(asc(t.equipment.id)).limit(limit + 1), limit, (r) => r.id);
  }

  // ─── process definitions and master records ───────────────────────────

  async saveDefinition(row: NewDefinition) {
    await this.db.insert(t.processDefinitions).values(row).onConflictDoNothing();
  }
  async definitionHashes(processId: string, version: number): Promise<string[]> {
    const rows = await this.db.select({ hash: t.processDefinitions.hash }).from(t.processDefinitions)
      .where(and(eq(t.processDefinitions.processId, processId), eq(t.processDefinitions.version, version)));
    return rows.map((r) => r.hash);
  }
  async getDefinition(hash: string): Promise<DefinitionRow | undefined> {
    return first(await this.db.select().from(t.processDefinitions).where(eq(t.processDefinitions.hash, hash)));
  }
  async insertProcessVersion(row: ProcessVersionRow) {
    await this.db.insert(t.processVersions).values(row);
  }
  async setProcessVersionStatus(id: string, status: string, updatedAt: string) {
    await this.db.update(t.processVersions).set({ status, updatedAt }).where(eq(t.processVersions.id, id));
  }
  async replaceProcessVersionContent(id: string, definition: string, hash: string, updatedAt: string) {
    await this.db.update(t.processVersions).set({ definition, hash, updatedAt }).where(eq(t.processVersions.id, id));
  }
  async processVersions(processId?: string): Promise<ProcessVersionRow[]> {
    return this.db.select().from(t.processVersions).where(processId ? eq(t.processVersions.processId, processId) : undefined)
      .orderBy(asc(t.processVersions.processId), asc(t.processVersions.version));
  }
  async processVersion(processId: string, version: number): Promise<ProcessVersionRow | undefined> {
    return first(await this.db.select().from(t.processVersions).where(and(eq(t.processVersions.processId, processId), eq(t.processVersions.version, version))));
  }
  async processVersionStatus(processId: string, version: number): Promise<string | undefined> {
    return first(await this.read(this.q.processVersionStatus, { processId, version },
      () => this.db.select({ status: t.processVersions.status }).from(t.processVersions).where(and(eq(t.processVersions.processId, processId), eq(t.processVersions.version, version)))))?.status;
  }
  async appendProcessVersionSignature(row: Omit<ProcessVersionSignatureRow, 'seq'>) {
    await this.db.insert(t.processVersionSignatures).values(row);
  }
  async processVersionSignatures(versionId: string): Promise<ProcessVersionSignatureRow[]> {
    return this.db.select().from(t.processVersionSignatures).where(eq(t.processVersionSignatures.versionId, versionId)).orderBy(asc(t.processVersionSignatures.seq));
  }
  async runningBatchesOf(processId: string): Promise<RunningBatch[]> {
    return this.db.select({ id: t.batches.id, batchNumber: t.batches.batchNumber, processVersion: t.batches.processVersion, status: t.batches.status, training: t.batches.training })
      .from(t.batches).where(and(eq(t.batches.processId, processId), sql`${t.batches.status} not in ('released', 'rejected', 'terminated')`))
      .orderBy(asc(t.batches.batchNumber));
  }

  // ─── batches (projection), read model, frozen PDFs ────────────────────

  async insertBatch(row: BatchRow) {
    await this.db.insert(t.batches).values(row);
  }
  async saveBatchState(id: string, state: BatchState) {
    await this.db.update(t.batches).set({
      status: state.status, version: state.version, openDeviations: state.openDeviations, updatedAt: state.updatedAt, recordState: state.recordState,
    }).where(eq(t.batches.id, id));
  }
  async getBatch(id: string): Promise<BatchRow | undefined> {
    return first(await this.read(this.q.batch, { id }, () => this.db.select().from(t.batches).where(eq(t.batches.id, id))));
  }
  async listBatches(status: string | undefined, limit: number, cursor?: string): Promise<Page<BatchRow>> {
    // Every id sorts after '' (the first page).
    const after = decodeCursor(cursor) ?? '';
    const where = and(status ? eq(t.batches.status, status) : undefined, gt(t.batches.id, after));
    const rows = await this.read(status ? this.q.batchPageOfStatus : this.q.batchPage, { status, after, limit: limit + 1 },
      () => this.db.select().from(t.batches).where(where).orderBy(asc(t.batches.id)).limit(limit + 1));
    return page(rows, limit, (r) => r.id);
  }
  async allBatchIds(): Promise<string[]> {
    return (await this.db.select({ id: t.batches.id }).from(t.batches)).map((r) => r.id);
  }
  async batchIdsWithEntryKind(kind: string): Promise<string[]> {
    return (await this.db.selectDistinct({ id: t.entries.batchId }).from(t.entries).where(eq(t.entries.kind, kind)).orderBy(asc(t.entries.batchId))).map((r) => r.id);
  }
  async replaceBatchLists(batchId: string, lists: BatchLists) {
    // Both lists' old rows in one statement (one round trip inside the write lock, on every write).
    await this.db.execute(sql`with deviations as (delete from deviation_list where batch_id = ${batchId}) delete from pending_work where batch_id = ${batchId}`);
    if (lists.deviations.length) await this.db.insert(t.deviationList).values(lists.deviations);
    if (lists.pending.length) await this.db.insert(t.pendingWork).values(lists.pending);
  }
  async saveReadModels(rows: { id: string; state: BatchState; lists: BatchLists }[]) {
    if (rows.length === 0) return;
    const ids = rows.map((r) => r.id);
    // One statement for the states: the rows as one JSON parameter (json_to_recordset), as the seeder inserts.
    const states = JSON.stringify(rows.map(({ id, state: s }) => ({ id, status: s.status, version: s.version, open_deviations: s.openDeviations, updated_at: s.updatedAt, record_state: s.recordState })));
    await this.db.execute(sql`update batches as b set status = v.status, version = v.version, open_deviations = v.open_deviations, updated_at = v.updated_at, record_state = v.record_state
      from json_to_recordset(${states}::json) as v(id text, status text, version integer, open_deviations integer, updated_at text, record_state text) where b.id = v.id collate "C"`);
    await this.db.delete(t.deviationList).where(inArray(t.deviationList.batchId, ids));
    await this.db.delete(t.pendingWork).where(inArray(t.pendingWork.batchId, ids));
    // Inserts in slices: a statement takes at most 65,535 parameters.
    const insert = async <R>(rowsOf: R[], into: (slice: R[]) => Promise<unknown>) => { for (let i = 0; i < rowsOf.length; i += 1000) await into(rowsOf.slice(i, i + 1000)); };
    await insert(rows.flatMap((r) => r.lists.deviations), (slice) => this.db.insert(t.deviationList).values(slice));
    await insert(rows.flatMap((r) => r.lists.pending), (slice) => this.db.insert(t.pendingWork).values(slice));
  }
  async batchLists(batchId: string): Promise<BatchLists> {
    return {
      deviations: await this.db.select().from(t.deviationList).where(eq(t.deviationList.batchId, batchId)).orderBy(asc(t.deviationList.sortKey)),
      pending: await this.db.select().from(t.pendingWork).where(eq(t.pendingWork.batchId, batchId)).orderBy(asc(t.pendingWork.position), asc(t.pendingWork.role)),
    };
  }
  async listDeviationRows(f: { status?: string; severity?: string }, limit: number, cursor?: string): Promise<Page<DeviationListRow>> {
    const after = decodeCursor(cursor);
    const where = and(f.status !== undefined ? eq(t.deviationList.status, f.status) : undefined, f.severity !== undefined ? eq(t.deviationList.severity, f.severity) : undefined,
      after !== undefined ? gt(t.deviationList.sortKey, after) : undefined);
    return page(await this.db.select().from(t.deviationList).where(where).orderBy(asc(t.deviationList.sortKey)).limit(limit + 1), limit, (r) => r.sortKey);
  }
  async listPendingRows(caller: PendingCaller, limit: number, cursor?: string): Promise<Page<PendingWorkRow>> {
    const roles = [...new Set(caller.roles)];
    if (roles.length === 0) return { items: [] };
    const w = t.pendingWork;
    const after = decodePendingCursor(cursor);
    const gate = sql.join(roles.map((r) => sql`${w.gate} like ${memberPattern(r)}`), sql` or `);
    // Each of the caller's roles read from its index in order, up to a page; merged in memory.
    const pages = await Promise.all(roles.map((role) => this.db.select().from(w).where(and(eq(w.role, role), sql`(${w.gate} is null or ${gate})`, sql`${w.excluded} not like ${memberPattern(caller.id)}`,
      after ? sql`(${w.batchId} > ${after.batchId} or (${w.batchId} = ${after.batchId} and ${w.position} > ${after.position}))` : undefined))
      .orderBy(asc(w.batchId), asc(w.position)).limit(limit + 1)));
    return mergePendingPages(pages, limit);
  }

  async findActiveBatchByDin(din: string): Promise<BatchRow | undefined> {
    return first(await this.db.select().from(t.batches).where(and(eq(t.batches.din, din), sql`${t.batches.status} not in ('terminated', 'rejected')`)));
  }
  async countBatchNumbers(prefix: string): Promise<number> {
    // SQLite's LIKE; the prefix is the site's batch-number prefix, with no wildcard in it.
    return (await this.rows<{ n: number }>(sql`select count(*)::int as n from batches where starts_with(batch_number, ${prefix})`))[0].n;
  }
  async getRecordPdf(batchId: string, lang: string): Promise<RecordPdfRow | undefined> {
    return first(await this.db.select().from(t.recordPdfs).where(and(eq(t.recordPdfs.batchId, batchId), eq(t.recordPdfs.lang, lang))));
  }
  async saveRecordPdf(row: RecordPdfRow) {
    await this.db.insert(t.recordPdfs).values(row).onConflictDoNothing();
  }

  // ─── the record: append-only, hash-chained ────────────────────────────

  private async lastHash(table: ChainTable): Promise<Head> {
    return first(await this.rows<Head>(sql`select seq, hash from ${sql.identifier(table)} order by seq desc limit 1`)) ?? { seq: 0, hash: GENESIS };
  }

  /**
   * The head a row dated `at` is chained onto, read once inside the write lock (every app server's
   * appends go through it, so it is never kept between transactions): its hash, and its time for the
   * clock check.
   *
   * ALCOA consistent, 21 CFR 11.10(e): time on every chain never goes backwards. A row dated before
   * the chain's last row means the clock went back; the write is refused (503) and, once the
   * transaction has rolled back, an alert row is written (see `transaction`).
   */
  private async headFor(frame: Frame, table: ChainTable, at: string): Promise<Head> {
    const last = first(await this.rows<Head & { at: string }>(
      sql`select seq, hash, ${sql.identifier(TIME_COLUMN[table])} as at from ${sql.identifier(table)} order by seq desc limit 1`));
    if (!last) return { seq: 0, hash: GENESIS };
    if (at < last.at) {
      frame.clockAlert = { table, observed: at, last: last.at };
      throw clockWentBack(`the server's clock (${at}) is earlier than the last row of the ${table} chain (${last.at}): nothing is recorded until the clock is put right; QA and the administrator are alerted in the audit trail`);
    }
    return { seq: last.seq, hash: last.hash };
  }

  /** The alert of a clock that went back: one audit row dated at the audit chain's last time, the clock's reading inside. */
  private async writeClockAlert(alert: ClockAlert) {
    await this.transaction(async () => {
      const lastAudit = first(await this.rows<{ at: string }>(sql`select at from audit_log order by seq desc limit 1`))?.at ?? alert.observed;
      const at = alert.observed > lastAudit ? alert.observed : lastAudit;
      await this.appendAudit({
        at, userId: null, action: 'clock.went-back', entity: 'clock', entityId: null, batchId: null, reason: 'the server clock reads earlier than the last recorded row',
        before: { lastRecordedAt: alert.last, chain: alert.table }, after: { clockReads: alert.observed },
      });
    });
  }

  async appendEntry(e: NewEntry): Promise<EntryRow> {
    return this.inTransaction(async (frame) => {
      const last = await this.headFor(frame, 'entries', e.recordedAt);
      const base = { ...stored(e), seq: last.seq + 1, batchSeq: (await this.batchVersion(e.batchId)) + 1 };
      const row: EntryRow = { ...base, prevHash: last.hash, hash: rowHash(last.hash, entryCells(base)) };
      await this.db.insert(t.entries).values(row);
      frame.batchVersions.set(row.batchId, row.batchSeq);
      frame.appended++;
      return row;
    });
  }
  async appendSignature(s: NewSignature): Promise<SignatureRow> {
    return this.inTransaction(async (frame) => {
      const last = await this.headFor(frame, 'signatures', s.signedAt);
      const base = { ...stored(s), seq: last.seq + 1 };
      const row: SignatureRow = { ...base, prevHash: last.hash, hash: rowHash(last.hash, signatureCells(base)) };
      await this.db.insert(t.signatures).values(row);
      frame.appended++;
      return row;
    });
  }
  async appendAudit(a: NewAudit): Promise<AuditRow> {
    return this.inTransaction(async (frame) => {
      const last = await this.headFor(frame, 'audit_log', a.at);
      const base = stored({
        ...a, seq: last.seq + 1,
        before: a.before === undefined ? null : JSON.stringify(a.before),
        after: a.after === undefined ? null : JSON.stringify(a.after),
      });
      const row: AuditRow = { ...base, prevHash: last.hash, hash: rowHash(last.hash, auditCells(base)) };
      await this.db.insert(t.auditLog).values(row);
      frame.appended++;
      return row;
    });
  }

  /** The batch's last batch_seq; inside a transaction read once, then moved on by its own appends (appendEntry). */
  async batchVersion(batchId: string): Promise<number> {
    const frame = this.frames.getStore();
    const known = frame?.batchVersions.get(batchId);
    if (known !== undefined) return known;
    const version = (await this.rows<{ n: number }>(sql`select coalesce(max(batch_seq), 0)::int as n from entries where batch_id = ${batchId}`))[0].n;
    frame?.batchVersions.set(batchId, version);
    return version;
  }
  async entriesOfBatch(batchId: string): Promise<EntryRow[]> {
    return this.read(this.q.entriesOfBatch, { batchId }, () => this.db.select().from(t.entries).where(eq(t.entries.batchId, batchId)).orderBy(asc(t.entries.batchSeq)));
  }
  async getEntry(id: string): Promise<EntryRow | undefined> {
    return first(await this.db.select().from(t.entries).where(eq(t.entries.id, id)));
  }
  async signaturesOfBatch(batchId: string): Promise<SignatureRow[]> {
    return this.read(this.q.signaturesOfBatch, { batchId }, () => this.db.select(getTableColumns(t.signatures)).from(t.signatures).innerJoin(t.entries, eq(t.entries.id, t.signatures.entryId))
      .where(eq(t.entries.batchId, batchId)).orderBy(asc(t.signatures.seq)));
  }
  async recordsOfBatches(batchIds: string[]): Promise<Map<string, BatchRows>> {
    if (batchIds.length === 0) return new Map();
    return groupByBatch(batchIds,
      await this.db.select().from(t.entries).where(inArray(t.entries.batchId, batchIds)).orderBy(asc(t.entries.batchId), asc(t.entries.batchSeq)),
      await this.db.select({ batchId: t.entries.batchId, signature: t.signatures }).from(t.signatures).innerJoin(t.entries, eq(t.entries.id, t.signatures.entryId))
        .where(inArray(t.entries.batchId, batchIds)).orderBy(asc(t.signatures.seq)));
  }
  async signaturesOf(entryIds: string[]): Promise<SignatureRow[]> {
    if (entryIds.length === 0) return [];
    return this.db.select().from(t.signatures).where(inArray(t.signatures.entryId, entryIds)).orderBy(asc(t.signatures.seq));
  }
  async auditOfBatch(batchId: string): Promise<AuditRow[]> {
    return this.db.select().from(t.auditLog).where(eq(t.auditLog.batchId, batchId)).orderBy(asc(t.auditLog.seq));
  }
  async listAudit(f: AuditFilter, limit: number, cursor?: string): Promise<Page<AuditRow>> {
    const rows = await this.db.select().from(t.auditLog).where(auditConditions(t.auditLog, f, cursor, 2 ** 31 - 1)).orderBy(asc(t.auditLog.seq)).limit(limit + 1);
    return page(rows, limit, (r) => r.seq);
  }
  async *iterateAudit(f: AuditFilter): AsyncGenerator<AuditRow> {
    let cursor: string | undefined;
    do {
      const p = await this.listAudit(f, 1000, cursor);
      yield* p.items;
      cursor = p.nextCursor;
    } while (cursor);
  }
  async counts() {
    const [r] = await this.rows<{ entries: number; signatures: number; audit: number }>(sql`select
      (select count(*)::int from entries) as entries, (select count(*)::int from signatures) as signatures, (select count(*)::int from audit_log) as audit`);
    return r;
  }
  async lastAudit(): Promise<AuditRow | undefined> {
    return first(await this.db.select().from(t.auditLog).orderBy(desc(t.auditLog.seq)).limit(1));
  }
  async countNotTraining(): Promise<number> {
    return (await this.rows<{ n: number }>(sql`select ((select count(*) from batches where not training) + (select count(*) from entries where not training))::int as n`))[0].n;
  }

  /** Rows chained elsewhere, as given (store.ts, insertChained): multi-row inserts in the caller's transaction or one of its own. */
  async insertChained(rows: ChainedRows): Promise<void> {
    await this.inTransaction(async (frame) => {
      frame.batchVersions.clear(); // entries inserted as given: what the transaction knew of versions is read again
      const chunks = <R>(xs: R[] | undefined, n = 1000) => Array.from({ length: Math.ceil((xs?.length ?? 0) / n) }, (_, i) => xs!.slice(i * n, (i + 1) * n));
      for (const c of chunks(rows.batches)) await this.db.insert(t.batches).values(c);
      // One statement per chain, its rows as one JSON parameter (json_to_recordset): thousands at a time.
      // The columns are the chained ones (chain.ts, CHAINED) and the row's own hash; text stays text.
      const bulk = async (table: ChainTable, xs: object[] | undefined, types: Record<string, string>) => {
        if (!xs?.length) return;
        const cols = Object.keys(types);
        const json = JSON.stringify(xs.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v]))));
        await this.db.execute(sql`insert into ${sql.identifier(table)} (${sql.raw(cols.join(', '))})
          select ${sql.raw(cols.join(', '))} from json_to_recordset(${json}::json) as x(${sql.raw(cols.map((c) => `${c} ${types[c]}`).join(', '))})`);
      };
      const typed = (table: ChainTable) => Object.fromEntries([...CHAINED[table], 'prev_hash', 'hash'].map((c) => [c, ['seq', 'batch_seq', 'entry_seq'].includes(c) ? 'int4' : c === 'training' ? 'bool' : 'text']));
      await bulk('entries', rows.entries, typed('entries'));
      await bulk('signatures', rows.signatures, typed('signatures'));
      await bulk('audit_log', rows.audit, typed('audit_log'));
      frame.appended += (rows.entries?.length ?? 0) + (rows.signatures?.length ?? 0) + (rows.audit?.length ?? 0);
    });
  }

  async firstEntryTraining(): Promise<boolean | undefined> {
    return first(await this.db.select({ training: t.entries.training }).from(t.entries).orderBy(asc(t.entries.seq)).limit(1))?.training;
  }

  async identityMismatches(): Promise<RowMismatch[]> {
    // Compared as JSON values (jsonb), as SQLite compares the values `->>` extracts: a number stays a number.
    const fields: [string, string, string][] = [
      ['batchNumber', 'to_jsonb(b.batch_number)', "e.payload::jsonb -> 'batchNumber'"], ['din', 'to_jsonb(b.din)', "e.payload::jsonb -> 'din'"],
      ['dinCheck', 'to_jsonb(b.din_check)', "e.payload::jsonb -> 'dinCheck'"], ['chainOfIdentityId', 'to_jsonb(b.chain_of_identity_id)', "e.payload::jsonb -> 'chainOfIdentityId'"],
      ['patient.id', "b.patient::jsonb -> 'id'", "e.payload::jsonb -> 'patient' -> 'id'"], ['patient.weightKg', "b.patient::jsonb -> 'weightKg'", "e.payload::jsonb -> 'patient' -> 'weightKg'"],
    ];
    const rows = await this.rows<Record<string, unknown>>(sql.raw(`select b.id, ${fields.map(([, r, c], i) => `${r} as r${i}, ${c} as c${i}`).join(', ')}
      from batches b join entries e on e.batch_id = b.id and e.kind = 'batch-created'
      where ${fields.map(([, r, c]) => `(${r}) is distinct from (${c})`).join(' or ')} order by b.id`));
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    return rows.flatMap((r) => fields.flatMap(([field], i) => (same(r[`r${i}`], r[`c${i}`]) ? [] : [{ table: 'batches' as const, row: String(r.id), field, row_value: r[`r${i}`] ?? null, chain_value: r[`c${i}`] ?? null }])));
  }

  async verifyChains(checkpoints: Checkpoint[] = []): Promise<ChainReport> {
    return walkPostgres(this.root, this.legacyHeads, checkpoints);
  }
  /** PostgreSQL reads and hashes the rows in this thread: the database does the reading in parallel with the hashing. */
  async verifyChainsInParallel(checkpoints: Checkpoint[] = []): Promise<ChainReport> {
    return this.verifyChains(checkpoints);
  }

  async batchIntact(batchId: string, read?: { entries: EntryRow[]; signatures: SignatureRow[] }): Promise<boolean> {
    const entries = read?.entries ?? (await this.entriesOfBatch(batchId));
    const signatures = read?.signatures ?? (await this.signaturesOfBatch(batchId));
    const byId = new Map(entries.map((e) => [e.id, e]));
    const belongs = (sg: SignatureRow) => {
      const e = byId.get(sg.entryId);
      return e?.hash === sg.entryHash && (sg.entrySeq === null || sg.entrySeq === e.seq);
    };
    return entries.every((e) => expectedHash('entries', e, this.legacyHeads) === e.hash) &&
      signatures.every((sg) => expectedHash('signatures', sg, this.legacyHeads) === sg.hash && belongs(sg)) &&
      (await this.auditOfBatch(batchId)).every((a) => expectedHash('audit_log', a, this.legacyHeads) === a.hash);
  }

  // ─── settings ─────────────────────────────────────────────────────────

  async getSetting(key: string): Promise<string | undefined> {
    return first(await this.db.select().from(t.settings).where(eq(t.settings.key, key)))?.value;
  }
  async putSetting(key: string, value: string) {
    await this.db.insert(t.settings).values({ key, value }).onConflictDoUpdate({ target: t.settings.key, set: { value } });
  }
}
