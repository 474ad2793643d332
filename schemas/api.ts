// Request bodies, query strings and params of the HTTP API: the one schema language (zod) that both
// validates requests and describes them in the OpenAPI document. Bodies are strict: unknown keys are 400.
import { z } from 'zod';
import { parseDin } from '../server/domain/isbt128.js';
import { ADMIN_COMBINATION_PROBLEM, adminCombinesWithSigning, ROLES } from '../workflows/definition.js';

const Id = z.string().min(1).max(100);
const Reason = z.string().trim().min(1, 'a reason is required').max(2000);
const Day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date YYYY-MM-DD').refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), 'not a calendar date');

/**
 * A signature re-enters credentials (21 CFR 11.200(a)(1)); the server sets the meaning from the action.
 * One named component (Signature) for every signed request; each route checks the meaning it signs with.
 */
export const SignatureSchema = z.strictObject({
  username: z.string().min(1).max(100).describe("The signer's username (the signer need not be the session's user)"),
  password: z.string().min(1).max(256).describe("The signer's password, checked now (21 CFR 11.200(a)(1))"),
  meaning: z.string().optional().describe('Optional: the server sets the meaning from the action (performed, verified, reviewed, approved, released, rejected, investigated...); a different one sent is 400'),
}).meta({ id: 'Signature', description: "The signature block of a signed request: the signer's own credentials, re-entered for this signature" });

/** The signature of an action that signs with `meaning` (a different meaning sent is 400 on signature.meaning). */
export const signatureSchema = (meaning: string) =>
  SignatureSchema.refine((s) => s.meaning === undefined || s.meaning === meaning, { path: ['meaning'], message: `the meaning of this signature is "${meaning}"` });

export const DinSchema = z.string().max(32).transform((value, ctx) => {
  const r = parseDin(value);
  if (!r.ok) {
    ctx.addIssue({ code: 'custom', message: r.reason });
    return z.NEVER;
  }
  return { din: r.din, check: r.check };
}).describe('ISBT 128 DIN: 13 characters + check character (keyed, 14) or = + 13 characters + 2 flags (scanned, 16)');

export const LoginBody = z.strictObject({ username: z.string().min(1).max(100), password: z.string().min(1).max(256) })
  .meta({ examples: [{ username: 'op1', password: 'Correct-Horse-Battery-9' }] });
export const PasswordBody = z.strictObject({ currentPassword: z.string().min(1).max(256), newPassword: z.string().min(1).max(256) });
export const RoleSchema = z.enum(ROLES);
const Roles = z.array(RoleSchema).min(1).max(ROLES.length).refine((roles) => !adminCombinesWithSigning(roles), ADMIN_COMBINATION_PROBLEM);
export const CreateUserBody = z.strictObject({
  username: z.string().regex(/^[A-Za-z0-9._-]{2,64}$/, '2–64 letters, digits, dot, dash or underscore'),
  fullName: z.string().trim().min(1).max(200),
  roles: Roles,
  password: z.string().min(1).max(256),
});
export const PatchUserBody = z.strictObject({ active: z.boolean().optional(), roles: Roles.optional(), reason: Reason });
export const ReasonBody = z.strictObject({ reason: Reason });
export const ResetPasswordBody = z.strictObject({ password: z.string().min(1).max(256), reason: Reason });

export const CreateMaterialBody = z.strictObject({
  type: z.string().min(1).max(100), name: z.string().min(1).max(200), lotNumber: z.string().min(1).max(100),
  expiresOn: Day,
  status: z.enum(['released', 'quarantined']).optional().describe('Default quarantined; only qa may register a lot as released (21 CFR 211.22, 211.84)'),
});
export const PatchMaterialBody = z.strictObject({ status: z.enum(['released', 'quarantined', 'rejected']), reason: Reason });
export const CreateEquipmentBody = z.strictObject({
  assetId: z.string().min(1).max(100), type: z.string().min(1).max(100), name: z.string().min(1).max(200), calibrationDueOn: Day,
});

export const PatchEquipmentBody = z.strictObject({ calibrationDueOn: Day, reason: Reason });

export const CreateBatchBody = z.strictObject({
  processId: z.string().min(1).max(100),
  din: DinSchema,
  patient: z.strictObject({
    id: z.string().trim().min(1).max(64).describe('Patient identifier (never the name: 21 CFR 1271.290(c))'),
    weightKg: z.number().positive().max(500),
  }).optional().describe('The recipient: required by autologous processes; for an allogeneic one as its definition says (recipient)'),
  donor: z.strictObject({
    id: z.string().trim().min(1).max(64).describe('Donor identifier (never the name)'),
    eligibility: z.enum(['eligible', 'pending', 'ineligible']).describe('The donor eligibility determination so far (21 CFR 1271.50); an ineligible donor is refused'),
  }).optional().describe('The donor of an allogeneic process (autologous: false); refused for an autologous one'),
  processVersion: z.number().int().min(1).max(1_000_000).optional().describe('Training mode only: rehearse a version that is not yet effective (draft, in review, approved); GMP batches start on the effective version'),
  parents: z.array(z.string().min(1).max(100)).min(1).max(50).optional().describe('Ids of the batches this one is made from (cell bank, pooled donors), as the definition allows'),
  // zod leaves `examples` out of the input form of a schema that transforms (the DIN does), so the
  // example goes to the media type through @fastify/swagger's x-examples, which it moves there as is.
}).meta({ 'x-examples': { carT: { summary: 'An autologous CAR-T batch', value: { processId: 'car-t', din: 'W123426000001N', patient: { id: 'PT-000123', weightKg: 72.5 } } } } });

const Values = z.record(z.string().max(64), z.unknown()).refine((v) => Object.keys(v).length <= 100, 'at most 100 values');
export const RecordStepBody = z.strictObject({
  values: Values, signature: signatureSchema('performed'), expectedVersion: z.number().int().min(0),
  performedAt: z.iso.datetime().optional().describe('When the work was done at the bench (ISO-8601 UTC); default: when it is recorded. Not later than the server\'s now (2 min skew allowed, else 400), not before the batch was created nor before a step this one follows was performed (422)'),
  lateReason: Reason.optional().describe('Required (422 otherwise) when the step is entered more than the definition\'s late-entry tolerance (default 30 min) after performedAt: the entry is then a late entry, shown as such and listed for QA\'s review'),
})
  .meta({ examples: [{ values: { viability: 92.5, cellCount: 1.2 }, signature: { username: 'op1', password: 'Correct-Horse-Battery-9' }, expectedVersion: 3 }] });
export const VerifyBody = z.strictObject({ signature: signatureSchema('verified'), expectedVersion: z.number().int().min(0).optional() });
export const CorrectionBody = z.strictObject({ values: Values, reason: Reason, signature: signatureSchema('performed'), expectedVersion: z.number().int().min(0).optional() });
export const TerminateBody = z.strictObject({ reason: Reason, signature: signatureSchema('approved'), expectedVersion: z.number().int().min(0).optional() });

export const ClockBody = z.strictObject({
  advanceHours: z.number().min(0).max(24 * 366).optional(),
  set: z.string().datetime({ offset: true }).optional(),
}).refine((b) => (b.advanceHours === undefined) !== (b.set === undefined), { message: 'send either advanceHours or set, not both and not neither', path: ['advanceHours'] });

export const PageQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(500).default(50), cursor: z.string().max(200).optional() });
export const BatchListQuery = PageQuery.extend({ status: z.enum(['in_process', 'qc_testing', 'qa_review', 'released', 'rejected', 'terminated']).optional() });
export const MaterialListQuery = PageQuery.extend({ type: z.string().max(100).optional() });
export const AuditQuery = PageQuery.extend({
  from: z.string().datetime({ offset: true }).optional(), to: z.string().datetime({ offset: true }).optional(),
  user: z.string().max(100).optional(), batchId: z.string().max(100).optional(), action: z.string().max(100).optional(),
});
export const AuditExportQuery = AuditQuery.omit({ limit: true, cursor: true }).extend({ format: z.enum(['json', 'csv']).default('json') });
export const PeriodQuery = z.strictObject({ from: z.string().datetime({ offset: true }), to: z.string().datetime({ offset: true }) });
export const LangQuery = z.strictObject({ lang: z.enum(['en', 'vi']).optional() });
/** A periodic review covers at most a year and a day (Annex 11 §11, 211.180(e): at least annually), so that one request stays bounded. */
export const PERIODIC_REVIEW_MAX_DAYS = 366;
/** A period ends after it starts: the rule, and where and how it is refused. */
const endsAfterStart = (q: { from: string; to: string }) => Date.parse(q.from) < Date.parse(q.to);
const toAfterFrom = { path: ['to'], message: 'to must be later than from' };
/** The account review (JSON) over a period: a period ends after it starts, as the PDF's does. */
export const PeriodicReviewQuery = PeriodQuery.refine(endsAfterStart, toAfterFrom);
export const PeriodicReviewPdfQuery = PeriodQuery.extend(LangQuery.shape)
  .refine(endsAfterStart, toAfterFrom)
  .refine((q) => Date.parse(q.to) - Date.parse(q.from) <= PERIODIC_REVIEW_MAX_DAYS * 86_400_000, { path: ['to'], message: `a periodic review covers at most ${PERIODIC_REVIEW_MAX_DAYS} days` });

export const IdParams = z.strictObject({ id: Id });
export const StepParams = z.strictObject({ id: Id, stepId: Id });
export const EntryParams = z.strictObject({ id: Id, entryId: Id });

// Master batch records: process versions and their signed lifecycle.
export const ProcessVersionParams = z.strictObject({ id: Id, version: z.coerce.number().int().min(1).max(1_000_000) });
/** A change over content read before (RFC 9110 §13.1.1): the ETag that GET gave, e.g. `"3f2a…"`. */
export const IfMatchHeaders = z.object({ 'if-match': z.string().max(1000).optional().describe('The ETag of the content this change replaces (required; 428 without it, 412 when it has changed)') });
/** A conditional read (RFC 9110 §13.1.2): the ETag of the answer the client holds; other headers pass. */
export const IfNoneMatchHeaders = z.looseObject({ 'if-none-match': z.string().max(1000).optional().describe('The ETag of the answer already held: 304 while it is still the current one') });
export const CompareParams = ProcessVersionParams.extend({ other: z.coerce.number().int().min(1).max(1_000_000) });
/** The meaning each lifecycle action signs with (set by the server; a different one sent is 400). */
export const VERSION_MEANINGS = { submit: 'authored', review: 'reviewed', approve: 'approved', 'make-effective': 'effective', withdraw: 'withdrawn' } as const;
export const VersionTransitionBody = z.strictObject({
  action: z.enum(['submit', 'review', 'approve', 'make-effective', 'withdraw']),
  reason: Reason,
  signature: SignatureSchema, // the meaning follows the action (authored, reviewed, approved, effective, withdrawn): checked below
}).refine((b) => b.signature.meaning === undefined || b.signature.meaning === VERSION_MEANINGS[b.action], {
  path: ['signature', 'meaning'], message: 'the meaning of this signature is set by the action',
});
/** A process definition in the JSON format of docs/process-definitions.md; checked by the load checks. */
export const ProcessDefinitionBody = z.looseObject({ id: z.string().max(100), version: z.number(), phases: z.array(z.unknown()) })
  .describe('A process definition (docs/process-definitions.md); its content is checked by the load checks');
