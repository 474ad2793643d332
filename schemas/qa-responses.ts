// Replies of QA's routes (server/routes/qa.ts): deviations with their batch number, the review by
// exception, the certificate of analysis, the final containers and each user's pending work. Same
// rules as schemas/responses.ts: the schema that serializes a reply is the one that documents it.
import { z } from 'zod';
import { EXCEPTION_KINDS } from '../server/record/exceptions.js';
import { PENDING_ACTIONS } from '../server/views/pending-view.js';
import { BatchSchema, BatchSummarySchema, DeviationSchema, DispositionSchema, EntrySchema, page, StoredSignatureSchema } from './responses.js';

const Time = z.string().describe('ISO-8601 UTC time');

export const DeviationDetailSchema = DeviationSchema.extend({ batchNumber: z.string() })
  .meta({ id: 'DeviationDetail', description: 'A deviation with the number of its batch' });

export const DeviationDetailPage = page(DeviationDetailSchema, 'DeviationDetail');

export const DeviationReply = z.object({ deviation: DeviationDetailSchema, batch: BatchSummarySchema.describe('The batch after the change, without its entries') })
  .meta({ id: 'DeviationWithBatch', description: 'The deviation after the change and its batch' });

export const ReviewReply = z.object({ entry: EntrySchema, batch: BatchSchema, covered: z.array(z.string()).describe('The exception ids the review covered') })
  .meta({ id: 'ReviewWithBatch' });

const ExceptionSchema = z.object({
  id: z.string().describe('Stable: the same fact gives the same id on every read'),
  kind: z.enum(EXCEPTION_KINDS),
  target: z.object({ type: z.enum(['entry', 'deviation', 'audit', 'step']), id: z.string() }),
  stepId: z.string().optional(), at: Time,
  why: z.string().describe('Why it is listed, in the language of Accept-Language (en or vi); what people typed and audit action codes as recorded'),
  voidsReview: z.boolean().describe('Drawn from the record: appearing after a review voids it'),
  covered: z.boolean().describe('Covered by the current review'),
}).meta({ id: 'ReviewException' });

const ReleaseTestSchema = z.object({
  stepId: z.string(), test: z.string(), method: z.string(), specification: z.array(z.string()), followsRelease: z.boolean(),
  outcome: z.enum(['pass', 'fail', 'pending']),
  results: z.array(z.object({
    name: z.string(), label: z.string(), value: z.unknown(), unit: z.string().optional(), specification: z.string().optional(),
    result: z.enum(['pass', 'fail', 'alert']).optional(),
  })).optional(),
  entryId: z.string().optional(), correctionIds: z.array(z.string()).optional(),
  recordedBy: z.array(StoredSignatureSchema), verifiedBy: z.array(StoredSignatureSchema),
}).meta({ id: 'ReleaseTest' });

export const ReviewViewSchema = z.object({
  batch: BatchSummarySchema.omit({ integrity: true, availableSteps: true, lockedSteps: true }),
  generatedAt: Time,
  exceptions: z.array(ExceptionSchema),
  reviewable: z.boolean().describe('Whether a review can be signed now'),
  blockedBy: z.array(z.string()).optional().describe('Open deviations that block the review'),
  reviews: z.array(z.object({
    entryId: z.string(), signedAt: Time, comment: z.string().optional(), covered: z.array(z.string()),
    signature: StoredSignatureSchema.nullable(), current: z.boolean(),
  })),
  currentReview: z.object({ entryId: z.string(), signedAt: Time }).nullable(),
  voidedReview: z.object({ entryId: z.string(), signedAt: Time, voidedBy: z.array(z.string()).describe('The exceptions the review did not cover') }).optional(),
  deviations: z.array(DeviationSchema),
  releaseTests: z.array(ReleaseTestSchema),
  disposition: DispositionSchema.nullable(),
}).meta({ id: 'Review', description: 'Review by exception: what QA must look at (the evidence packet)' });

export const CoaSchema = z.object({
  batchId: z.string(), batchNumber: z.string(), processId: z.string(), processVersion: z.number().int(), processHash: z.string(),
  product: z.string(), productType: z.string(), din: z.string(), dinCheck: z.string(), chainOfIdentityId: z.string(),
  patientId: z.string().optional(), donorId: z.string().optional().describe('Allogeneic batches'), training: z.boolean(), labelling: z.string().optional(), generatedAt: Time,
  draftProcess: z.boolean().describe('The batch rehearsed a master record not in effect (training): the certificate says DRAFT and certifies nothing'),
  processStatusAtStart: BatchSummarySchema.shape.processStatusAtStart,
  tests: z.array(ReleaseTestSchema), disposition: DispositionSchema.nullable(), conditionalRelease: z.boolean(), postReleaseFinding: z.boolean(),
}).meta({ id: 'CertificateOfAnalysis' });

const Quantity = z.object({ value: z.number(), unit: z.string() });

export const ContainersSchema = z.object({
  batchId: z.string(), batchNumber: z.string(), din: z.string(), dinCheck: z.string(), chainOfIdentityId: z.string(),
  status: z.string().describe('quarantined, released, released-conditionally, released-with-finding, rejected or discarded'),
  items: z.array(z.object({
    containerId: z.string(), isbt128: z.object({ din: z.string(), productCode: z.string().nullable(), division: z.string() }),
    bagNumber: z.number().int(), entryId: z.string(), stepId: z.string(), filledAt: Time,
    volume: Quantity.nullable(), dose: Quantity.extend({ label: z.string(), fractionPercent: z.number().optional() }).nullable(),
    labelScan: z.object({ field: z.string(), value: z.unknown(), result: z.enum(['matched', 'not-scanned']) }),
    status: z.string(),
  })),
}).meta({ id: 'Containers', description: 'The final containers of a batch' });

export const PendingItemSchema = z.object({
  action: z.enum(PENDING_ACTIONS), batchId: z.string(), batchNumber: z.string(), status: z.string(),
  stepId: z.string().optional(), entryId: z.string().optional(), deviationId: z.string().optional(), title: z.string(),
  due: z.enum(['due', 'overdue', 'upcoming']).optional(), opensAt: Time.optional(), closesAt: Time.optional(), detail: z.string().optional(),
}).meta({ id: 'PendingItem' });

export const PendingPage = page(PendingItemSchema, 'PendingItem');
