// The store: the only place that knows SQL. Commands and services see this interface, never a driver,
// so that a PostgreSQL store can follow behind the same methods (DESIGN.md "The record").
import type Database from 'better-sqlite3';
import { and, asc, desc, eq, gt, gte, lte, inArray, sql, type SQL } from 'drizzle-orm';
import { openDatabase, type Db } from './database.js';
import * as t from './tables.js';
import { chainHash, GENESIS } from './chain.js';
import { CHAIN_TABLES, type ChainTable, type Checkpoint, type CheckpointLog, type Head } from './checkpoints.js';

export type UserRow = typeof t.users.$inferSelect;
export type SessionRow = typeof t.sessions.$inferSelect;
export type MaterialRow = typeof t.materials.$inferSelect;
export type EquipmentRow = typeof t.equipment.$inferSelect;
export type BatchRow = typeof t.batches.$inferSelect;
export type EntryRow = typeof t.entries.$inferSelect;
export type SignatureRow = typeof t.signatures.$inferSelect;
export type AuditRow = typeof t.auditLog.$inferSelect;

export type NewEntry = Omit<EntryRow, 'seq' | 'batchSeq' | 'prevHash' | 'hash'>;
export type NewSignature = Omit<SignatureRow, 'seq' | 'prevHash' | 'hash'>;
export type NewAudit = Omit<AuditRow, 'seq' | 'prevHash' | 'hash' | 'before' | 'after'> & { before?: unknown; after?: unknown };

export interface Page<T> { items: T[]; nextCursor?: string }

/**
 * `kind` says whether the failure can be pinned on one row (`row`: its content no longer matches its
 * hash, or a signature names another entry) or only on a stretch of the record (`chain`: rows missing,
 * reordered, rewritten with recomputed hashes, or the checkpoint log damaged).
 */
export interface ChainReport { valid: boolean; checked: number; checkpoints?: number; firstInvalid?: { table: ChainTable | 'checkpoints'; seq: number; reason: string; kind: 'row' | 'chain' } }

export interface StoreOptions {
  /** The signed checkpoint log of the chain heads (kept outside the database). */
  checkpoints?: CheckpointLog;
  /** Sign the heads every this many appended rows. */
  checkpointEvery?: number;
  now?: () => Date;
}

/** What is hashed of each row: every column but the hash itself (prevHash enters as the chain link). */
export const entryHashed = (r: Omit<EntryRow, 'hash' | 'prevHash'>) => ({
  seq: r.seq, id: r.id, batchId: r.batchId, batchSeq: r.batchSeq, kind: r.kind, stepId: r.stepId,
  payload: JSON.parse(r.payload) as unknown, recordedAt: r.recordedAt, actorId: r.actorId, training: r.training,
});
export const signatureHashed = (r: Omit<SignatureRow, 'hash' | 'prevHash'>) => ({
  seq: r.seq, id: r.id, entryId: r.entryId, entryHash: r.entryHash, userId: r.userId, username: r.username,
  printedName: r.printedName, meaning: r.meaning, signedAt: r.signedAt,
});
export const auditHashed = (r: Omit<AuditRow, 'hash' | 'prevHash'>) => ({
  seq: r.seq, at: r.at, userId: r.userId, action: r.action, entity: r.entity, entityId: r.entityId, batchId: r.batchId,
  before: r.before, after: r.after, reason: r.reason,
});

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

  constructor(file: string, private readonly options: StoreOptions = {}) {
    ({ sqlite: this.sqlite, db: this.db } = openDatabase(file));
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
    return this.db.select().from(t.users).where(eq(t.users.id, id)).get();
  }
  listUsers(limit: number, cursor?: string): Page<UserRow> {
    const after = decodeCursor(cursor);
    const rows = this.db.select().from(t.users).where(after ? gt(t.users.usernameKey, after) : undefined)
      .orderBy(asc(t.users.usernameKey)).limit(limit + 1).all();
    return page(rows, limit, (r) => r.usernameKey);
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
    return this.db.select().from(t.sessions).where(eq(t.sessions.tokenHash, tokenHash)).get();
  }
  touchSession(tokenHash: string, at: string) {
    this.db.update(t.sessions).set({ lastSeenAt: at }).where(eq(t.sessions.tokenHash, tokenHash)).run();
  }
  revokeSession(tokenHash: string, at: string) {
    this.db.update(t.sessions).set({ revokedAt: at }).where(eq(t.sessions.tokenHash, tokenHash)).run();
  }
  revokeSessionsOf(userId: string, at: string) {
    this.db.update(t.sessions).set({ revokedAt: at }).where(and(eq(t.sessions.userId, userId), sql`${t.sessions.revokedAt} is null`)).run();
  }

  // ─── materials and equipment ──────────────────────────────────────────

  insertMaterial(row: MaterialRow) {
    this.db.insert(t.materials).values(row).run();
  }
  getMaterial(id: string) {
    return this.db.select().from(t.materials).where(eq(t.materials.id, id)).get();
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
    return this.db.select().from(t.equipment).where(eq(t.equipment.id, id)).get();
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

  // ─── batches (projection) ─────────────────────────────────────────────

  insertBatch(row: BatchRow) {
    this.db.insert(t.batches).values(row).run();
  }
  /** Replaces the cached state of a batch; the projection is rebuilt from entries whenever needed. */
  saveBatchState(id: string, state: Pick<BatchRow, 'status' | 'version' | 'openDeviations' | 'updatedAt'>) {
    this.db.update(t.batches).set(state).where(eq(t.batches.id, id)).run();
  }
  getBatch(id: string) {
    return this.db.select().from(t.batches).where(eq(t.batches.id, id)).get();
  }
  listBatches(status: string | undefined, limit: number, cursor?: string): Page<BatchRow> {
    const after = decodeCursor(cursor);
    const where = and(status ? eq(t.batches.status, status) : undefined, after ? gt(t.batches.id, after) : undefined);
    return page(this.db.select().from(t.batches).where(where).orderBy(asc(t.batches.id)).limit(limit + 1).all(), limit, (r) => r.id);
  }
  allBatchIds() {
    return this.db.select({ id: t.batches.id }).from(t.batches).all().map((r) => r.id);
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
    const row = this.sqlite.prepare(`select seq, hash from ${table} order by seq desc limit 1`).get() as { seq: number; hash: string } | undefined;
    return row ?? { seq: 0, hash: GENESIS };
  }

  appendEntry(e: NewEntry): EntryRow {
    const last = this.lastHash('entries');
    const batchSeq = (this.sqlite.prepare('select coalesce(max(batch_seq), 0) as n from entries where batch_id = ?').get(e.batchId) as { n: number }).n + 1;
    const base = { ...e, seq: last.seq + 1, batchSeq };
    const row: EntryRow = { ...base, prevHash: last.hash, hash: chainHash(last.hash, entryHashed(base)) };
    this.db.insert(t.entries).values(row).run();
    this.appendedSinceCheckpoint++;
    return row;
  }
  appendSignature(s: NewSignature): SignatureRow {
    const last = this.lastHash('signatures');
    const base = { ...s, seq: last.seq + 1 };
    const row: SignatureRow = { ...base, prevHash: last.hash, hash: chainHash(last.hash, signatureHashed(base)) };
    this.db.insert(t.signatures).values(row).run();
    this.appendedSinceCheckpoint++;
    return row;
  }
  appendAudit(a: NewAudit): AuditRow {
    const last = this.lastHash('audit_log');
    const base = {
      ...a, seq: last.seq + 1,
      before: a.before === undefined ? null : JSON.stringify(a.before),
      after: a.after === undefined ? null : JSON.stringify(a.after),
    };
    const row: AuditRow = { ...base, prevHash: last.hash, hash: chainHash(last.hash, auditHashed(base)) };
    this.db.insert(t.auditLog).values(row).run();
    this.appendedSinceCheckpoint++;
    return row;
  }

  entriesOfBatch(batchId: string): EntryRow[] {
    return this.db.select().from(t.entries).where(eq(t.entries.batchId, batchId)).orderBy(asc(t.entries.batchSeq)).all();
  }
  getEntry(id: string) {
    return this.db.select().from(t.entries).where(eq(t.entries.id, id)).get();
  }
  signaturesOf(entryIds: string[]): SignatureRow[] {
    if (entryIds.length === 0) return [];
    return this.db.select().from(t.signatures).where(inArray(t.signatures.entryId, entryIds)).orderBy(asc(t.signatures.seq)).all();
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
   * Recomputes every chain row by row (streaming: constant memory). A signature must also carry the
   * hash of the entry it names, so one copied onto another entry is caught (21 CFR 11.70).
   */
  verifyChains(checkpoints: Checkpoint[] = []): ChainReport {
    let checked = 0;
    // Signed heads per table, by row seq: the rows must still end in the hashes that were signed.
    const signed = new Map<ChainTable, { seq: number; hash: string; n: number }[]>(
      CHAIN_TABLES.map((table) => [table, checkpoints.map((c) => ({ ...c.heads[table], n: c.n })).filter((h) => h.seq > 0)]),
    );
    const walk = <R extends { seq: number; prevHash: string; hash: string }>(
      table: 'entries' | 'signatures' | 'audit_log', hashed: (r: R) => Record<string, unknown>, extra?: (r: R) => string | null,
    ): ChainReport['firstInvalid'] => {
      let prev = GENESIS;
      let expectedSeq = 1;
      const heads = signed.get(table) ?? [];
      let lastGood = 0;
      const cols = table === 'entries' ? 'seq, id, batch_id as batchId, batch_seq as batchSeq, kind, step_id as stepId, payload, recorded_at as recordedAt, actor_id as actorId, training, prev_hash as prevHash, hash'
        : table === 'signatures' ? 'seq, id, entry_id as entryId, entry_hash as entryHash, user_id as userId, username, printed_name as printedName, meaning, signed_at as signedAt, prev_hash as prevHash, hash'
          : 'seq, at, user_id as userId, action, entity, entity_id as entityId, batch_id as batchId, before, after, reason, prev_hash as prevHash, hash';
      for (const raw of this.sqlite.prepare(`select ${cols} from ${table} order by seq`).iterate()) {
        const r = raw as R;
        if (table === 'entries') (r as unknown as EntryRow).training = Boolean((r as unknown as EntryRow).training);
        checked++;
        if (r.seq !== expectedSeq) return { table, seq: expectedSeq, reason: `row ${expectedSeq} is missing`, kind: 'chain' };
        if (r.prevHash !== prev) return { table, seq: r.seq, reason: 'the link to the previous row is broken', kind: 'chain' };
        let hash: string;
        try {
          hash = chainHash(prev, hashed(r));
        } catch {
          return { table, seq: r.seq, reason: 'the row cannot be read', kind: 'row' };
        }
        if (hash !== r.hash) return { table, seq: r.seq, reason: 'the row does not match its hash', kind: 'row' };
        const wrong = extra?.(r);
        if (wrong) return { table, seq: r.seq, reason: wrong, kind: 'row' };
        for (const h of heads.filter((x) => x.seq === r.seq)) {
          if (h.hash !== r.hash) {
            return { table, seq: lastGood + 1, reason: `rows ${lastGood + 1}–${r.seq} differ from what signed checkpoint ${h.n} recorded (the chain was rewritten)`, kind: 'chain' };
          }
          lastGood = r.seq;
        }
        prev = r.hash;
        expectedSeq++;
      }
      const beyond = heads.find((h) => h.seq >= expectedSeq);
      if (beyond) return { table, seq: expectedSeq, reason: `rows ${expectedSeq}–${beyond.seq} are missing: signed checkpoint ${beyond.n} recorded them`, kind: 'chain' };
      return undefined;
    };
    const entryHash = this.sqlite.prepare('select hash from entries where id = ?').pluck();
    const firstInvalid =
      walk<EntryRow>('entries', entryHashed) ??
      walk<SignatureRow>('signatures', signatureHashed, (s) => (entryHash.get(s.entryId) === s.entryHash ? null : 'the signature does not belong to the entry it names')) ??
      walk<AuditRow>('audit_log', auditHashed);
    const n = checkpoints.length ? { checkpoints: checkpoints.length } : {};
    return firstInvalid ? { valid: false, checked, ...n, firstInvalid } : { valid: true, checked, ...n };
  }

  /** Whether a batch's own rows (entries, their signatures, its audit rows) still match their hashes. */
  batchIntact(batchId: string): boolean {
    const rowOk = <R extends { prevHash: string; hash: string }>(r: R, hashed: (r: R) => Record<string, unknown>) => chainHash(r.prevHash, hashed(r)) === r.hash;
    const entries = this.entriesOfBatch(batchId);
    const byId = new Map(entries.map((e) => [e.id, e.hash]));
    return entries.every((e) => rowOk(e, entryHashed)) &&
      this.signaturesOf(entries.map((e) => e.id)).every((sg) => rowOk(sg, signatureHashed) && byId.get(sg.entryId) === sg.entryHash) &&
      this.db.select().from(t.auditLog).where(eq(t.auditLog.batchId, batchId)).all().every((a) => rowOk(a, auditHashed));
  }
}
