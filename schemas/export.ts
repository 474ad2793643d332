// ─────────────────────────────────────────────────────────────────────────────────────────────
// PUBLISHED FORMAT. The electronic copy of a batch record (GET /batches/{id}/export, and the file
// record.json attached to every record.pdf). Copies are archived for decades and read by programs we
// do not control (docs/export-format.md): a change of meaning needs a new `format` version; fields may
// be added.
// ─────────────────────────────────────────────────────────────────────────────────────────────
import { z } from 'zod';

export const EXPORT_FORMAT = 'cellbatch.batch-record/1';

const Cell = z.union([z.string(), z.number(), z.null()]);

const Signature = z.object({
  id: z.string(), userId: z.string(), username: z.string(), printedName: z.string(), meaning: z.string(), signedAt: z.string(),
  entryId: z.string(), entryHash: z.string(),
});

const Entry = z.object({
  id: z.string(), seq: z.number().describe('position in the entries chain'), batchSeq: z.number(), kind: z.string(),
  stepId: z.string().nullable(), recordedAt: z.string(), actorId: z.string(), training: z.boolean(),
  payload: z.record(z.string(), z.unknown()).describe('the stored payload, parsed (schemas/entries.ts)'),
  signatures: z.array(Signature),
});

const AuditItem = z.object({
  seq: z.number(), at: z.string(), userId: z.string().nullable(), action: z.string(), entity: z.string(), entityId: z.string().nullable(),
  before: z.unknown().optional(), after: z.unknown().optional(), reason: z.string().nullable(),
});

/** One chained row as stored: its hash is SHA-256 of JSON.stringify([prevHash, ...cells]) (server/store/chain.ts). */
const ChainRow = z.object({
  seq: z.number(), prevHash: z.string(), hash: z.string(), cells: z.array(Cell),
  form: z.enum(['json-array', 'legacy']).describe('legacy: written before migration 0003, SHA-256 of prevHash + canonical JSON of the row object'),
});
const Chain = z.object({ columns: z.array(z.string()), rows: z.array(ChainRow) });

const Head = z.object({ seq: z.number(), hash: z.string() });
const Checkpoint = z.object({
  n: z.number(), at: z.string(), reason: z.string(),
  heads: z.object({ entries: Head, signatures: Head, audit_log: Head }),
  keyId: z.string(), prev: z.string(), signature: z.string(),
});

const RowRef = z.object({ seq: z.number(), hash: z.string() });
/** Added to format /1 (fields may be added): records made before it have no seal. */
const Seal = z.object({
  statement: z.object({
    purpose: z.literal('cellbatch.batch-seal/1'),
    batchId: z.string(),
    asOf: z.string(),
    checkpoint: z.object({ n: z.number(), hash: z.string() }).describe('the latest checkpoint of `checkpoints`: SHA-256 of its canonical JSON'),
    rows: z.object({ entries: z.array(RowRef), signatures: z.array(RowRef), audit_log: z.array(RowRef) }).describe('every chained row of the batch in this record'),
  }),
  keyId: z.string(),
  signature: z.string().describe('Ed25519, base64, over the canonical JSON of `statement`, by the checkpoint key `keyId`'),
}).describe('The server\'s signature over the batch\'s rows, made when the whole record had just verified against every signed checkpoint (docs/export-format.md, "The batch seal")');

export const BatchRecordExportSchema = z.object({
  format: z.literal(EXPORT_FORMAT),
  asOf: z.string().describe('the latest time in the record: the document\'s date (never the clock)'),
  timeZone: z.string().describe('the site time zone the PDF shows times in'),
  training: z.boolean(),
  batch: z.object({
    id: z.string(), batchNumber: z.string(), din: z.string(), dinCheck: z.string(), chainOfIdentityId: z.string(),
    patient: z.object({ id: z.string(), weightKg: z.number() }).nullable().describe('null for an allogeneic batch (no patient yet)'), createdAt: z.string(), status: z.string(), openDeviations: z.number(),
    // Additive (issue 16): the donor of an allogeneic batch with the eligibility at start, and the
    // batches it was made from, as its chained batch-created entry holds them.
    donor: z.object({ id: z.string(), eligibility: z.string() }).optional(),
    parents: z.array(z.object({ id: z.string(), batchNumber: z.string(), processId: z.string() })).optional(),
  }),
  process: z.object({
    id: z.string(), version: z.number(), hash: z.string(),
    // Absent in exports made before issue 16: those batches ran on effective versions.
    status: z.enum(['draft', 'in_review', 'approved', 'effective']).optional(),
    definition: z.unknown(),
  }),
  integrity: z.object({ intact: z.boolean() }).describe('whether the batch\'s rows matched their hashes when the document was made'),
  entries: z.array(Entry),
  deviations: z.array(z.record(z.string(), z.unknown())),
  reviews: z.array(z.record(z.string(), z.unknown())).optional().describe('every signed review of the record and its audit trail (C4), in order'),
  disposition: z.record(z.string(), z.unknown()).optional(),
  containers: z.array(z.record(z.string(), z.unknown())).optional(),
  materials: z.array(z.object({ id: z.string(), type: z.string(), name: z.string(), lotNumber: z.string(), expiresOn: z.string(), status: z.string() })),
  equipment: z.array(z.object({ id: z.string(), assetId: z.string(), type: z.string(), name: z.string(), calibrationDueOn: z.string() })),
  users: z.array(z.object({ id: z.string(), username: z.string(), fullName: z.string() })),
  audit: z.array(AuditItem),
  chains: z.object({ entries: Chain, signatures: Chain, audit_log: Chain }),
  checkpoints: z.array(Checkpoint),
  publicKeys: z.array(z.object({ id: z.string(), algorithm: z.literal('Ed25519'), publicKeyPem: z.string() })),
  seal: Seal.optional(),
}).describe(`The batch's complete electronic record, format ${EXPORT_FORMAT} (docs/export-format.md)`);

export type BatchRecordExport = z.infer<typeof BatchRecordExportSchema>;
