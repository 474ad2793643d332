// Replies of the HTTP API: the zod schemas that serialize every response body (server/plugins/
// replies.ts) and document it in GET /openapi.json — the schema that shapes a reply is the one that
// describes it. Named schemas carry `.meta({ id })`: they become components.schemas with that stable
// name (a schema also used in a request is published a second time with an `Input` suffix).
//
// Objects are not strict: a field the view has and the schema lacks is dropped from the reply (and
// fails the tests, which build the app with strict replies); a client must ignore fields it does not
// know, so that adding one is not a breaking change.
import { z } from 'zod';
import { ENTRY_KINDS, EntryPayloads, UsedSnapshot } from './entries.js';
import { BatchRecordExportSchema, EXPORT_FORMAT } from './export.js';
import { ExprSchema, FIELD_KINDS, ProcessDefinitionSchema, RoleSchema, SignatureRuleSchema, SpecSchema, StepSchema } from '../workflows/definition.js';

const Time = z.string().describe('ISO-8601 UTC time');
const Day = z.string().describe('A calendar day YYYY-MM-DD (the last valid day, in the site\'s time zone)');

// ─── problems (every error) ──────────────────────────────────────────────────────────────────

export const FieldProblemSchema = z.object({
  field: z.string().describe('Dotted path of the offending input (`values.viability`, `patient.weightKg`, `query.limit`)'),
  message: z.string(),
}).meta({ id: 'FieldProblem' });

export const ProblemSchema = z.object({
  type: z.string().describe('https://cellbatch.org/problems/<code>: the machine-readable reason (e.g. `role-not-allowed`, `stale-version`)'),
  title: z.string(),
  status: z.number().int(),
  detail: z.string().describe('What was refused and why, in words'),
  errors: z.array(FieldProblemSchema).optional().describe('Present on every 400: which inputs were wrong'),
}).meta({ id: 'Problem', description: 'RFC 9457 problem details; a refusal changes no record' });

const PROBLEM_TEXT: Record<number, string> = {
  400: 'Malformed or invalid input (`errors` names each field)',
  401: 'Not authenticated, or the signature credentials are wrong',
  403: 'Role not allowed, separation of duties, or a password change is required',
  404: 'Unknown id',
  405: 'Method not allowed on this path (`Allow` lists the methods it serves)',
  409: "Not allowed in the batch's current state, or a stale `expectedVersion`",
  412: 'The `If-Match` names content that has changed since it was read (reload it)',
  413: 'Request body too large',
  415: 'Unsupported media type (bodies are JSON)',
  422: 'Refused by a business rule (expired lot, identity mismatch, equipment out of calibration, …)',
  423: 'Account locked',
  428: 'The change must name the content it replaces (`If-Match` with the ETag read)',
  429: 'Too many requests, or the server is busy checking passwords (`Retry-After` says when to try again)',
  500: 'Internal error (logged; the detail never leaks internals)',
};

export type ProblemStatus = keyof typeof PROBLEM_TEXT & number;

/**
 * The error replies a route can give, as application/problem+json: spread into `response`.
 * `errors(400, 401, 404)` → `{ 400: {...}, 401: {...}, 404: {...} }`.
 */
export function errors<S extends ProblemStatus>(...statuses: S[]) {
  return Object.fromEntries(statuses.map((s) => [s, {
    description: PROBLEM_TEXT[s],
    content: { 'application/problem+json': { schema: ProblemSchema } },
  }])) as Record<S, { description: string; content: { 'application/problem+json': { schema: typeof ProblemSchema } } }>;
}

/** A success reply: its schema and, in words, what it is. */
export function json<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

/** A reply with no body (204). */
export const noContent = (description: string) => z.undefined().describe(description);

/** `{items, nextCursor?}`: every collection (API.md "Lists"); registered as `<Name>Page`. */
export function page<T extends z.ZodType>(item: T, name: string) {
  return z.object({
    items: z.array(item),
    nextCursor: z.string().optional().describe('Pass as `cursor` for the next page; absent on the last page'),
  }).meta({ id: `${name}Page`, description: `A page of ${name} items` });
}

// ─── users, materials, equipment ─────────────────────────────────────────────────────────────

export const UserSchema = z.object({
  id: z.string(), username: z.string(), fullName: z.string(), roles: z.array(RoleSchema), active: z.boolean(),
  mustChangePassword: z.boolean().describe('While true, every route but logout and POST /me/password answers 403'),
  locked: z.boolean(), lastLoginAt: Time.optional(),
}).meta({ id: 'User' });

export const LoginReply = z.object({
  token: z.string().describe('Send as `Authorization: Bearer <token>`'),
  user: UserSchema,
  mustChangePassword: z.boolean(),
  csrfToken: z.string().describe('For cookie-authenticated browsers: send in `x-csrf-token` on every write'),
}).meta({ id: 'Session' });

export const CsrfReply = z.object({ csrfToken: z.string() }).meta({ id: 'CsrfToken' });

export const LotSchema = z.object({
  id: z.string(), type: z.string(), name: z.string(), lotNumber: z.string(), expiresOn: Day,
  status: z.enum(['released', 'quarantined', 'rejected']), createdAt: Time,
}).meta({ id: 'Lot', description: 'A material lot' });

export const EquipmentSchema = z.object({
  id: z.string(), assetId: z.string(), type: z.string(), name: z.string(), calibrationDueOn: Day, createdAt: Time,
}).meta({ id: 'Equipment' });

// ─── processes ───────────────────────────────────────────────────────────────────────────────

// The definition's own schemas, registered as they are (`.meta()` would register a copy the definition does not use).
z.globalRegistry.add(ExprSchema, { id: 'Expression', description: 'A computation over recorded values (computed fields)' });
z.globalRegistry.add(SpecSchema, { id: 'Spec', description: 'Acceptance limits: min/max inclusive, minExclusive/maxExclusive exclusive, oneOf accepted options' });

export const ProcessSummarySchema = z.object({
  id: z.string(), version: z.number().int(), name: z.string(), title: z.object({ en: z.string(), vi: z.string() }),
  productType: z.string().describe("A type of the site's product catalogue (built-ins: CAR-T, NK)"), hash: z.string().describe('SHA-256 of the definition: the master record a batch is bound to'),
}).meta({ id: 'ProcessSummary' });

export const ProcessSchema = ProcessDefinitionSchema.extend({ hash: z.string() }).meta({ id: 'Process', description: 'A full process definition (the master batch record)' });

// ─── batches ─────────────────────────────────────────────────────────────────────────────────

export const BatchStatusSchema = z.enum(['in_process', 'qc_testing', 'qa_review', 'released', 'rejected', 'terminated']).meta({ id: 'BatchStatus' });

export const StoredSignatureSchema = z.object({
  userId: z.string(), username: z.string(), printedName: z.string(),
  meaning: z.string().describe('performed, verified, reviewed, approved, released, rejected'), signedAt: Time,
}).meta({ id: 'StoredSignature', description: 'A signature as recorded (21 CFR 11.50: printed name, time, meaning)' });

const Results = z.record(z.string(), z.enum(['pass', 'fail', 'alert'])).describe('Field or criterion → pass / fail / alert against the specifications');
const DeviationPayload = EntryPayloads.deviation;

export const EntrySchema = z.object({
  id: z.string(),
  seq: z.number().int().describe('Position in the batch (gaps where verifications were recorded)'),
  kind: z.enum(ENTRY_KINDS).describe('What the entry records; which optional fields are present depends on it'),
  recordedAt: Time,
  signatures: z.array(StoredSignatureSchema),
  training: z.boolean(),
  stepId: z.string().optional(),
  values: z.record(z.string(), z.unknown()).optional().describe('As sent plus the values the server computed'),
  results: Results.optional(),
  occurrence: z.number().int().optional().describe('Which occurrence of a repeatable step (1-based)'),
  performedAt: Time.optional().describe('Of a step: when the work was done at the bench (recordedAt is when it was entered); absent on entries made before performed-at was recorded'),
  late: z.boolean().optional().describe('Of a step: true when it was entered more than the definition\'s late-entry tolerance after performedAt (a late entry, listed for QA\'s review)'),
  lateReason: z.string().optional().describe('Of a late step entry: why it was entered late'),
  used: z.record(z.string(), UsedSnapshot).optional().describe('Of a step or correction: for each lot or equipment field, the lot (number, expiry, status) or instrument (asset id, calibration due date) as it was when signed; hashed with the entry'),
  verified: z.boolean().optional().describe('false while a required verification is pending, true once done, absent when none is needed'),
  correctsEntryId: z.string().optional(),
  reason: z.string().optional().describe('Of a correction or a termination'),
  deviation: DeviationPayload.optional().describe('Of a deviation entry'),
  investigation: EntryPayloads['deviation-investigation'].optional().describe('Of a deviation investigation'),
  closure: EntryPayloads['deviation-closure'].optional().describe('Of a deviation closure'),
  reclassification: EntryPayloads['deviation-reclassification'].optional().describe('Of a deviation reclassification'),
  review: EntryPayloads.review.optional().describe("Of QA's review"),
  disposition: EntryPayloads.disposition.optional().describe("Of QA's disposition"),
}).meta({ id: 'Entry', description: 'An entry of the batch record; which optional fields are present depends on `kind`' });

export const DeviationSchema = z.object({
  id: z.string(), batchId: z.string(), kind: DeviationPayload.shape.kind,
  status: z.enum(['open', 'investigating', 'closed']), severity: DeviationPayload.shape.severity,
  stepId: z.string().optional(), entryId: z.string().optional(), description: z.string(), openedAt: Time,
  investigation: z.object({
    entryId: z.string(), recordedAt: Time, rootCause: z.string(), productImpact: z.string(), otherBatchesImpact: z.string(),
    capaReference: z.string().optional(), signature: StoredSignatureSchema.optional(),
  }).optional().describe('The latest investigation (signed "investigated")'),
  reclassifications: z.array(z.object({
    entryId: z.string(), at: Time, from: DeviationPayload.shape.severity, to: DeviationPayload.shape.severity, reason: z.string(), signature: StoredSignatureSchema.optional(),
  })).optional(),
  closure: z.object({
    entryId: z.string(), closedAt: Time, investigation: z.string(), conclusion: z.string(), signature: StoredSignatureSchema.optional(),
  }).optional().describe('Signed "approved"'),
}).meta({ id: 'Deviation', description: 'A deviation (C3): opened, investigated, reclassified, closed — each step a signed entry' });

const FieldView = z.object({
  name: z.string(), label: z.string(), kind: z.enum(FIELD_KINDS), unit: z.string().optional(),
  computed: z.boolean().optional().describe('Filled by the server; refused if sent'),
  spec: SpecSchema.optional(),
  specFrom: z.string().optional().describe("For this batch: the computed field whose spec sets the limits shown in `spec` (dose per kg → total cells)"),
  alert: SpecSchema.optional().describe('Alert limits: flagged, no deviation'),
  limits: z.object({ min: z.number().optional(), max: z.number().optional() }).optional().describe('Physically possible values: outside them 400'),
  decimals: z.number().int().optional(), options: z.array(z.string()).optional(),
  optionLabels: z.record(z.string(), z.string()).optional().describe('What each option reads as, in the language asked (the option itself is what is sent and stored)'),
  materialType: z.string().optional(), equipmentType: z.string().optional(),
  identity: z.enum(['din', 'batchNumber']).optional(), required: z.boolean(),
}).meta({ id: 'StepField' });

const AvailableStep = z.object({
  stepId: z.string(), title: z.string(), instructions: z.string().optional(), stage: StepSchema.shape.stage.unwrap(),
  repeatable: z.boolean(), required: z.boolean(),
  remaining: z.number().int().optional().describe('Required occurrences still due (repeatable steps)'),
  window: z.object({ opensAt: Time.optional(), closesAt: Time.optional() }).optional().describe('Shown, not enforced: outside it a timing deviation opens'),
  fields: z.array(FieldView),
  signatures: z.array(SignatureRuleSchema),
}).meta({ id: 'AvailableStep' });

const LockedStep = z.object({ stepId: z.string(), title: z.string(), reason: z.string().describe('Why, in words') }).meta({ id: 'LockedStep' });

export const DispositionSchema = z.object({
  entryId: z.string(), decision: EntryPayloads.disposition.shape.decision, decidedAt: Time,
  justification: z.string().optional(), physicianRequest: z.string().optional(),
  conditional: z.boolean().describe('Released while results that may follow release were pending'),
  pendingTests: z.array(z.string()), stillPending: z.array(z.string()).describe('Of pendingTests, those still without a result'),
  failedTests: z.array(z.string()).describe('What an exceptional release accepted'),
  signature: StoredSignatureSchema.nullable(),
}).meta({ id: 'Disposition', description: "QA's disposition of the batch" });

export const BatchSummarySchema = z.object({
  id: z.string(), batchNumber: z.string(), processId: z.string(), processVersion: z.number().int(), processHash: z.string(),
  status: BatchStatusSchema,
  state: z.object({
    value: z.unknown().describe("The batch machine's state (a name or nested names)"),
    recorded: z.record(z.string(), z.number().int()).describe('Occurrences recorded per step'),
    pendingVerification: z.array(z.string()).describe('Entry ids awaiting a second person'),
  }),
  version: z.number().int().describe('Send as `expectedVersion` on the next write'),
  din: z.string(), dinCheck: z.string(), chainOfIdentityId: z.string(),
  patient: z.object({ id: z.string(), weightKg: z.number() }).optional().describe('The recipient; absent for an allogeneic batch that names none'),
  donor: z.object({ id: z.string(), eligibility: z.string() }).optional().describe('The donor of an allogeneic batch'),
  parents: EntryPayloads['batch-created'].shape.parents.describe('The batches this one is made from (cell-bank genealogy, pooled donors)'),
  productType: z.string().describe("A type of the site's product catalogue (built-ins: CAR-T, NK)"),
  autologous: z.boolean(),
  processStatus: z.enum(['draft', 'in_review', 'approved', 'effective', 'superseded', 'withdrawn']).optional()
    .describe('The status of the master record the batch runs: effective, superseded (started before a change), or — training only — a version still in its lifecycle'),
  draftProcess: z.boolean().optional().describe('true when the batch started on a master record not yet in effect (training rehearsal of a draft, in review or approved version): every screen and page says DRAFT'),
  processStatusAtStart: z.enum(['draft', 'in_review', 'approved', 'effective']).optional()
    .describe("The master record's status when the batch started, from its chained creation entry (never changes): anything but effective is a training rehearsal, marked DRAFT"),
  createdAt: Time, openDeviations: z.number().int(), training: z.boolean(),
  disposition: DispositionSchema.nullable().describe('null until QA disposes of the batch'),
  conditionalRelease: z.boolean().describe('Released with results that may follow release still outstanding'),
  postReleaseFinding: z.boolean().describe('A failing result after release flags the product'),
  integrity: z.boolean().describe("false when the batch's own rows fail their hashes, or the record fails in a way no row can be pinned on"),
  availableSteps: z.array(AvailableStep),
  lockedSteps: z.array(LockedStep),
}).meta({ id: 'BatchSummary', description: 'A batch without its entries (lists)' });

export const BatchSchema = BatchSummarySchema.extend({ entries: z.array(EntrySchema) }).meta({ id: 'Batch' });

export const EntryReply = z.object({ entry: EntrySchema, batch: BatchSchema }).meta({ id: 'EntryWithBatch', description: 'The entry just recorded and the batch after it' });

export const BatchPage = page(BatchSummarySchema, 'BatchSummary');
export const DeviationPage = page(DeviationSchema, 'Deviation');
export const UserPage = page(UserSchema, 'User');
export const LotPage = page(LotSchema, 'Lot');
export const EquipmentPage = page(EquipmentSchema, 'Equipment');

// ─── audit ───────────────────────────────────────────────────────────────────────────────────

export const AuditItemSchema = z.object({
  seq: z.number().int().describe("The row's position in the audit chain"), at: Time, userId: z.string().nullable(),
  username: z.string().optional(), printedName: z.string().optional().describe('The person behind userId (ALCOA: attributable)'),
  action: z.string().describe('e.g. step.recorded, attempt.refused, login.failed, account.locked'),
  entity: z.string(), entityId: z.string().nullable(), batchId: z.string().nullable(),
  before: z.unknown().optional(), after: z.unknown().optional(), reason: z.string().optional(),
  hash: z.string().describe('SHA-256 of the previous hash and this row'), prevHash: z.string(),
}).meta({ id: 'AuditItem', description: 'A row of the audit trail (21 CFR 11.10(e))' });

export const AuditPage = page(AuditItemSchema, 'AuditItem');

export const AuditExportRows = z.array(AuditItemSchema).describe('Every row the filters select, oldest first');

export const ChainReportSchema = z.object({
  valid: z.boolean(),
  checked: z.number().int().describe('Rows checked over all chains'),
  checkpoints: z.number().int().optional().describe('Signed checkpoints the chains were checked against'),
  firstInvalid: z.object({
    table: z.enum(['entries', 'signatures', 'audit_log', 'checkpoints']), seq: z.number().int().describe("The row's position in that table's chain"),
    reason: z.string(), kind: z.enum(['row', 'chain']).describe('row: pinned on one row; chain: a stretch was removed, reordered or rewritten'),
  }).optional(),
  mismatches: z.array(z.object({
    table: z.enum(['batches', 'process_versions', 'process_version_signatures', 'materials', 'equipment']), row: z.string().describe("The row's id (a signature's seq)"), field: z.string(),
    row_value: z.unknown().describe('What the row holds'),
    chain_value: z.unknown().describe("What the chained record holds: a batch's batch-created entry; a process version's or transition signature's audit rows; a lot's or an instrument's registration and audited changes"),
  })).optional().describe('Rows outside the chained tables that disagree with the hash-chained record (identity, master records and their signatures in the chain, 21 CFR 11.10(a))'),
}).meta({ id: 'ChainReport', description: 'The verification of every hash chain (entries, signatures, audit) against the signed checkpoints' });

const CheckpointRef = z.object({ n: z.number().int().describe('The checkpoint\'s number'), at: Time });
const KeyCheckpoints = z.object({
  count: z.number().int().describe('How many of the site\'s signed checkpoints carry this key id'),
  first: CheckpointRef.optional().describe('The first of them (absent when the key signed none)'),
  last: CheckpointRef.optional().describe('The last of them (absent when the key signed none)'),
}).meta({ id: 'KeyCheckpoints', description: 'What the database\'s checkpoints table records of one key' });
const KeyId = z.string().describe('The key id the checkpoints carry (`keyId`): the first 16 hex characters of the SHA-256 of the public key (SPKI DER)');

export const SigningKeyPage = z.object({
  items: z.array(z.object({
    id: KeyId,
    algorithm: z.literal('Ed25519'),
    publicKey: z.string().describe('PEM (SPKI)'),
    source: z.enum(['own', 'trusted']).describe('own: the key this app server signs with; trusted: another key installed on purpose in its key folder\'s trusted/ (another app server of the site, or an earlier key after a rotation)'),
    file: z.string().optional().describe('A trusted key\'s file, relative to the key folder (`trusted/<name>.pub.pem`)'),
    createdAt: Time.optional().describe('The own key only: when this server generated it (kept beside it in checkpoint-ed25519.json; absent when that file is not there, e.g. a key installed by hand). Absent for a trusted key: its PEM file carries no creation time, and the file\'s modification time would be the installation\'s, not the key\'s; `checkpoints.first.at` says when the record first shows it signing'),
    checkpoints: KeyCheckpoints,
  })),
  untrusted: z.array(z.object({ id: KeyId, checkpoints: KeyCheckpoints }))
    .describe('Key ids the checkpoints table names that this server does not trust: a finding (GET /audit/verify fails at the first checkpoint such a key signed); the table holds no public key, only the id'),
  unreadable: z.array(z.object({
    file: z.string().describe('Relative to the key folder (`trusted/<name>.pub.pem`)'),
    problem: z.string().describe('Why it vouches for nothing: not a public key in PEM, or a key other than Ed25519'),
  })).describe('Files in trusted/ that hold no Ed25519 public key: they trust nothing, so checkpoints their author signed count as signed by an unknown key'),
}).meta({ id: 'SigningKeyList', description: 'The public keys this app server trusts to sign the checkpoints of the chain heads (its own, then trusted/ by file name), each with what the checkpoints table records of it; then the key ids the table names that it does not trust, and the files in trusted/ that hold no key' });

export const AlertList = z.object({
  items: z.array(z.object({
    id: z.string().describe('The audit row\'s seq ("record-integrity" for the record\'s alert)'),
    kind: z.enum(['account-locked', 'record-integrity', 'clock-went-back']).describe('account-locked: an account locked by repeated failures; record-integrity: the record failed verification or disagrees with its last signed checkpoint; clock-went-back: a write refused because the server\'s clock read earlier than a chain\'s last row (21 CFR 11.10(e))'),
    at: Time, userId: z.string().nullable().describe('The locked account (null for the other kinds)'), username: z.string().optional(),
    detail: z.string(), open: z.boolean().describe('account-locked: still locked by this lockout; record-integrity: until a verification passes; clock-went-back: the clock still reads earlier than the last recorded time'),
  })),
}).meta({ id: 'AlertList', description: 'Open record-integrity alerts first, then account lockouts and clocks that went back, newest first' });

const AccountEvent = z.object({
  seq: z.number().int(), at: Time, by: z.string().nullable(), action: z.string(), userId: z.string().nullable(),
  before: z.unknown().optional(), after: z.unknown().optional(), reason: z.string().nullable(),
}).meta({ id: 'AccountEvent' });

export const PeriodicReviewSchema = z.object({
  period: z.object({ from: Time, to: Time }),
  generatedAt: Time,
  users: z.array(UserSchema.extend({ createdAt: Time, passwordChangedAt: Time, failedLoginsInPeriod: z.number().int() })),
  privilegeChanges: z.array(AccountEvent), lockouts: z.array(AccountEvent), unlocks: z.array(AccountEvent),
}).meta({ id: 'PeriodicReview', description: 'The periodic review of accounts (EU GMP Annex 11 §11)' });

export const ClockReply = z.object({ now: Time.describe('The simulated now') }).meta({ id: 'TrainingClock' });

/** The published export format (schemas/export.ts), named so that a client generates its type; the bytes are sent as hashed, not re-serialized. */
export const BatchRecordExport = BatchRecordExportSchema
  .meta({ id: 'BatchRecordExport', description: `The complete electronic record of a batch (entries, signatures, audit rows, chains, checkpoints, the seal), format ${EXPORT_FORMAT} (docs/export-format.md)` });

export const HealthReply = z.object({
  status: z.literal('ok'),
  integrity: z.enum(['pending', 'verified', 'failed']).describe('The last full verification of the record: pending until the first one after start has finished (it runs in the background); failed raises an alert (GET /api/v1/alerts)'),
}).meta({ id: 'Health' });

// ─── master records: process versions (docs/master-records.md) ───────────────────────────────

export const ProcessVersionSchema = z.object({
  id: z.string(), processId: z.string(), version: z.number().int(), hash: z.string().describe('SHA-256 of the definition'),
  status: z.enum(['draft', 'in_review', 'approved', 'effective', 'superseded', 'withdrawn']),
  source: z.enum(['builtin', 'site-folder', 'api']).describe('Imported at start (built-in, site folder) or drafted through POST /processes'),
  createdAt: Time, createdBy: z.string().optional().describe('The author (username); absent for an imported version'), updatedAt: Time,
  signatures: z.array(z.object({
    action: z.string(), meaning: z.enum(['authored', 'reviewed', 'approved', 'effective', 'withdrawn']),
    username: z.string(), printedName: z.string(), reason: z.string(), signedAt: Time,
  })).describe('The signed transitions, oldest first'),
}).meta({ id: 'ProcessVersion', description: 'A version of a master batch record and its lifecycle' });

export const ProcessVersionDetail = ProcessVersionSchema.extend({ definition: z.record(z.string(), z.unknown()).describe('The definition (docs/process-definitions.md)') })
  .meta({ id: 'ProcessVersionDetail' });

export const ProcessVersionList = z.object({ items: z.array(ProcessVersionSchema) }).meta({ id: 'ProcessVersionList' });

export const VersionComparisonSchema = z.object({
  processId: z.string(),
  from: z.object({ version: z.number().int(), status: z.string(), hash: z.string() }),
  to: z.object({ version: z.number().int(), status: z.string(), hash: z.string() }),
  changes: z.array(z.object({
    kind: z.enum(['process', 'step', 'field', 'spec', 'window', 'signature', 'criterion']),
    change: z.enum(['added', 'removed', 'changed']),
    step: z.string().optional(), field: z.string().optional(), text: z.string().describe('The change in words'),
  })),
  impact: z.array(z.object({
    version: z.number().int(),
    batches: z.array(z.object({ id: z.string(), batchNumber: z.string(), status: z.string(), training: z.boolean() })),
  })).describe('Batches not released, rejected or terminated, by the version they run'),
}).meta({ id: 'VersionComparison', description: 'What changed from one version to another, and the batches of each version' });
