// The store: the only place that knows SQL. Commands and services see this interface, never a driver,
// so that a PostgreSQL store can follow behind the same methods (DESIGN.md "The record").
import type Database from 'better-sqlite3';
import { and, asc, desc, eq, getTableColumns, gt, gte, lte, inArray, ne, sql, type SQL } from 'drizzle-orm';
import { openDatabase, type Db } from './database.js';
import * as t from './tables.js';
import { CHAINED, GENESIS, legacyChainHash, rowHash, storable, type Cell } from './chain.js';
import { verifyChains, verifyChainsInParallel, type ChainReport, type ParallelOptions, type RowMismatch } from './verify.js';
import { CHAIN_TABLES, type ChainTable, type Checkpoint, type CheckpointLog, type Head } from './checkpoints.js';
import { AppError, clockWentBack } from '../errors.js';

/** The time column of each chain: what must never go backwards along it. */
const TIME_COLUMN: Record<ChainTable, string> = { entries: 'recorded_at', signatures: 'signed_at', audit_log: 'at' };

export type UserRow = typeof t.users.$inferSelect;
export type SessionRow = typeof t.sessions.$inferSelect;
export type MaterialRow = typeof t.materials.$inferSelect;
export type EquipmentRow = typeof t.equipment.$inferSelect;
export type BatchRow = typeof t.batches.$inferSelect;
export type EntryRow = typeof t.entries.$inferSelect;
export type SignatureRow = typeof t.signatures.$inferSelect;
export type AuditRow = typeof t.auditLog.$inferSelect;
export type RecordPdfRow = typeof t.recordPdfs.$inferSelect;
export type ProcessVersionRow = typeof t.processVersions.$inferSelect;
export type ProcessVersionSignatureRow = typeof t.processVersionSignatures.$inferSelect;

export type NewEntry = Omit<EntryRow, 'seq' | 'batchSeq' | 'prevHash' | 'hash'>;
export type NewSignature = Omit<SignatureRow, 'seq' | 'prevHash' | 'hash'>;
export type NewAudit = Omit<AuditRow, 'seq' | 'prevHash' | 'hash' | 'before' | 'after'> & { before?: unknown; after?: unknown };

export interface Page<T> { items: T[]; nextCursor?: string }

export type { ChainReport } from './verify.js';

export interface StoreOptions {
  /** The signed checkpoint log of the chain heads (kept outside the database). */
  checkpoints?: CheckpointLog;
  /** Sign the heads every this many appended rows. */
  checkpointEvery?: number;
  now?: () => Date;
}

/** The hashed cells of each row, in the column order of CHAINED (chain.ts). */
export const entryCells = (r: Omit<EntryRow, 'hash' | 'prevHash'>): Cell[] =>
  [r.seq, r.id, r.batchId, r.batchSeq, r.kind, r.stepId, r.payload, r.recordedAt, r.actorId, r.training ? 1 : 0];
export const signatureCells = (r: Omit<SignatureRow, 'hash' | 'prevHash'>): Cell[] =>
  [r.seq, r.id, r.entryId, r.entryHash, r.entrySeq, r.userId, r.username, r.printedName, r.meaning, r.signedAt];
export const auditCells = (r: Omit<AuditRow, 'hash' | 'prevHash'>): Cell[] =>
  [r.seq, r.at, r.userId, r.action, r.entity, r.entityId, r.batchId, r.before, r.after, r.reason];

/** What rows written before migration 0003 hashed (chain.ts, legacyChainHash). */
const legacyHashed = {
  entries: (r: EntryRow) => ({
    seq: r.seq, id: r.id, batchId: r.batchId, batchSeq: r.batchSeq, kind: r.kind, stepId: r.stepId,
    payload: JSON.parse(r.payload) as unknown, recordedAt: r.recordedAt, actorId: r.actorId, training: r.training,
  }),
  signatures: (r: SignatureRow) => ({
    seq: r.seq, id: r.id, entryId: r.entryId, entryHash: r.entryHash, userId: r.userId, username: r.username,
    printedName: r.printedName, meaning: r.meaning, signedAt: r.signedAt,
  }),
  audit_log: (r: AuditRow) => ({
    seq: r.seq, at: r.at, userId: r.userId, action: r.action, entity: r.entity, entityId: r.entityId, batchId: r.batchId,
    before: r.before, after: r.after, reason: r.reason,
  }),
};

/** The last row of each chain hashed the old way (0 in a database created after migration 0003). */
export type LegacyHeads = Record<ChainTable, number>;

/** The hash a row must carry, in the form it was written in. */
export function expectedHash(table: 'entries', r: EntryRow, legacy: LegacyHeads): string;
export function expectedHash(table: 'signatures', r: SignatureRow, legacy: LegacyHeads): string;
export function expectedHash(table: 'audit_log', r: AuditRow, legacy: LegacyHeads): string;
export function expectedHash(table: ChainTable, r: EntryRow | SignatureRow | AuditRow, legacy: LegacyHeads): string {
  if (r.seq <= legacy[table]) return legacyChainHash(r.prevHash, (legacyHashed[table] as (x: typeof r) => Record<string, unknown>)(r));
  const cells = table === 'entries' ? entryCells(r as EntryRow) : table === 'signatures' ? signatureCells(r as SignatureRow) : auditCells(r as AuditRow);
  return rowHash(r.prevHash, cells);
}

/** Every string property of a row as the database will store it (chain.ts, storable). */
function stored<R extends object>(row: R): R {
  const out = { ...row } as Record<string, unknown>;
  for (const [k, v] of Object.entries(out)) if (typeof v === 'string') out[k] = storable(v);
  return out as R;
}

const cursorOf = (v: string | number) => Buffer.from(String(v)).toString('base64url');
export const decodeCursor = (c: string | undefined) => (c ? Buffer.from(c, 'base64url').toString() : undefined);

function page<T>(rows: T[], limit: number, key: (r: T) => string | number): Page<T> {
  if (rows.length <= limit) return { items: rows };
  const items = rows.slice(0, limit);
  return { items, nextCursor: cursorOf(key(items[items.length - 1])) };
}

export class Store {
  readonly sqlite: Database.Database;
  private readonly db: Db;

  private appendedSinceCheckpoint = 0;
  /** Statements of the hot paths (every request, every append), prepared once. */
  private readonly q: ReturnType<typeof prepareStatements>;
  readonly legacyHeads: LegacyHeads;

  constructor(readonly file: string, private readonly options: StoreOptions = {}) {
    ({ sqlite: this.sqlite, db: this.db } = openDatabase(file));
    this.q = prepareStatements(this.sqlite, this.db);
    const legacy = JSON.parse(this.getSetting('chain.legacy-heads') ?? '{}') as Partial<LegacyHeads>;
    this.legacyHeads = Object.fromEntries(CHAIN_TABLES.map((t) => [t, Number(legacy[t]) || 0])) as LegacyHeads;
    // Rows appended since the last signed checkpoint, also those of a run that crashed before signing.
    try {
      const last = options.checkpoints?.last();
      const heads = this.heads();
      this.appendedSinceCheckpoint = CHAIN_TABLES.reduce((n, t) => n + Math.max(0, heads[t].seq - (last?.heads[t].seq ?? 0)), 0);
    } catch {
      this.appendedSinceCheckpoint = 0; // a damaged log is reported by verification
    }
  }

  close() {
    if (this.sqlite.open) this.sqlite.close();
  }

  /** One IMMEDIATE transaction: the write lock is taken at once, so a request commits all or nothing. */
  transaction<T>(fn: () => T): T {
    const before = this.appendedSinceCheckpoint;
    let result: T;
    try {
      result = this.sqlite.transaction(fn).immediate();
    } catch (e) {
      this.appendedSinceCheckpoint = before; // rolled back: nothing was appended
      const alert = this.clockAlert;
      if (alert && !this.sqlite.inTransaction) {
        this.clockAlert = undefined;
        try {
          this.writeClockAlert(alert);
        } catch {
          // the refusal stands; the alert could not be written (the database is not writable)
        }
        if (e instanceof AppError) e.audited = true;
      }
      throw e;
    }
    const every = this.options.checkpointEvery ?? 1000;
    if (!this.sqlite.inTransaction && this.options.checkpoints && this.appendedSinceCheckpoint >= every) this.checkpoint('interval');
    return result;
  }

  /** The last row of each chain. */
  heads(): Record<ChainTable, Head> {
    return Object.fromEntries(CHAIN_TABLES.map((t) => [t, this.lastHash(t)])) as Record<ChainTable, Head>;
  }

  /** Signs the current chain heads into the checkpoint log (at intervals, exports, backups, shutdown). */
  checkpoint(reason: Checkpoint['reason']): Checkpoint | undefined {
    if (!this.options.checkpoints || !this.sqlite.open) return undefined;
    // Runs after a commit: a checkpoint that cannot be written never undoes or fails the request.
    const c = this.options.checkpoints.append(this.heads(), reason, (this.options.now ?? (() => new Date()))());
    this.appendedSinceCheckpoint = 0;
    return c;
  }

  // ─── users and sessions ───────────────────────────────────────────────

  findUserByUsername(username: string) {
    return this.db.select().from(t.users).where(eq(t.users.usernameKey, username.toLowerCase())).get();
  }
  findUserById(id: string) {
    return this.q.userById.get({ id });
  }
  listUsers(limit: number, cursor?: string): Page<UserRow> {
    const after = decodeCursor(cursor);
    const rows = this.db.select().from(t.users).where(after ? gt(t.users.usernameKey, after) : undefined)
      .orderBy(asc(t.users.usernameKey)).limit(limit + 1).all();
    return page(rows, limit, (r) => r.usernameKey);
  }
  /** Ids of the active users holding the admin role. */
  activeAdminIds(): string[] {
    return this.db.select({ id: t.users.id, roles: t.users.roles }).from(t.users).where(eq(t.users.active, true)).all()
      .filter((u) => u.roles.includes('admin')).map((u) => u.id);
  }
  countUsers() {
    return this.db.select({ n: sql<number>`count(*)` }).from(t.users).get()?.n ?? 0;
  }
  insertUser(row: typeof t.users.$inferInsert) {
    this.db.insert(t.users).values(row).run();
  }
  updateUser(id: string, patch: Partial<typeof t.users.$inferInsert>) {
    this.db.update(t.users).set(patch).where(eq(t.users.id, id)).run();
  }
  addPasswordHistory(userId: string, passwordHash: string, changedAt: string) {
    this.db.insert(t.passwordHistory).values({ userId, passwordHash, changedAt }).run();
  }
  recentPasswordHashes(userId: string, n: number): string[] {
    return this.db.select({ h: t.passwordHistory.passwordHash }).from(t.passwordHistory).where(eq(t.passwordHistory.userId, userId))
      .orderBy(desc(t.passwordHistory.id)).limit(n).all().map((r) => r.h);
  }
  insertSession(row: SessionRow) {
    this.db.insert(t.sessions).values(row).run();
  }
  findSession(tokenHash: string) {
    return this.q.session.get({ tokenHash });
  }
  touchSession(tokenHash: string, at: string) {
    this.db.update(t.sessions).set({ lastSeenAt: at }).where(eq(t.sessions.tokenHash, tokenHash)).run();
  }
  revokeSession(tokenHash: string, at: string) {
    this.db.update(t.sessions).set({ revokedAt: at }).where(eq(t.sessions.tokenHash, tokenHash)).run();
  }
  /** Revokes every open session of a user, but the one whose token hash is `except`. */
  revokeSessionsOf(userId: string, at: string, except?: string) {
    this.db.update(t.sessions).set({ revokedAt: at })
      .where(and(eq(t.sessions.userId, userId), sql`${t.sessions.revokedAt} is null`, except ? ne(t.sessions.tokenHash, except) : undefined)).run();
  }

  // ─── materials and equipment ──────────────────────────────────────────

  insertMaterial(row: MaterialRow) {
    this.db.insert(t.materials).values(row).run();
  }
  getMaterial(id: string) {
    return this.q.material.get({ id });
  }
  updateMaterialStatus(id: string, status: string) {
    this.db.update(t.materials).set({ status }).where(eq(t.materials.id, id)).run();
  }
  listMaterials(type: string | undefined, limit: number, cursor?: string): Page<MaterialRow> {
    const after = decodeCursor(cursor);
    const where = and(type ? eq(t.materials.type, type) : undefined, after ? gt(t.materials.id, after) : undefined);
    return page(this.db.select().from(t.materials).where(where).orderBy(asc(t.materials.id)).limit(limit + 1).all(), limit, (r) => r.id);
  }
  insertEquipment(row: EquipmentRow) {
    this.db.insert(t.equipment).values(row).run();
  }
  getEquipment(id: string) {
    return this.q.equipment.get({ id });
  }
  updateEquipmentCalibration(id: string, calibrationDueOn: string) {
    this.db.update(t.equipment).set({ calibrationDueOn }).where(eq(t.equipment.id, id)).run();
  }
  findEquipmentByAssetId(assetId: string) {
    return this.db.select().from(t.equipment).where(eq(t.equipment.assetId, assetId)).get();
  }
  listEquipment(type: string | undefined, limit: number, cursor?: string): Page<EquipmentRow> {
    const after = decodeCursor(cursor);
    const where = and(type ? eq(t.equipment.type, type) : undefined, after ? gt(t.equipment.id, after) : undefined);
    return page(this.db.select().from(t.equipment).where(where).orderBy(asc(t.equipment.id)).limit(limit + 1).all(), limit, (r) => r.id);
  }

  // ─── process definitions ──────────────────────────────────────────────

  saveDefinition(row: typeof t.processDefinitions.$inferInsert) {
    this.db.insert(t.processDefinitions).values(row).onConflictDoNothing().run();
  }
  definitionHashes(processId: string, version: number): string[] {
    return this.db.select({ hash: t.processDefinitions.hash }).from(t.processDefinitions)
      .where(and(eq(t.processDefinitions.processId, processId), eq(t.processDefinitions.version, version))).all().map((r) => r.hash);
  }
  getDefinition(hash: string) {
    return this.db.select().from(t.processDefinitions).where(eq(t.processDefinitions.hash, hash)).get();
  }

  // ─── master records: process versions under change control ────────────

  insertProcessVersion(row: ProcessVersionRow) {
    this.db.insert(t.processVersions).values(row).run();
  }
  /** Moves a version through its lifecycle; its content is locked by a trigger (migration 0007). */
  setProcessVersionStatus(id: string, status: string, updatedAt: string) {
    this.db.update(t.processVersions).set({ status, updatedAt }).where(eq(t.processVersions.id, id)).run();
  }
  /** A draft's author replaces its content; the database refuses it once the version has left draft (migration 0008). */
  replaceProcessVersionContent(id: string, definition: string, hash: string, updatedAt: string) {
    this.db.update(t.processVersions).set({ definition, hash, updatedAt }).where(eq(t.processVersions.id, id)).run();
  }
  processVersions(processId?: string): ProcessVersionRow[] {
    const q = this.db.select().from(t.processVersions);
    return (processId ? q.where(eq(t.processVersions.processId, processId)) : q).orderBy(asc(t.processVersions.processId), asc(t.processVersions.version)).all();
  }
  processVersion(processId: string, version: number): ProcessVersionRow | undefined {
    return this.db.select().from(t.processVersions).where(and(eq(t.processVersions.processId, processId), eq(t.processVersions.version, version))).get();
  }
  appendProcessVersionSignature(row: Omit<ProcessVersionSignatureRow, 'seq'>) {
    this.db.insert(t.processVersionSignatures).values(row).run();
  }
  processVersionSignatures(versionId: string): ProcessVersionSignatureRow[] {
    return this.db.select().from(t.processVersionSignatures).where(eq(t.processVersionSignatures.versionId, versionId)).orderBy(asc(t.processVersionSignatures.seq)).all();
  }
  /** Batches of a process not yet at a final status, with the version each runs: the impact of a change. */
  runningBatchesOf(processId: string) {
    return this.db.select({ id: t.batches.id, batchNumber: t.batches.batchNumber, processVersion: t.batches.processVersion, status: t.batches.status, training: t.batches.training })
      .from(t.batches).where(and(eq(t.batches.processId, processId), sql`${t.batches.status} not in ('released', 'rejected', 'terminated')`))
      .orderBy(asc(t.batches.batchNumber)).all();
  }

  // ─── batches (projection) ─────────────────────────────────────────────

  insertBatch(row: BatchRow) {
    this.db.insert(t.batches).values(row).run();
  }
  /** Replaces the cached state of a batch; the projection is rebuilt from entries whenever needed. */
  saveBatchState(id: string, state: Pick<BatchRow, 'status' | 'version' | 'openDeviations' | 'updatedAt' | 'recordState'>) {
    this.q.saveBatchState.run(state.status, state.version, state.openDeviations, state.updatedAt, state.recordState, id);
  }
  getBatch(id: string) {
    return this.q.batch.get({ id });
  }
  listBatches(status: string | undefined, limit: number, cursor?: string): Page<BatchRow> {
    const after = decodeCursor(cursor);
    const where = and(status ? eq(t.batches.status, status) : undefined, after ? gt(t.batches.id, after) : undefined);
    return page(this.db.select().from(t.batches).where(where).orderBy(asc(t.batches.id)).limit(limit + 1).all(), limit, (r) => r.id);
  }
  allBatchIds() {
    return this.db.select({ id: t.batches.id }).from(t.batches).all().map((r) => r.id);
  }
  /** Batches with at least one entry of this kind (e.g. every batch that has had a deviation). */
  batchIdsWithEntryKind(kind: string): string[] {
    return this.db.selectDistinct({ id: t.entries.batchId }).from(t.entries).where(eq(t.entries.kind, kind)).orderBy(asc(t.entries.batchId)).all().map((r) => r.id);
  }
  /**
   * The read model's deviations and signatures of every batch that has had a deviation (record-state.ts),
   * taken out of the stored JSON by SQLite; a batch written before the read model existed has none here.
   */
  deviationStates(): { id: string; batchNumber: string; deviations: string; signatures: string }[] {
    return this.q.deviationStates.all() as { id: string; batchNumber: string; deviations: string; signatures: string }[];
  }
  /** Batches whose projection row has no read model yet (written before it existed). */
  batchIdsWithoutRecordState(): string[] {
    return this.q.batchIdsWithoutRecordState.all() as string[];
  }
  /** A DIN in use by a batch that is neither terminated nor rejected. */
  findActiveBatchByDin(din: string) {
    return this.db.select().from(t.batches)
      .where(and(eq(t.batches.din, din), sql`${t.batches.status} not in ('terminated', 'rejected')`)).get();
  }
  countBatchNumbers(prefix: string) {
    return this.db.select({ n: sql<number>`count(*)` }).from(t.batches).where(sql`${t.batches.batchNumber} like ${prefix + '%'}`).get()?.n ?? 0;
  }

  // ─── the record: append-only, hash-chained ────────────────────────────

  private lastHash(table: ChainTable): Head {
    return (this.q.head[table].get() as Head | undefined) ?? { seq: 0, hash: GENESIS };
  }

  /**
   * ALCOA consistent, 21 CFR 11.10(e): time on every chain never goes backwards. A row dated before
   * the chain's last row means the clock went back; the write is refused (503) and, once the
   * transaction has rolled back, an alert row is written (see `transaction`).
   */
  private assertForward(table: ChainTable, at: string) {
    const last = this.q.lastTime[table].get() as string | undefined;
    if (last !== undefined && at < last) {
      const e = clockWentBack(`the server's clock (${at}) is earlier than the last row of the ${table} chain (${last}): nothing is recorded until the clock is put right; QA and the administrator are alerted in the audit trail`);
      this.clockAlert = { table, observed: at, last };
      throw e;
    }
  }
  private clockAlert: { table: ChainTable; observed: string; last: string } | undefined;

  /** The alert of a clock that went back: one audit row dated at the audit chain's last time, the clock's reading inside. */
  private writeClockAlert(alert: { table: ChainTable; observed: string; last: string }) {
    const lastAudit = (this.q.lastTime.audit_log.get() as string | undefined) ?? alert.observed;
    const at = alert.observed > lastAudit ? alert.observed : lastAudit;
    this.sqlite.transaction(() => this.appendAudit({
      at, userId: null, action: 'clock.went-back', entity: 'clock', entityId: null, batchId: null, reason: 'the server clock reads earlier than the last recorded row',
      before: { lastRecordedAt: alert.last, chain: alert.table }, after: { clockReads: alert.observed },
    })).immediate();
  }

  /**
   * 21 CFR 11.10(a), 211.188(b): the identity a batch row shows must be the one its chained
   * `batch-created` entry holds; a row edited in the file is named here by table, row and field.
   */
  identityMismatches(): RowMismatch[] {
    const fields: [string, string, string][] = [
      ['batchNumber', 'b.batch_number', "e.payload ->> '$.batchNumber'"], ['din', 'b.din', "e.payload ->> '$.din'"],
      ['dinCheck', 'b.din_check', "e.payload ->> '$.dinCheck'"], ['chainOfIdentityId', 'b.chain_of_identity_id', "e.payload ->> '$.chainOfIdentityId'"],
      ['patient.id', "b.patient ->> '$.id'", "e.payload ->> '$.patient.id'"], ['patient.weightKg', "b.patient ->> '$.weightKg'", "e.payload ->> '$.patient.weightKg'"],
    ];
    const rows = this.sqlite.prepare(`select b.id, ${fields.map(([, r, c], i) => `${r} as r${i}, ${c} as c${i}`).join(', ')}
      from batches b join entries e on e.batch_id = b.id and e.kind = 'batch-created'
      where ${fields.map(([, r, c]) => `(${r}) is not (${c})`).join(' or ')} order by b.id`).all() as Record<string, unknown>[];
    return rows.flatMap((r) => fields.flatMap(([field], i) => (r[`r${i}`] === r[`c${i}`] ? [] : [{ table: 'batches' as const, row: String(r.id), field, row_value: r[`r${i}`], chain_value: r[`c${i}`] }])));
  }

  appendEntry(e: NewEntry): EntryRow {
    this.assertForward('entries', e.recordedAt);
    const last = this.lastHash('entries');
    const base = { ...stored(e), seq: last.seq + 1, batchSeq: this.batchVersion(e.batchId) + 1 };
    const row: EntryRow = { ...base, prevHash: last.hash, hash: rowHash(last.hash, entryCells(base)) };
    this.q.insertEntry.run(row.seq, row.id, row.batchId, row.batchSeq, row.kind, row.stepId, row.payload, row.recordedAt, row.actorId, row.training ? 1 : 0, row.prevHash, row.hash);
    this.appendedSinceCheckpoint++;
    return row;
  }
  appendSignature(s: NewSignature): SignatureRow {
    this.assertForward('signatures', s.signedAt);
    const last = this.lastHash('signatures');
    const base = { ...stored(s), seq: last.seq + 1 };
    const row: SignatureRow = { ...base, prevHash: last.hash, hash: rowHash(last.hash, signatureCells(base)) };
    this.q.insertSignature.run(row.seq, row.id, row.entryId, row.entryHash, row.entrySeq, row.userId, row.username, row.printedName, row.meaning, row.signedAt, row.prevHash, row.hash);
    this.appendedSinceCheckpoint++;
    return row;
  }
  appendAudit(a: NewAudit): AuditRow {
    this.assertForward('audit_log', a.at);
    const last = this.lastHash('audit_log');
    const base = stored({
      ...a, seq: last.seq + 1,
      before: a.before === undefined ? null : JSON.stringify(a.before),
      after: a.after === undefined ? null : JSON.stringify(a.after),
    });
    const row: AuditRow = { ...base, prevHash: last.hash, hash: rowHash(last.hash, auditCells(base)) };
    this.q.insertAudit.run(row.seq, row.at, row.userId, row.action, row.entity, row.entityId, row.batchId, row.before, row.after, row.reason, row.prevHash, row.hash);
    this.appendedSinceCheckpoint++;
    return row;
  }

  /** The number of entries of a batch: its version. */
  batchVersion(batchId: string): number {
    return this.q.batchVersion.get(batchId) as number;
  }
  entriesOfBatch(batchId: string): EntryRow[] {
    return this.q.entriesOfBatch.all({ batchId });
  }
  getEntry(id: string) {
    return this.q.entry.get({ id });
  }
  /** The signatures of a batch's entries, in the order they were given. */
  signaturesOfBatch(batchId: string): SignatureRow[] {
    return this.q.signaturesOfBatch.all({ batchId });
  }
  signaturesOf(entryIds: string[]): SignatureRow[] {
    if (entryIds.length === 0) return [];
    return this.db.select().from(t.signatures).where(inArray(t.signatures.entryId, entryIds)).orderBy(asc(t.signatures.seq)).all();
  }
  /** The batch record PDF frozen at disposition, in a language (API.md "PDF bytes"). */
  getRecordPdf(batchId: string, lang: string): RecordPdfRow | undefined {
    return this.db.select().from(t.recordPdfs).where(and(eq(t.recordPdfs.batchId, batchId), eq(t.recordPdfs.lang, lang))).get();
  }
  /** Stores a frozen PDF once; the first one stands (append-only, migration 0006). */
  saveRecordPdf(row: RecordPdfRow) {
    this.db.insert(t.recordPdfs).values(row).onConflictDoNothing().run();
  }
  auditOfBatch(batchId: string): AuditRow[] {
    return this.q.auditOfBatch.all({ batchId });
  }

  listAudit(f: { from?: string; to?: string; userId?: string; batchId?: string; action?: string }, limit: number, cursor?: string): Page<AuditRow> {
    const after = decodeCursor(cursor);
    const conds: (SQL | undefined)[] = [
      f.from ? gte(t.auditLog.at, f.from) : undefined,
      f.to ? lte(t.auditLog.at, f.to) : undefined,
      f.userId ? eq(t.auditLog.userId, f.userId) : undefined,
      f.batchId ? eq(t.auditLog.batchId, f.batchId) : undefined,
      f.action ? eq(t.auditLog.action, f.action) : undefined,
      after ? gt(t.auditLog.seq, Number(after) || 0) : undefined,
    ];
    const rows = this.db.select().from(t.auditLog).where(and(...conds)).orderBy(asc(t.auditLog.seq)).limit(limit + 1).all();
    return page(rows, limit, (r) => r.seq);
  }

  /** Every audit row matching the filters, in chain order, a page at a time (constant memory). */
  *iterateAudit(f: { from?: string; to?: string; userId?: string; batchId?: string; action?: string }): Generator<AuditRow> {
    let cursor: string | undefined;
    do {
      const page = this.listAudit(f, 1000, cursor);
      yield* page.items;
      cursor = page.nextCursor;
    } while (cursor);
  }

  counts() {
    const n = (table: string) => (this.sqlite.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n;
    return { entries: n('entries'), signatures: n('signatures'), audit: n('audit_log') };
  }
  lastAudit(): AuditRow | undefined {
    return this.db.select().from(t.auditLog).orderBy(desc(t.auditLog.seq)).limit(1).get();
  }

  getSetting(key: string) {
    return this.db.select().from(t.settings).where(eq(t.settings.key, key)).get()?.value;
  }
  putSetting(key: string, value: string) {
    this.db.insert(t.settings).values({ key, value }).onConflictDoUpdate({ target: t.settings.key, set: { value } }).run();
  }

  /**
   * Recomputes every chain (streaming: constant memory) and checks it against the signed checkpoints
   * of its heads; a signature must also carry the hash of the entry it names, so one copied onto
   * another entry is caught (21 CFR 11.10(a), 11.70). See verify.ts.
   */
  verifyChains(checkpoints: Checkpoint[] = []): ChainReport {
    return verifyChains(this.sqlite, this.legacyHeads, checkpoints);
  }

  /** The same, with the rows hashed in worker threads on every core (a file database only). */
  verifyChainsInParallel(checkpoints: Checkpoint[] = [], opts?: ParallelOptions): Promise<ChainReport> {
    return verifyChainsInParallel(this.sqlite, this.file, this.legacyHeads, checkpoints, opts);
  }

  /**
   * Whether a batch's own rows (entries, their signatures, its audit rows) still match their hashes.
   * The entries and signatures a caller has just read may be passed in, so they are not read twice.
   */
  batchIntact(batchId: string, read?: { entries: EntryRow[]; signatures: SignatureRow[] }): boolean {
    const entries = read?.entries ?? this.entriesOfBatch(batchId);
    const signatures = read?.signatures ?? this.signaturesOfBatch(batchId);
    const byId = new Map(entries.map((e) => [e.id, e]));
    const belongs = (sg: SignatureRow) => {
      const e = byId.get(sg.entryId);
      return e?.hash === sg.entryHash && (sg.entrySeq === null || sg.entrySeq === e.seq);
    };
    return entries.every((e) => expectedHash('entries', e, this.legacyHeads) === e.hash) &&
      signatures.every((sg) => expectedHash('signatures', sg, this.legacyHeads) === sg.hash && belongs(sg)) &&
      this.auditOfBatch(batchId).every((a) => expectedHash('audit_log', a, this.legacyHeads) === a.hash);
  }
}

function prepareStatements(sqlite: Database.Database, db: Db) {
  const p = sql.placeholder;
  const insert = (table: ChainTable, columns: readonly string[]) =>
    sqlite.prepare(`insert into ${table} (${columns.join(', ')}, prev_hash, hash) values (${columns.map(() => '?').join(', ')}, ?, ?)`);
  return {
    userById: db.select().from(t.users).where(eq(t.users.id, p('id'))).prepare(),
    session: db.select().from(t.sessions).where(eq(t.sessions.tokenHash, p('tokenHash'))).prepare(),
    material: db.select().from(t.materials).where(eq(t.materials.id, p('id'))).prepare(),
    equipment: db.select().from(t.equipment).where(eq(t.equipment.id, p('id'))).prepare(),
    batch: db.select().from(t.batches).where(eq(t.batches.id, p('id'))).prepare(),
    deviationStates: sqlite.prepare(`select id, batch_number as batchNumber, json_extract(record_state, '$.deviations') as deviations,
      json_extract(record_state, '$.signatures') as signatures from batches
      where record_state is not null and json_array_length(record_state, '$.deviations') > 0 order by id`),
    batchIdsWithoutRecordState: sqlite.prepare('select id from batches where record_state is null order by id').pluck(),
    saveBatchState: sqlite.prepare('update batches set status = ?, version = ?, open_deviations = ?, updated_at = ?, record_state = ? where id = ?'),
    entry: db.select().from(t.entries).where(eq(t.entries.id, p('id'))).prepare(),
    entriesOfBatch: db.select().from(t.entries).where(eq(t.entries.batchId, p('batchId'))).orderBy(asc(t.entries.batchSeq)).prepare(),
    signaturesOfBatch: db.select(getTableColumns(t.signatures)).from(t.signatures).innerJoin(t.entries, eq(t.entries.id, t.signatures.entryId))
      .where(eq(t.entries.batchId, p('batchId'))).orderBy(asc(t.signatures.seq)).prepare(),
    auditOfBatch: db.select().from(t.auditLog).where(eq(t.auditLog.batchId, p('batchId'))).orderBy(asc(t.auditLog.seq)).prepare(),
    batchVersion: sqlite.prepare('select coalesce(max(batch_seq), 0) from entries where batch_id = ?').pluck(),
    head: Object.fromEntries(CHAIN_TABLES.map((table) => [table, sqlite.prepare(`select seq, hash from ${table} order by seq desc limit 1`)])) as Record<ChainTable, Database.Statement>,
    lastTime: Object.fromEntries(CHAIN_TABLES.map((table) => [table, sqlite.prepare(`select ${TIME_COLUMN[table]} as at from ${table} order by seq desc limit 1`).pluck()])) as Record<ChainTable, Database.Statement>,
    insertEntry: insert('entries', CHAINED.entries),
    insertSignature: insert('signatures', CHAINED.signatures),
    insertAudit: insert('audit_log', CHAINED.audit_log),
  };
}
