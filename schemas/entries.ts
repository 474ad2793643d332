// ─────────────────────────────────────────────────────────────────────────────────────────────
// STORED JSON. These are the payloads of rows in the append-only `entries` table. Rows are kept for
// at least ten years and are never rewritten: a change here needs a migration plan (a new kind or an
// optional field), never a change of meaning of what is already stored.
// ─────────────────────────────────────────────────────────────────────────────────────────────
import { z } from 'zod';

const Values = z.record(z.string(), z.unknown());

/**
 * What the signer saw of a lot or an instrument a field names, as it was when signed (21 CFR 11.10(a),
 * 211.188(b)): kept in the entry, so hashed with it; the mutable row is held to the chain by verification.
 */
export const UsedSnapshot = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('lot'), id: z.string(), type: z.string(), name: z.string(), lotNumber: z.string(), expiresOn: z.string(), status: z.string() }),
  z.object({ kind: z.literal('equipment'), id: z.string(), type: z.string(), name: z.string(), assetId: z.string(), calibrationDueOn: z.string() }),
]);
export type UsedSnapshot = z.infer<typeof UsedSnapshot>;
/** Field name → the snapshot of the lot or equipment it names. Absent in entries made before snapshots existed. */
const Used = z.record(z.string(), UsedSnapshot).optional();

export const EntryPayloads = {
  'batch-created': z.object({
    processId: z.string(), processVersion: z.number(), processHash: z.string(),
    batchNumber: z.string(), din: z.string(), dinCheck: z.string(), chainOfIdentityId: z.string(),
    /** Absent for an allogeneic batch that names no recipient. */
    patient: z.object({ id: z.string(), weightKg: z.number() }).optional(),
    /** The donor of an allogeneic batch and the eligibility determination at start. */
    donor: z.object({ id: z.string(), eligibility: z.string() }).optional(),
    /** The batches this one is made from (genealogy). */
    parents: z.array(z.object({ id: z.string(), batchNumber: z.string(), processId: z.string() })).optional(),
    training: z.boolean(),
    /** The master record's status at start when it was not in effect (a training rehearsal); absent: effective. */
    processStatus: z.enum(['draft', 'in_review', 'approved']).optional(),
  }),
  step: z.object({
    stepId: z.string(),
    /** Values as sent plus the values the server computed. */
    values: Values,
    /** Field or criterion → pass / fail / alert against the definition's specifications. */
    results: z.record(z.string(), z.enum(['pass', 'fail', 'alert'])),
    occurrence: z.number().int(),
    /**
     * When the work was done at the bench (ALCOA+ contemporaneous); the row's `recordedAt` is when it
     * was entered. Absent in entries made before it existed: they were performed when recorded.
     */
    performedAt: z.string().optional(),
    /** Why the entry was made later than the definition's tolerance after `performedAt` (a late entry). */
    lateReason: z.string().optional(),
    used: Used,
  }),
  verification: z.object({ entryId: z.string() }),
  correction: z.object({
    correctsEntryId: z.string(), stepId: z.string(), values: Values,
    results: z.record(z.string(), z.enum(['pass', 'fail', 'alert'])), reason: z.string(),
    used: Used,
  }),
  deviation: z.object({
    kind: z.enum(['oos', 'timing', 'manual', 'post-release']),
    severity: z.enum(['minor', 'major', 'critical']),
    stepId: z.string().optional(), entryId: z.string().optional(), description: z.string(),
  }),
  termination: z.object({ reason: z.string() }),
  /** QA's signed investigation of a deviation (C3): it moves the deviation to `investigating`; a later one supersedes it. */
  'deviation-investigation': z.object({
    deviationId: z.string(), rootCause: z.string(), productImpact: z.string(), otherBatchesImpact: z.string(),
    capaReference: z.string().optional(),
  }),
  /** QA closes a deviation (signed `approved`): the investigation as concluded and the conclusion. */
  'deviation-closure': z.object({ deviationId: z.string(), investigation: z.string(), conclusion: z.string() }),
  /** QA changes a deviation's severity, with the reason (signed `approved`). */
  'deviation-reclassification': z.object({
    deviationId: z.string(), from: z.enum(['minor', 'major', 'critical']), to: z.enum(['minor', 'major', 'critical']), reason: z.string(),
  }),
  /** QA's signed review of the record and its audit trail (C4): the exceptions it covered, by id. */
  review: z.object({ comment: z.string().optional(), covered: z.array(z.string()) }),
  /**
   * QA's signed disposition. `conditional`: released while results that may follow release are still
   * pending (their step ids in `pendingTests`); `failedTests`: what an exceptional release accepted.
   */
  disposition: z.object({
    decision: z.enum(['release', 'reject', 'exceptional-release']),
    justification: z.string().optional(), physicianRequest: z.string().optional(),
    conditional: z.boolean(), pendingTests: z.array(z.string()), failedTests: z.array(z.string()),
    reviewEntryId: z.string().optional(),
  }),
} as const;

export type EntryKind = keyof typeof EntryPayloads;
/** The kinds of entry, for the API's Entry.kind (an enum in the OpenAPI description: a client can switch on it). */
export const ENTRY_KINDS = Object.keys(EntryPayloads) as [EntryKind, ...EntryKind[]];
export type EntryPayload<K extends EntryKind> = z.infer<(typeof EntryPayloads)[K]>;

/**
 * Parses a stored payload by its kind; a row that does not parse is a corrupt record. A stored row never
 * changes, and a request reads the same payloads several times (the replay, the batch's identity, its
 * view; the next request on the batch again): each text is parsed once and the parsed value, frozen, is
 * kept by its kind and text (at most PARSED_KEPT, the oldest forgotten first). Frozen, because requests
 * share it: code that changed a payload in place would throw instead of changing another's record.
 */
export function parsePayload<K extends EntryKind>(kind: K, json: string): EntryPayload<K> {
  let byText = parsed.get(kind);
  if (!byText) parsed.set(kind, byText = new Map());
  const known = byText.get(json);
  if (known !== undefined) return known as EntryPayload<K>;
  const payload = deepFreeze(EntryPayloads[kind].parse(JSON.parse(json)));
  if (++parsedCount > PARSED_KEPT) {
    for (const m of parsed.values()) m.clear();
    parsedCount = 1;
  }
  byText.set(json, payload);
  return payload as EntryPayload<K>;
}

const PARSED_KEPT = 5_000;
const parsed = new Map<EntryKind, Map<string, unknown>>();
let parsedCount = 0;

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
