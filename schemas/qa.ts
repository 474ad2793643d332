// Request bodies and query strings of QA's routes (deviations, review, disposition, certificate of
// analysis, containers, pending work). Bodies are strict: unknown keys are 400.
import { z } from 'zod';
import { LangQuery, PageQuery, SignatureSchema, signatureSchema } from './api.js';

const Text = (what: string, max = 4000) => z.string().trim().min(1, `${what} is required`).max(max);
const ExpectedVersion = z.number().int().min(0).optional();
export const SeveritySchema = z.enum(['minor', 'major', 'critical']);
export const DeviationStatusSchema = z.enum(['open', 'investigating', 'closed']);

export const OpenDeviationBody = z.strictObject({
  description: Text('a description'), severity: SeveritySchema,
  stepId: z.string().min(1).max(100).optional(), entryId: z.string().min(1).max(100).optional(), expectedVersion: ExpectedVersion,
});
export const InvestigationBody = z.strictObject({
  rootCause: Text('the root cause'), productImpact: Text('the impact on product quality'), otherBatchesImpact: Text('the impact on other batches'),
  capaReference: z.string().trim().min(1).max(100).optional(), signature: signatureSchema('investigated'), expectedVersion: ExpectedVersion,
});
export const CloseDeviationBody = z.strictObject({
  investigation: Text('the investigation'), conclusion: Text('the conclusion'), signature: signatureSchema('approved'), expectedVersion: ExpectedVersion,
});
export const ReclassifyBody = z.strictObject({
  severity: SeveritySchema, reason: Text('a reason', 2000), signature: signatureSchema('approved'), expectedVersion: ExpectedVersion,
});
export const ReviewBody = z.strictObject({ comment: z.string().trim().min(1).max(4000).optional(), signature: signatureSchema('reviewed'), expectedVersion: ExpectedVersion });

/** API.md: release and exceptional release are signed "released", reject "rejected"; a meaning sent that differs is 400. */
export const DispositionBody = z.strictObject({
  decision: z.enum(['release', 'reject', 'exceptional-release']),
  justification: z.string().trim().min(1).max(4000).optional(),
  physicianRequest: z.string().trim().min(1).max(4000).optional().describe("The treating physician's request (exceptional release of an out-of-specification ATMP)"),
  signature: SignatureSchema, // meaning "released" (release, exceptional release) or "rejected" (reject): checked below
  expectedVersion: ExpectedVersion,
}).superRefine((b, ctx) => {
  const meaning = b.decision === 'reject' ? 'rejected' : 'released';
  if (b.signature.meaning !== undefined && b.signature.meaning !== meaning) {
    ctx.addIssue({ code: 'custom', path: ['signature', 'meaning'], message: `the meaning of a ${b.decision} is "${meaning}"` });
  }
  if (b.decision !== 'release' && b.justification === undefined) {
    ctx.addIssue({ code: 'custom', path: ['justification'], message: `a ${b.decision} needs a justification` });
  }
  if (b.decision === 'exceptional-release' && b.physicianRequest === undefined) {
    ctx.addIssue({ code: 'custom', path: ['physicianRequest'], message: "an exceptional release needs the treating physician's request" });
  }
  if (b.decision !== 'exceptional-release' && b.physicianRequest !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['physicianRequest'], message: 'a physician request belongs to an exceptional release only' });
  }
});

export const DeviationListQuery = PageQuery.extend({ status: DeviationStatusSchema.optional(), severity: SeveritySchema.optional() });

/** GET /batches/{id}/review.pdf: the language, and one deviation of the batch to narrow the packet to. */
export const EvidencePacketQuery = LangQuery.extend({
  deviation: z.string().min(1).max(100).optional().describe('A deviation of this batch: the packet of that deviation only'),
});
