// ─────────────────────────────────────────────────────────────────────────────────────────────
// STORED JSON. Every action the audit trail records, with the entity it is about and the shape of
// its `before` and `after` (21 CFR 11.10(e), Annex 11 §9: who did what, when, and what changed).
// Rows are kept for the life of the record and are never rewritten: a change here needs a
// migration plan (a new action or an optional field), never a change of meaning of what is stored.
// writeAudit() takes only the actions listed here, each with its own before/after.
// ─────────────────────────────────────────────────────────────────────────────────────────────
import type { EntryPayload } from './entries.js';

/** `change`: something in the record changed; `event`: a session or an export; `attempt`: a refused attempt, nothing changed. */
export type AuditKind = 'change' | 'event' | 'attempt';

/** One action: its entity and kind, with the types of its before/after carried along (never stored). */
export interface AuditActionSpec<Entity extends string, Before, After> {
  entity: Entity;
  kind: AuditKind;
  /** Types only. */
  readonly shape?: { before: Before; after: After };
}

const action = <Before = undefined, After = undefined>() =>
  <Entity extends string>(entity: Entity, kind: AuditKind): AuditActionSpec<Entity, Before, After> => ({ entity, kind });

type Status = { status: string };
type RecordDocument = { document: 'export' | 'record.pdf' | 'coa.pdf' | 'review.pdf'; lang?: string; deviationId?: string; format: string; sha256: string; bytes: number };
type Signed = { signedBy: string; session: string };
/** A process version's transition signature as stored in process_version_signatures (reason: the audit row's own). */
export type TransitionSignature = { seq: number; versionId: string; action: string; meaning: string; userId: string; username: string; printedName: string; signedAt: string };
type Values = Record<string, unknown>;
type UserRoles = { active?: boolean; roles?: string[] };
type Disposition = {
  decision: 'release' | 'reject' | 'exceptional-release'; justification?: string; physicianRequest?: string;
  conditional: boolean; pendingTests: string[]; failedTests: string[]; reviewEntryId?: string;
};
/** A backup or restore is run by a named person (the row's user) from an OS account. */
type Operator = { username: string; printedName?: string; by: string };
/** Break-glass recovery from the console: the OS user who ran it. */
type ConsoleActor = { by: string; via: 'cli' };

export const AUDIT_ACTIONS = {
  // Sessions and accounts (21 CFR 11.300)
  login: action()('session', 'event'),
  logout: action()('session', 'event'),
  'session.expired': action()('session', 'event'),
  // Without `after` when the account is locked (the reason says so).
  'login.failed': action<undefined, { username: string } | undefined>()('user', 'attempt'),
  'signature.failed': action<undefined, { username: string } | undefined>()('user', 'attempt'),
  'signature.refused': action<undefined, { entryId: string } | { entryIds: string[] } | undefined>()('user' as 'user' | 'batch', 'attempt'),
  'account.locked': action<{ locked: boolean }, { locked: boolean }>()('user', 'change'),
  // From the server's console (`cellbatch unlock` / `reset-password`, issue 10): no user id; `by` is the OS user.
  'account.unlocked': action<{ locked: boolean }, { locked: boolean } & Partial<ConsoleActor>>()('user', 'change'),
  'user.created': action<undefined, { username: string; fullName: string; roles: string[]; mustChangePassword: boolean }>()('user', 'change'),
  'user.updated': action<UserRoles, UserRoles>()('user', 'change'),
  'password.changed': action()('user', 'change'),
  'password.reset': action<undefined, { mustChangePassword: true } & Partial<ConsoleActor>>()('user', 'change'),

  // Batches and their entries
  'batch.created': action<undefined, EntryPayload<'batch-created'> & { entryId: string }>()('batch', 'change'),
  'batch.status-changed': action<Status, Status>()('batch', 'change'),
  'batch.terminated': action<Status, Status>()('batch', 'change'),
  'step.recorded': action<undefined, { stepId: string; values: Values; results: Record<string, string>; performedAt?: string; lateReason?: string } & Signed>()('entry', 'change'),
  'step.verified': action<undefined, { verificationEntryId: string; stepId: string } & Signed>()('entry', 'change'),
  'entry.corrected': action<Values, Values & Signed>()('entry', 'change'),
  'step.refused': action<undefined, { stepId: string; values: Values; performedAt?: string }>()('batch', 'attempt'),
  'identity.mismatch': action<undefined, { stepId: string; values: Values }>()('batch', 'attempt'),

  // Deviations, review and disposition (QA)
  // By hand (openedBy: the session's user), or by the step whose values or timing it records.
  'deviation.opened': action<undefined, EntryPayload<'deviation'> & { openedBy?: string }>()('deviation', 'change'),
  'deviation.investigated': action<{ status: string }, { status: 'investigating'; entryId: string; deviationId: string; rootCause: string; productImpact: string; otherBatchesImpact: string; capaReference?: string } & Signed>()('deviation', 'change'),
  'deviation.reclassified': action<{ severity: string }, { severity: string; entryId: string } & Signed>()('deviation', 'change'),
  'deviation.closed': action<{ status: string }, { status: 'closed'; investigation: string; conclusion: string; entryId: string } & Signed>()('deviation', 'change'),
  'review.signed': action<undefined, { entryId: string; covered: number; comment?: string } & Signed>()('batch', 'change'),
  'batch.disposed': action<undefined, Disposition & { entryId: string } & Signed>()('batch', 'change'),

  // Master batch records: process versions and their signed lifecycle
  'process.version-created': action<undefined, { processId: string; version: number; hash: string; source: string; status: string }>()('process', 'change'),
  // A draft's content replaced by its author: the content hashes before and after (the definitions are the version's).
  'process.version-edited': action<{ hash: string }, { hash: string; processId: string; version: number }>()('process', 'change'),
  // `signature` (from issue 16 on): the process_version_signatures row as written, so that verification
  // holds that table to the chain; rows written before carry only status, action, meaning and signer.
  'process.version-transition': action<{ status: string }, { status: string; action: string; meaning: string; signature?: TransitionSignature } & Signed>()('process', 'change'),
  'process.version-superseded': action<{ status: string }, { status: 'superseded'; by: number }>()('process', 'change'),

  // Materials and equipment
  'material.registered': action<undefined, { type: string; name: string; lotNumber: string; expiresOn: string; status: string }>()('material', 'change'),
  'material.status-changed': action<Status, Status>()('material', 'change'),
  'equipment.registered': action<undefined, { assetId: string; type: string; name: string; calibrationDueOn: string }>()('equipment', 'change'),
  'equipment.calibration-changed': action<{ calibrationDueOn: string }, { calibrationDueOn: string }>()('equipment', 'change'),

  // The record itself
  'audit.exported': action<undefined, { format: string; filters: unknown }>()('audit', 'event'),
  // The batch record exported (GET /export, /record.pdf, /coa.pdf, the evidence packet /review.pdf) or frozen at disposition, with the SHA-256 of the document.
  'record.exported': action<undefined, RecordDocument>()('batch', 'event'),
  'record.frozen': action<undefined, RecordDocument>()('batch', 'event'),
  // A report of the site over a period exported (GET /reports/periodic-review.pdf), with the SHA-256 of the document.
  'report.exported': action<undefined, { document: 'periodic-review.pdf'; period: { from: string; to: string }; lang: string; format: string; sha256: string; bytes: number }>()('report', 'event'),
  'backup.created': action<undefined, { target: string; checked: number; checkpoints: number; valid: boolean } & Operator>()('database', 'change'),
  'backup.restored': action<undefined, { from: string; checked: number; checkpoints: number; previousMark: unknown } & Operator>()('database', 'change'),
  'backup.refused': action<undefined, Record<string, unknown> & { error: string } & Operator>()('database', 'attempt'),
  'backup.restore-refused': action<undefined, Record<string, unknown> & { error: string } & Operator>()('database', 'attempt'),
  // `npm run demo` marks its own database (the next run may delete only a database so marked).
  'demo.created': action<undefined, { training: true }>()('database', 'change'),
  'training.clock-moved': action<{ now: string }, { now: string }>()('clock', 'change'),
  // An alert for QA and the administrator: the clock read earlier than a chain's last row and a write
  // was refused (server/store/store.ts). Dated at the audit chain's last time; the reading is in after.
  'clock.went-back': action<{ lastRecordedAt: string; chain: string }, { clockReads: string }>()('clock', 'event'),
  // The checkpoint log a server kept in a file before issue 15 item 3, copied unchanged into the
  // checkpoints table once (services/checkpoint-import.ts); the file itself is kept as evidence.
  'checkpoints.imported': action<{ file: string; sha256: string; count: number }, { count: number; lastN: number }>()('database', 'change'),
  // The database's mode (training or GMP), bound when it is created and fixed for its life.
  'database.mode-bound': action<undefined, { mode: 'training' | 'gmp' }>()('database', 'change'),

  // Any refused request a command did not audit itself (server/app.ts): its entity is the route's.
  'attempt.refused': action<undefined, { route: string; status: number; code: string; detail: string; errors?: { field: string; message: string }[] }>()('api' as string, 'attempt'),
} as const;

export type AuditAction = keyof typeof AUDIT_ACTIONS;
type Spec<A extends AuditAction> = (typeof AUDIT_ACTIONS)[A];
export type AuditEntityOf<A extends AuditAction> = Spec<A>['entity'];
export type AuditBefore<A extends AuditAction> = NonNullable<Spec<A>['shape']>['before'];
export type AuditAfter<A extends AuditAction> = NonNullable<Spec<A>['shape']>['after'];

/** The actions that record a refused attempt rather than a change. */
export const ATTEMPT_ACTIONS = (Object.keys(AUDIT_ACTIONS) as AuditAction[]).filter((a) => AUDIT_ACTIONS[a].kind === 'attempt');

// A key is optional exactly when its type allows undefined (an action without a before has none).
type Slot<K extends string, T> = undefined extends T ? { [P in K]?: T } : { [P in K]: T };

/** One audit event of action A: its before/after as the registry types them; the entity defaults to the registry's. */
export type TypedAuditEvent<A extends AuditAction = AuditAction> = A extends AuditAction
  ? { action: A; entity?: AuditEntityOf<A> } & Slot<'before', AuditBefore<A>> & Slot<'after', AuditAfter<A>>
  : never;
