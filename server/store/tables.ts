// The database tables (drizzle, SQLite dialect). camelCase in code, snake_case in the database.
// `entries`, `signatures` and `audit_log` are append-only: triggers in the migrations refuse UPDATE and
// DELETE on them (21 CFR 11.10(e), Annex 11 §9), and every row carries the hash of its chain.
import { sqliteTable, text, integer, uniqueIndex, index, blob, primaryKey } from 'drizzle-orm/sqlite-core';

export const users = sqliteTable('users', {
  id: text('id').primaryKey(),
  username: text('username').notNull(),
  // 21 CFR 11.100: usernames are unique case-insensitively, deactivated accounts included, forever.
  usernameKey: text('username_key').notNull(),
  fullName: text('full_name').notNull(),
  roles: text('roles', { mode: 'json' }).$type<string[]>().notNull(),
  passwordHash: text('password_hash').notNull(),
  active: integer('active', { mode: 'boolean' }).notNull(),
  mustChangePassword: integer('must_change_password', { mode: 'boolean' }).notNull(),
  failedAttempts: integer('failed_attempts').notNull().default(0),
  locked: integer('locked', { mode: 'boolean' }).notNull().default(false),
  passwordChangedAt: text('password_changed_at').notNull(),
  createdAt: text('created_at').notNull(),
  lastLoginAt: text('last_login_at'),
}, (t) => [uniqueIndex('users_username_key').on(t.usernameKey)]);

/** 21 CFR 11.300: the last password hashes of each user, so that none of the last five is reused. */
export const passwordHistory = sqliteTable('password_history', {
  id: integer('id').primaryKey(),
  userId: text('user_id').notNull().references(() => users.id),
  passwordHash: text('password_hash').notNull(),
  changedAt: text('changed_at').notNull(),
}, (t) => [index('password_history_user').on(t.userId, t.id)]);

export const sessions = sqliteTable('sessions', {
  tokenHash: text('token_hash').primaryKey(),
  userId: text('user_id').notNull().references(() => users.id),
  createdAt: text('created_at').notNull(),
  lastSeenAt: text('last_seen_at').notNull(),
  revokedAt: text('revoked_at'),
});

export const materials = sqliteTable('materials', {
  id: text('id').primaryKey(),
  type: text('type').notNull(),
  name: text('name').notNull(),
  lotNumber: text('lot_number').notNull(),
  expiresOn: text('expires_on').notNull(),
  status: text('status').notNull(),
  createdAt: text('created_at').notNull(),
  createdBy: text('created_by').notNull(),
}, (t) => [index('materials_type').on(t.type)]);

export const equipment = sqliteTable('equipment', {
  id: text('id').primaryKey(),
  assetId: text('asset_id').notNull(),
  type: text('type').notNull(),
  name: text('name').notNull(),
  calibrationDueOn: text('calibration_due_on').notNull(),
  createdAt: text('created_at').notNull(),
  createdBy: text('created_by').notNull(),
}, (t) => [uniqueIndex('equipment_asset_id').on(t.assetId)]);

/** Every process definition a batch was ever started with, by content hash: a batch's master record never changes. */
export const processDefinitions = sqliteTable('process_definitions', {
  hash: text('hash').primaryKey(),
  processId: text('process_id').notNull(),
  version: integer('version').notNull(),
  definition: text('definition').notNull(),
  loadedAt: text('loaded_at').notNull(),
});

/** Projection of each batch's current state: a cache rebuilt from `entries`, never the truth. */
export const batches = sqliteTable('batches', {
  id: text('id').primaryKey(),
  batchNumber: text('batch_number').notNull(),
  processId: text('process_id').notNull(),
  processVersion: integer('process_version').notNull(),
  processHash: text('process_hash').notNull(),
  status: text('status').notNull(),
  version: integer('version').notNull(),
  din: text('din').notNull(),
  dinCheck: text('din_check').notNull(),
  chainOfIdentityId: text('chain_of_identity_id').notNull(),
  /** The recipient; NULL for an allogeneic batch that names none (migration 0004). */
  patient: text('patient', { mode: 'json' }).$type<{ id: string; weightKg: number } | null>(),
  /** The donor of an allogeneic batch (migration 0004). */
  donor: text('donor', { mode: 'json' }).$type<{ id: string; eligibility: string } | null>(),
  training: integer('training', { mode: 'boolean' }).notNull(),
  openDeviations: integer('open_deviations').notNull(),
  createdAt: text('created_at').notNull(),
  updatedAt: text('updated_at').notNull(),
  /** Read model: the replayed state the lists show (server/record/record-state.ts), rewritten with every write. */
  recordState: text('record_state'),
}, (t) => [uniqueIndex('batches_batch_number').on(t.batchNumber), index('batches_din').on(t.din), index('batches_status').on(t.status, t.id)]);

export const entries = sqliteTable('entries', {
  seq: integer('seq').primaryKey(),
  id: text('id').notNull(),
  batchId: text('batch_id').notNull(),
  batchSeq: integer('batch_seq').notNull(),
  kind: text('kind').notNull(),
  stepId: text('step_id'),
  payload: text('payload').notNull(),
  recordedAt: text('recorded_at').notNull(),
  actorId: text('actor_id').notNull(),
  training: integer('training', { mode: 'boolean' }).notNull(),
  prevHash: text('prev_hash').notNull(),
  hash: text('hash').notNull(),
}, (t) => [uniqueIndex('entries_id').on(t.id), uniqueIndex('entries_batch_seq').on(t.batchId, t.batchSeq)]);

export const signatures = sqliteTable('signatures', {
  seq: integer('seq').primaryKey(),
  id: text('id').notNull(),
  entryId: text('entry_id').notNull(),
  /** 21 CFR 11.70: the hash of the exact entry signed; a signature cannot be moved to another record. */
  entryHash: text('entry_hash').notNull(),
  userId: text('user_id').notNull(),
  username: text('username').notNull(),
  printedName: text('printed_name').notNull(),
  meaning: text('meaning').notNull(),
  signedAt: text('signed_at').notNull(),
  prevHash: text('prev_hash').notNull(),
  hash: text('hash').notNull(),
  /** The seq of the entry signed (migration 0003; NULL in rows written before it). */
  entrySeq: integer('entry_seq'),
}, (t) => [uniqueIndex('signatures_id').on(t.id), index('signatures_entry').on(t.entryId)]);

export const auditLog = sqliteTable('audit_log', {
  seq: integer('seq').primaryKey(),
  at: text('at').notNull(),
  userId: text('user_id'),
  action: text('action').notNull(),
  entity: text('entity').notNull(),
  entityId: text('entity_id'),
  batchId: text('batch_id'),
  before: text('before'),
  after: text('after'),
  reason: text('reason'),
  prevHash: text('prev_hash').notNull(),
  hash: text('hash').notNull(),
}, (t) => [index('audit_batch').on(t.batchId, t.seq), index('audit_at').on(t.at), index('audit_action').on(t.action, t.seq)]);

/**
 * The signed checkpoints of the chain heads (issue 15 item 3), one chain for the whole site whichever
 * app server signed: `n` 1, 2, …; `heads` the canonical JSON of the seq and hash of each chain's last
 * row; `key_id` the fingerprint of the signing key, which itself stays outside the database
 * (checkpoints.ts); `prev` the SHA-256 of the previous checkpoint; `signature` Ed25519 over the rest.
 * Append-only (triggers in migration 0012): 21 CFR 11.10(a), 11.10(e).
 */
export const checkpoints = sqliteTable('checkpoints', {
  n: integer('n').primaryKey(),
  at: text('at').notNull(),
  reason: text('reason').notNull(),
  heads: text('heads').notNull(),
  keyId: text('key_id').notNull(),
  prev: text('prev').notNull(),
  signature: text('signature').notNull(),
});

/** Settings that must survive a restart (the training clock's offset). Changes are audited. */
export const settings = sqliteTable('settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});

/**
 * Per-address attempt counters of the per-minute limits (login, POST /me/password; issue 10): one row
 * per route and address while its window runs. In the database so that every app server counts the
 * same attempts (issue 15). Not a record: no chain, no append-only trigger; an expired window is deleted.
 */
export const attemptWindows = sqliteTable('attempt_windows', {
  key: text('key').primaryKey(),
  windowEndsAt: text('window_ends_at').notNull(),
  hits: integer('hits').notNull(),
});

/**
 * The executed batch record as rendered at disposition (API.md "PDF bytes"): served byte-identical
 * afterwards. Append-only like the record (triggers in migration 0006): a frozen PDF is never replaced.
 */
export const recordPdfs = sqliteTable('record_pdfs', {
  batchId: text('batch_id').notNull().references(() => batches.id),
  lang: text('lang').notNull(),
  sha256: text('sha256').notNull(),
  bytes: blob('bytes', { mode: 'buffer' }).notNull(),
  frozenAt: text('frozen_at').notNull(),
}, (t) => [primaryKey({ columns: [t.batchId, t.lang] })]);

/**
 * Master batch records under change control (21 CFR 211.186, Annex 11 §10): every version of every
 * process definition and where it stands in its lifecycle (draft → in_review → approved → effective →
 * superseded, or withdrawn). The content of a version never changes once it has left draft (migrations
 * 0007 and 0008 refuse it; a draft's author may replace it, audited); its status moves only through
 * signed, audited transitions.
 */
export const processVersions = sqliteTable('process_versions', {
  id: text('id').primaryKey(),
  processId: text('process_id').notNull(),
  version: integer('version').notNull(),
  hash: text('hash').notNull(),
  definition: text('definition').notNull(),
  status: text('status').notNull(),
  /** `builtin`, `site-folder` (imported at start) or `api` (POST /processes). */
  source: text('source').notNull(),
  createdAt: text('created_at').notNull(),
  createdBy: text('created_by'),
  updatedAt: text('updated_at').notNull(),
}, (t) => [uniqueIndex('process_versions_process_version').on(t.processId, t.version)]);

/** The signed transitions of a version (authored, reviewed, approved, effective, withdrawn); append-only. */
export const processVersionSignatures = sqliteTable('process_version_signatures', {
  seq: integer('seq').primaryKey(),
  versionId: text('version_id').notNull(),
  action: text('action').notNull(),
  meaning: text('meaning').notNull(),
  userId: text('user_id').notNull(),
  username: text('username').notNull(),
  printedName: text('printed_name').notNull(),
  reason: text('reason').notNull(),
  signedAt: text('signed_at').notNull(),
}, (t) => [index('process_version_signatures_version').on(t.versionId, t.seq)]);

/**
 * Read model of GET /deviations (migration 0009): one row per deviation, rewritten for its batch in the
 * transaction of every write to it (commands/append.ts) and rebuilt-and-compared from the entries by
 * services/projection.ts. Derived data, not record: no hash chain, no append-only trigger; the truth is
 * the batch's entries (docs/design-decisions.md "Read-model tables").
 */
export const deviationList = sqliteTable('deviation_list', {
  deviationId: text('deviation_id').primaryKey(),
  batchId: text('batch_id').notNull(),
  /** The list's order and cursor: `openedAt|batchId|index of the deviation in its batch` (6 digits). */
  sortKey: text('sort_key').notNull(),
  status: text('status').notNull(),
  severity: text('severity').notNull(),
  /** The item as the list serves it (JSON). */
  item: text('item').notNull(),
}, (t) => [
  uniqueIndex('deviation_list_sort').on(t.sortKey), index('deviation_list_status').on(t.status, t.sortKey),
  index('deviation_list_severity').on(t.severity, t.sortKey), index('deviation_list_batch').on(t.batchId),
]);

/**
 * Read model of GET /me/pending (migrations 0009, 0011): what can be done on each batch, whoever does it,
 * one row per item and role that may do it, so that a caller's page is read from the index of each of
 * their roles; the caller's id and the time of the read decide the rest (the people an item excludes,
 * its window and whether it is due). Derived like `deviation_list`.
 */
export const pendingWork = sqliteTable('pending_work', {
  batchId: text('batch_id').notNull(),
  /** The item's place among its batch's items. */
  position: integer('position').notNull(),
  /** A role that may do it. */
  role: text('role').notNull(),
  action: text('action').notNull(),
  /** When set, the caller must also hold one of these roles (`,qa,qc,`): a released, rejected or terminated batch. */
  gate: text('gate'),
  /** Users who may not do it (`,id,id,`): the performer of an entry to verify, whoever did a step of a batch to dispose of. */
  excluded: text('excluded').notNull(),
  /** The item without its window's choice and due state, with both languages' titles (JSON). */
  item: text('item').notNull(),
}, (t) => [primaryKey({ columns: [t.batchId, t.position, t.role] }), index('pending_work_role').on(t.role, t.batchId, t.position)]);
