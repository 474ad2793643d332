// The database tables in PostgreSQL (drizzle pg-core): the same tables, columns, names and indexes as
// server/store/tables.ts (SQLite), so that a row reads back as the same JavaScript values whichever
// database holds it and hashes to the same bytes (chain.ts). test/server/store/pg-schema.test.ts
// proves the two schemas define the same tables and columns.
//
// - Times stay TEXT (ISO strings as the application wrote them) and payloads stay TEXT: a timestamptz or
//   a jsonb would give back another rendering of the same value, and the hash covers the rendering.
// - Integers are `integer` (int4: node-postgres gives them back as numbers, where int8 would be strings).
// - Booleans are `boolean`: read back as true/false exactly as drizzle's SQLite boolean mode reads 0/1;
//   the hashed cell of `entries.training` is 1 or 0 either way (store.ts, entryCells).
// - The JSON columns SQLite keeps as text in `mode: 'json'` are text here too, through `jsonText`.
// The append-only triggers and the grants of the application role are in the migrations (0001).
import { customType, pgTable, integer, boolean, uniqueIndex, index, primaryKey, serial } from 'drizzle-orm/pg-core';

/**
 * Text compared byte by byte (COLLATE "C"), as SQLite compares it: ISO times, ids and cursors sort and
 * compare the same in both databases, whatever locale the cluster was created with (a linguistic
 * collation ignores the '-' and ':' of an ISO time at first level).
 */
const text = customType<{ data: string; driverData: string }>({ dataType: () => 'text COLLATE "C"' });

/** JSON kept as text, parsed on read: SQLite's `text(..., { mode: 'json' })`. */
const jsonText = <T>(name: string) => customType<{ data: T; driverData: string }>({
  dataType: () => 'text COLLATE "C"',
  toDriver: (value) => JSON.stringify(value),
  fromDriver: (value) => JSON.parse(value) as T,
})(name);

const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

export const users = pgTable('users', {
  id: text('id').primaryKey(),
  username: text('username').notNull(),
  usernameKey: text('username_key').notNull(),
  fullName: text('full_name').notNull(),
  roles: jsonText<string[]>('roles').notNull(),
  passwordHash: text('password_hash').notNull(),
  active: boolean('active').notNull(),
  mustChangePassword: boolean('must_change_password').notNull(),
  failedAttempts: integer('failed_attempts').notNull().default(0),
  locked: boolean('locked').notNull().default(false),
  passwordChangedAt: text('password_changed_at').notNull(),
  createdAt: text('created_at').notNull(),
  lastLoginAt: text('last_login_at'),
}, (t) => [uniqueIndex('users_username_key').on(t.usernameKey)]);

export const passwordHistory = pgTable('password_history', {
  id: serial('id').primaryKey(),
  userId: text('user_id').notNull().references(() => users.id),
  passwordHash: text('password_hash').notNull(),
  changedAt: text('changed_at').notNull(),
}, (t) => [index('password_history_user').on(t.userId, t.id)]);

export const sessions = pgTable('sessions', {
  tokenHash: text('token_hash').primaryKey(),
  userId: text('user_id').notNull().references(() => users.id),
  createdAt: text('created_at').notNull(),
  lastSeenAt: text('last_seen_at').notNull(),
  revokedAt: text('revoked_at'),
});

export const materials = pgTable('materials', {
  id: text('id').primaryKey(),
  type: text('type').notNull(),
  name: text('name').notNull(),
  lotNumber: text('lot_number').notNull(),
  expiresOn: text('expires_on').notNull(),
  status: text('status').notNull(),
  createdAt: text('created_at').notNull(),
  createdBy: text('created_by').notNull(),
}, (t) => [index('materials_type').on(t.type)]);

export const equipment = pgTable('equipment', {
  id: text('id').primaryKey(),
  assetId: text('asset_id').notNull(),
  type: text('type').notNull(),
  name: text('name').notNull(),
  calibrationDueOn: text('calibration_due_on').notNull(),
  createdAt: text('created_at').notNull(),
  createdBy: text('created_by').notNull(),
}, (t) => [uniqueIndex('equipment_asset_id').on(t.assetId)]);

export const processDefinitions = pgTable('process_definitions', {
  hash: text('hash').primaryKey(),
  processId: text('process_id').notNull(),
  version: integer('version').notNull(),
  definition: text('definition').notNull(),
  loadedAt: text('loaded_at').notNull(),
});

export const batches = pgTable('batches', {
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
  patient: jsonText<{ id: string; weightKg: number } | null>('patient'),
  donor: jsonText<{ id: string; eligibility: string } | null>('donor'),
  training: boolean('training').notNull(),
  openDeviations: integer('open_deviations').notNull(),
  createdAt: text('created_at').notNull(),
  updatedAt: text('updated_at').notNull(),
  recordState: text('record_state'),
}, (t) => [uniqueIndex('batches_batch_number').on(t.batchNumber), index('batches_din').on(t.din), index('batches_status').on(t.status, t.id)]);

export const entries = pgTable('entries', {
  seq: integer('seq').primaryKey(),
  id: text('id').notNull(),
  batchId: text('batch_id').notNull(),
  batchSeq: integer('batch_seq').notNull(),
  kind: text('kind').notNull(),
  stepId: text('step_id'),
  payload: text('payload').notNull(),
  recordedAt: text('recorded_at').notNull(),
  actorId: text('actor_id').notNull(),
  training: boolean('training').notNull(),
  prevHash: text('prev_hash').notNull(),
  hash: text('hash').notNull(),
}, (t) => [uniqueIndex('entries_id').on(t.id), uniqueIndex('entries_batch_seq').on(t.batchId, t.batchSeq)]);

export const signatures = pgTable('signatures', {
  seq: integer('seq').primaryKey(),
  id: text('id').notNull(),
  entryId: text('entry_id').notNull(),
  entryHash: text('entry_hash').notNull(),
  userId: text('user_id').notNull(),
  username: text('username').notNull(),
  printedName: text('printed_name').notNull(),
  meaning: text('meaning').notNull(),
  signedAt: text('signed_at').notNull(),
  prevHash: text('prev_hash').notNull(),
  hash: text('hash').notNull(),
  entrySeq: integer('entry_seq'),
}, (t) => [uniqueIndex('signatures_id').on(t.id), index('signatures_entry').on(t.entryId)]);

export const auditLog = pgTable('audit_log', {
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

/** SQLite's checkpoints: the signed chain heads, one chain for the site whichever app server signed (append-only, 0005). */
export const checkpoints = pgTable('checkpoints', {
  n: integer('n').primaryKey(),
  at: text('at').notNull(),
  reason: text('reason').notNull(),
  heads: text('heads').notNull(),
  keyId: text('key_id').notNull(),
  prev: text('prev').notNull(),
  signature: text('signature').notNull(),
});

export const settings = pgTable('settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});

/** SQLite's attempt_windows: per-address counters of the per-minute limits, shared by every app server. */
export const attemptWindows = pgTable('attempt_windows', {
  key: text('key').primaryKey(),
  windowEndsAt: text('window_ends_at').notNull(),
  hits: integer('hits').notNull(),
});

export const recordPdfs = pgTable('record_pdfs', {
  batchId: text('batch_id').notNull().references(() => batches.id),
  lang: text('lang').notNull(),
  sha256: text('sha256').notNull(),
  bytes: bytea('bytes').notNull(),
  frozenAt: text('frozen_at').notNull(),
}, (t) => [primaryKey({ columns: [t.batchId, t.lang] })]);

export const processVersions = pgTable('process_versions', {
  id: text('id').primaryKey(),
  processId: text('process_id').notNull(),
  version: integer('version').notNull(),
  hash: text('hash').notNull(),
  definition: text('definition').notNull(),
  status: text('status').notNull(),
  source: text('source').notNull(),
  createdAt: text('created_at').notNull(),
  createdBy: text('created_by'),
  updatedAt: text('updated_at').notNull(),
}, (t) => [uniqueIndex('process_versions_process_version').on(t.processId, t.version)]);

export const processVersionSignatures = pgTable('process_version_signatures', {
  seq: serial('seq').primaryKey(),
  versionId: text('version_id').notNull(),
  action: text('action').notNull(),
  meaning: text('meaning').notNull(),
  userId: text('user_id').notNull(),
  username: text('username').notNull(),
  printedName: text('printed_name').notNull(),
  reason: text('reason').notNull(),
  signedAt: text('signed_at').notNull(),
}, (t) => [index('process_version_signatures_version').on(t.versionId, t.seq)]);

export const deviationList = pgTable('deviation_list', {
  deviationId: text('deviation_id').primaryKey(),
  batchId: text('batch_id').notNull(),
  sortKey: text('sort_key').notNull(),
  status: text('status').notNull(),
  severity: text('severity').notNull(),
  item: text('item').notNull(),
}, (t) => [
  uniqueIndex('deviation_list_sort').on(t.sortKey), index('deviation_list_status').on(t.status, t.sortKey),
  index('deviation_list_severity').on(t.severity, t.sortKey), index('deviation_list_batch').on(t.batchId),
]);

export const pendingWork = pgTable('pending_work', {
  batchId: text('batch_id').notNull(),
  position: integer('position').notNull(),
  role: text('role').notNull(),
  action: text('action').notNull(),
  gate: text('gate'),
  excluded: text('excluded').notNull(),
  item: text('item').notNull(),
}, (t) => [primaryKey({ columns: [t.batchId, t.position, t.role] }), index('pending_work_role').on(t.role, t.batchId, t.position)]);
