// The store: the only place that knows SQL. Commands, services and views see this interface, never a
// driver, so that the same record can live in SQLite (server/store/sqlite/) or PostgreSQL (issue 15;
// DESIGN.md "The record").
//
// Every method is asynchronous, because PostgreSQL's driver is; the SQLite implementation keeps one
// writer and lets nobody read a transaction's uncommitted rows (docs/design-decisions.md "The store is
// asynchronous"). The methods are grouped by the tables they touch; `Store` is all of them.
import * as t from './tables.js';
import { legacyChainHash, rowHash, storable, type Cell } from './chain.js';
import type { ChainTable, Checkpoint, CheckpointSigner, Head } from './checkpoints.js';

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
export type DeviationListRow = typeof t.deviationList.$inferSelect;
export type PendingWorkRow = typeof t.pendingWork.$inferSelect;

export type NewEntry = Omit<EntryRow, 'seq' | 'batchSeq' | 'prevHash' | 'hash'>;
export type NewSignature = Omit<SignatureRow, 'seq' | 'prevHash' | 'hash'>;
export type NewAudit = Omit<AuditRow, 'seq' | 'prevHash' | 'hash' | 'before' | 'after'> & { before?: unknown; after?: unknown };

export interface Page<T> { items: T[]; nextCursor?: string }

/** The checkpoints one key signed (by its fingerprint, `keyId`): how many, the first and the last (GET /audit/keys). */
export interface KeyUse { keyId: string; count: number; first: { n: number; at: string }; last: { n: number; at: string } }

/** checkpointsByKey, in SQL both databases read alike: one group per key, its first and last rows joined back for their times. */
export const CHECKPOINTS_BY_KEY = `select k.key_id as "keyId", k.count as "count", f.n as "firstN", f.at as "firstAt", l.n as "lastN", l.at as "lastAt"
  from (select key_id, cast(count(*) as integer) as count, min(n) as first_n, max(n) as last_n from checkpoints group by key_id) as k
  join checkpoints as f on f.n = k.first_n join checkpoints as l on l.n = k.last_n
  order by k.first_n`;
export interface KeyUseRow { keyId: string; count: number; firstN: number; firstAt: string; lastN: number; lastAt: string }
export const keyUseOf = (r: KeyUseRow): KeyUse => ({ keyId: r.keyId, count: Number(r.count), first: { n: Number(r.firstN), at: r.firstAt }, last: { n: Number(r.lastN), at: r.lastAt } });

export type NewUser = typeof t.users.$inferInsert;
export type NewDefinition = typeof t.processDefinitions.$inferInsert;
export type DefinitionRow = typeof t.processDefinitions.$inferSelect;
export type BatchState = Pick<BatchRow, 'status' | 'version' | 'openDeviations' | 'updatedAt' | 'recordState'>;
export type RunningBatch = Pick<BatchRow, 'id' | 'batchNumber' | 'processVersion' | 'status' | 'training'>;
/** The rows a batch contributes to the site-wide lists (record/list-rows.ts). */
export interface BatchRows { entries: EntryRow[]; signatures: SignatureRow[] }

/** recordsOfBatches: rows read in batch order (entries) and chain order (signatures), grouped by batch. */
export function groupByBatch(batchIds: string[], entries: EntryRow[], signatures: { batchId: string; signature: SignatureRow }[]): Map<string, BatchRows> {
  const out = new Map<string, BatchRows>(batchIds.map((id) => [id, { entries: [], signatures: [] }]));
  for (const e of entries) out.get(e.batchId)?.entries.push(e);
  for (const s of signatures) out.get(s.batchId)?.signatures.push(s.signature);
  return out;
}

export interface BatchLists { deviations: DeviationListRow[]; pending: PendingWorkRow[] }
/** Who asks for pending work: rows of roles (and gate) they hold that do not exclude them. */
export interface PendingCaller { id: string; roles: readonly string[] }
export interface AuditFilter { from?: string; to?: string; userId?: string; batchId?: string; action?: string }

/**
 * `kind` says whether the failure can be pinned on one row (`row`: its content no longer matches its
 * hash, or a signature names another entry) or only on a stretch of the record (`chain`: rows missing,
 * reordered, rewritten with recomputed hashes, or the checkpoint log damaged).
 */
export interface ChainReport {
  valid: boolean; checked: number; checkpoints?: number; firstInvalid?: { table: ChainTable | 'checkpoints'; seq: number; reason: string; kind: 'row' | 'chain' };
  /** Mutable rows that disagree with the chain (a batch's identity against its creation entry, a master record against its audit rows): table, row and field. */
  mismatches?: RowMismatch[];
}
export interface RowMismatch { table: 'batches' | 'process_versions' | 'process_version_signatures' | 'materials' | 'equipment'; row: string; field: string; row_value: unknown; chain_value: unknown }

export interface ParallelOptions {
  /** Worker threads (default: one per core, at most 8). */
  workers?: number;
  /** Rows per segment handed to a worker (default 50,000). */
  segmentRows?: number;
  /** Below this many rows in all, verify in this thread (default 100,000: starting workers costs more). */
  minRows?: number;
}

export interface StoreOptions {
  /** Signs the chain heads into the checkpoints table (the key and its mark are kept outside the database). */
  signer?: CheckpointSigner;
  /** Sign the heads every this many appended rows. */
  checkpointEvery?: number;
  now?: () => Date;
  /**
   * Open an existing record only to read it, changing nothing: no migration, no file created or
   * re-permissioned (SQLite: a read-only connection; PostgreSQL: read-only transactions). What the
   * demo's safety check uses on a database that may be a GMP record (server/demo-safety.ts).
   */
  readonly?: boolean;
}

/** Rows chained elsewhere, with their seq, prev_hash and hash (ChainStore.insertChained). */
export interface ChainedRows { batches?: BatchRow[]; entries?: EntryRow[]; signatures?: SignatureRow[]; audit?: AuditRow[] }

/** Accounts, their sessions and password history (21 CFR 11.300). */
export interface UserStore {
  findUserByUsername(username: string): Promise<UserRow | undefined>;
  findUserById(id: string): Promise<UserRow | undefined>;
  listUsers(limit: number, cursor?: string): Promise<Page<UserRow>>;
  /** Ids of the active users holding the admin role. */
  activeAdminIds(): Promise<string[]>;
  countUsers(): Promise<number>;
  insertUser(row: NewUser): Promise<void>;
  updateUser(id: string, patch: Partial<NewUser>): Promise<void>;
  addPasswordHistory(userId: string, passwordHash: string, changedAt: string): Promise<void>;
  recentPasswordHashes(userId: string, n: number): Promise<string[]>;
  insertSession(row: SessionRow): Promise<void>;
  findSession(tokenHash: string): Promise<SessionRow | undefined>;
  touchSession(tokenHash: string, at: string): Promise<void>;
  revokeSession(tokenHash: string, at: string): Promise<void>;
  /** Revokes every open session of a user, but the one whose token hash is `except`. */
  revokeSessionsOf(userId: string, at: string, except?: string): Promise<void>;
  /**
   * Counts one attempt under `key` (a route and a client address) in the window running at `now`, or
   * opens a window ending at `windowEndsAt` when none runs, and deletes every window that has ended
   * (attempt counters are not records). One statement per step, atomic whichever app server runs it.
   */
  countAttempt(key: string, now: string, windowEndsAt: string): Promise<AttemptWindow>;
}

/** An attempt counter's window: the attempts counted in it, and when it ends (ISO time). */
export interface AttemptWindow { hits: number; windowEndsAt: string }

/** Materials and equipment. */
export interface RegistryStore {
  insertMaterial(row: MaterialRow): Promise<void>;
  getMaterial(id: string): Promise<MaterialRow | undefined>;
  updateMaterialStatus(id: string, status: string): Promise<void>;
  listMaterials(type: string | undefined, limit: number, cursor?: string): Promise<Page<MaterialRow>>;
  insertEquipment(row: EquipmentRow): Promise<void>;
  getEquipment(id: string): Promise<EquipmentRow | undefined>;
  updateEquipmentCalibration(id: string, calibrationDueOn: string): Promise<void>;
  findEquipmentByAssetId(assetId: string): Promise<EquipmentRow | undefined>;
  listEquipment(type: string | undefined, limit: number, cursor?: string): Promise<Page<EquipmentRow>>;
}

/** Process definitions and the process versions under change control with their signatures. */
export interface ProcessStore {
  /** Stores a definition once; the first one under a hash stands. */
  saveDefinition(row: NewDefinition): Promise<void>;
  definitionHashes(processId: string, version: number): Promise<string[]>;
  getDefinition(hash: string): Promise<DefinitionRow | undefined>;
  insertProcessVersion(row: ProcessVersionRow): Promise<void>;
  /** Moves a version through its lifecycle; its content is locked by a trigger (migration 0007). */
  setProcessVersionStatus(id: string, status: string, updatedAt: string): Promise<void>;
  /** A draft's author replaces its content; the database refuses it once the version has left draft (migration 0008). */
  replaceProcessVersionContent(id: string, definition: string, hash: string, updatedAt: string): Promise<void>;
  processVersions(processId?: string): Promise<ProcessVersionRow[]>;
  processVersion(processId: string, version: number): Promise<ProcessVersionRow | undefined>;
  /** Only the status of a version (what every view of a batch shows), without its definition's text. */
  processVersionStatus(processId: string, version: number): Promise<string | undefined>;
  appendProcessVersionSignature(row: Omit<ProcessVersionSignatureRow, 'seq'>): Promise<void>;
  processVersionSignatures(versionId: string): Promise<ProcessVersionSignatureRow[]>;
  /** Batches of a process not yet at a final status, with the version each runs: the impact of a change. */
  runningBatchesOf(processId: string): Promise<RunningBatch[]>;
}

/** The batches projection (a cache rebuilt from entries), its read model, and the frozen record PDFs. */
export interface BatchStore {
  insertBatch(row: BatchRow): Promise<void>;
  /** Replaces the cached state of a batch; the projection is rebuilt from entries whenever needed. */
  saveBatchState(id: string, state: BatchState): Promise<void>;
  getBatch(id: string): Promise<BatchRow | undefined>;
  listBatches(status: string | undefined, limit: number, cursor?: string): Promise<Page<BatchRow>>;
  allBatchIds(): Promise<string[]>;
  /** Batches with at least one entry of this kind (e.g. every batch that has had a deviation). */
  batchIdsWithEntryKind(kind: string): Promise<string[]>;
  /** Replaces a batch's rows of the site-wide lists (in the write's transaction: derived rows, deleted and written again). */
  replaceBatchLists(batchId: string, lists: BatchLists): Promise<void>;
  /** The read model's fill: the projection state and list rows of several batches at once (a few statements, not four per batch). */
  saveReadModels(rows: { id: string; state: BatchState; lists: BatchLists }[]): Promise<void>;
  /** A batch's rows of the site-wide lists, deviations by sort key, pending work by position. */
  batchLists(batchId: string): Promise<BatchLists>;
  /** GET /deviations: a page in sort-key order; the cursor is the last sort key served. */
  listDeviationRows(f: { status?: string; severity?: string }, limit: number, cursor?: string): Promise<Page<DeviationListRow>>;
  /** GET /me/pending: a page of the caller's items in batch and position order (one row per item, whichever of their roles found it). */
  listPendingRows(caller: PendingCaller, limit: number, cursor?: string): Promise<Page<PendingWorkRow>>;
  /** A DIN in use by a batch that is neither terminated nor rejected. */
  findActiveBatchByDin(din: string): Promise<BatchRow | undefined>;
  countBatchNumbers(prefix: string): Promise<number>;
  /** The batch record PDF frozen at disposition, in a language (API.md "PDF bytes"). */
  getRecordPdf(batchId: string, lang: string): Promise<RecordPdfRow | undefined>;
  /** Stores a frozen PDF once; the first one stands (append-only, migration 0006). */
  saveRecordPdf(row: RecordPdfRow): Promise<void>;
}

/** The record: entries, signatures and audit rows, append-only and hash-chained, and their verification. */
export interface ChainStore {
  /** The last row of each chain hashed the old way (0 in a database created after migration 0003). */
  readonly legacyHeads: LegacyHeads;
  appendEntry(e: NewEntry): Promise<EntryRow>;
  appendSignature(s: NewSignature): Promise<SignatureRow>;
  appendAudit(a: NewAudit): Promise<AuditRow>;
  /** The number of entries of a batch: its version. */
  batchVersion(batchId: string): Promise<number>;
  entriesOfBatch(batchId: string): Promise<EntryRow[]>;
  getEntry(id: string): Promise<EntryRow | undefined>;
  /** The signatures of a batch's entries, in the order they were given. */
  signaturesOfBatch(batchId: string): Promise<SignatureRow[]>;
  signaturesOf(entryIds: string[]): Promise<SignatureRow[]>;
  /**
   * The entries and signatures of several batches in two statements, each batch's in the order
   * entriesOfBatch and signaturesOfBatch give them (the read model's fill reads a chunk at once).
   */
  recordsOfBatches(batchIds: string[]): Promise<Map<string, BatchRows>>;
  auditOfBatch(batchId: string): Promise<AuditRow[]>;
  listAudit(f: AuditFilter, limit: number, cursor?: string): Promise<Page<AuditRow>>;
  /** Every audit row matching the filters, in chain order, a page at a time (constant memory). */
  iterateAudit(f: AuditFilter): AsyncGenerator<AuditRow>;
  counts(): Promise<{ entries: number; signatures: number; audit: number }>;
  lastAudit(): Promise<AuditRow | undefined>;
  /** Whether the record's first entry is a training entry (undefined when there is none yet). */
  firstEntryTraining(): Promise<boolean | undefined>;
  /** How many batches and entries are not marked TRAINING: a GMP record the demo must never delete. */
  countNotTraining(): Promise<number>;
  /**
   * Rows already chained elsewhere, inserted exactly as given (seq, prev_hash and hash included), in
   * bulk: the benchmark seeder's copies of a batch recorded through the commands (bench/seed.ts).
   * Nothing is hashed here: the chains' verification is what vouches for these rows (one that does not
   * continue its chain fails it). The product's own writes append through appendEntry and the rest.
   */
  insertChained(rows: ChainedRows): Promise<void>;
  /** The last row of each chain. */
  heads(): Promise<Record<ChainTable, Head>>;
  /**
   * Signs the current chain heads into the checkpoints table (at intervals, exports, backups, shutdown):
   * under the write lock, after the last checkpoint whichever app server signed it (issue 15 item 3).
   */
  checkpoint(reason: Checkpoint['reason']): Promise<Checkpoint | undefined>;
  /** Every signed checkpoint, in order (n = 1, 2, …). */
  checkpoints(): Promise<Checkpoint[]>;
  /** The site's last signed checkpoint, and the one numbered `n` (the mark beside a server's key names it). */
  lastCheckpoint(): Promise<Checkpoint | undefined>;
  checkpointNumbered(n: number): Promise<Checkpoint | undefined>;
  /** What the checkpoints record of each key that signed any: how many, the first and the last, in order of the first. */
  checkpointsByKey(): Promise<KeyUse[]>;
  /**
   * Inserts checkpoints as they are (an imported file log, a moved record), inside the caller's
   * transaction: nothing is signed or relinked here; the verification vouches for them.
   */
  insertCheckpoints(rows: Checkpoint[]): Promise<void>;
  /**
   * 21 CFR 11.10(a), 211.188(b): the identity a batch row shows must be the one its chained
   * `batch-created` entry holds; a row edited in the database is named here by table, row and field.
   */
  identityMismatches(): Promise<RowMismatch[]>;
  /** Recomputes every chain and checks it against the signed checkpoints of its heads. */
  verifyChains(checkpoints?: Checkpoint[]): Promise<ChainReport>;
  /** The same, spread over every core where the database allows it. */
  verifyChainsInParallel(checkpoints?: Checkpoint[], opts?: ParallelOptions): Promise<ChainReport>;
  /**
   * Whether a batch's own rows (entries, their signatures, its audit rows) still match their hashes.
   * The entries and signatures a caller has just read may be passed in, so they are not read twice.
   */
  batchIntact(batchId: string, read?: { entries: EntryRow[]; signatures: SignatureRow[] }): Promise<boolean>;
}

/** Settings kept in the database (the mode, the training clock, the legacy heads...). */
export interface SettingStore {
  getSetting(key: string): Promise<string | undefined>;
  putSetting(key: string, value: string): Promise<void>;
}

export interface Store extends UserStore, RegistryStore, ProcessStore, BatchStore, ChainStore, SettingStore {
  readonly dialect: 'sqlite' | 'postgres';
  /** The database as messages name it: a file, or a PostgreSQL address without its password. */
  readonly location: string;
  /**
   * One write unit, all or nothing: nobody else writes, and nobody reads its rows before it commits.
   * Store calls made inside `fn` (however deep, across awaits) belong to it; a `transaction` inside it
   * just runs its function. A clock found gone back (503) is audited after the rollback; the chain
   * heads are signed after the commit when the interval is due.
   */
  transaction<T>(fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
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
export function stored<R extends object>(row: R): R {
  const out = { ...row } as Record<string, unknown>;
  for (const [k, v] of Object.entries(out)) if (typeof v === 'string') out[k] = storable(v);
  return out as R;
}

const cursorOf = (v: string | number) => Buffer.from(String(v)).toString('base64url');
export const decodeCursor = (c: string | undefined) => (c ? Buffer.from(c, 'base64url').toString() : undefined);

/** The cursor of a pending-work page: the last item served. */
export const pendingCursor = (r: PendingWorkRow) => `${r.batchId}|${r.position}`;
export function decodePendingCursor(c: string | undefined): { batchId: string; position: number } | undefined {
  const v = decodeCursor(c);
  const m = v && /^(.*)\|(\d{1,9})$/.exec(v);
  return m ? { batchId: m[1], position: Number(m[2]) } : undefined;
}

/**
 * The LIKE pattern that finds a role or a user id in a `,a,b,` set column. Roles come from the closed
 * list of schemas/ and user ids are UUIDs the server made, so neither holds a LIKE wildcard (`%`, `_`).
 */
export function memberPattern(v: string): string {
  if (!/^[A-Za-z0-9.-]+$/.test(v)) throw new Error(`not a role or user id: ${JSON.stringify(v)}`);
  return `%,${v},%`;
}

/**
 * The first `limit + 1` distinct items of the pages read for each of a caller's roles (each in batch and
 * position order, each up to `limit + 1` rows): an item any of their roles may do is among them.
 */
export function mergePendingPages(pages: PendingWorkRow[][], limit: number): Page<PendingWorkRow> {
  const seen = new Set<string>();
  const rows: PendingWorkRow[] = [];
  for (const r of pages.flat().sort((a, b) => (a.batchId < b.batchId ? -1 : a.batchId > b.batchId ? 1 : a.position - b.position))) {
    if (seen.has(pendingCursor(r))) continue; // the same item, found through another of the caller's roles
    seen.add(pendingCursor(r));
    rows.push(r);
  }
  return page(rows.slice(0, limit + 1), limit, pendingCursor);
}

export function page<T>(rows: T[], limit: number, key: (r: T) => string | number): Page<T> {
  if (rows.length <= limit) return { items: rows };
  const items = rows.slice(0, limit);
  return { items, nextCursor: cursorOf(key(items[items.length - 1])) };
}

