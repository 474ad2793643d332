// The shapes the UI reads (API.md). Request bodies and paths are checked against the generated
// schema.d.ts; these describe the answers until every route declares its response schema.
export type Lang = 'en' | 'vi';
export type Role = 'operator' | 'supervisor' | 'qc' | 'qa' | 'admin' | 'inspector';

export interface Problem {
  type: string; title: string; status: number; detail: string;
  errors?: { field: string; message: string }[];
}

export interface User {
  id: string; username: string; fullName: string; roles: Role[]; active: boolean; mustChangePassword: boolean;
  locked?: boolean; lockedAt?: string | null;
}
export interface Session { token: string; user: User; mustChangePassword: boolean; csrfToken: string }
export interface Site { training: boolean; now: string; timeZone: string }

export interface Spec { min?: number; max?: number; minExclusive?: number; maxExclusive?: number; oneOf?: unknown[] }
export type FieldKind = 'number' | 'integer' | 'text' | 'choice' | 'boolean' | 'datetime' | 'lot' | 'equipment' | 'identity' | 'result';
export interface Field {
  name: string; label: string; kind: FieldKind; unit?: string; computed?: boolean | object;
  spec?: Spec; alert?: Spec; limits?: { min?: number; max?: number }; decimals?: number;
  options?: string[]; materialType?: string; equipmentType?: string; identity?: 'din' | 'batchNumber'; required: boolean;
}
export interface SignatureRule { meaning: 'performed' | 'verified'; roles: Role[] }
export interface AvailableStep {
  stepId: string; title: string; instructions?: string; stage?: string; repeatable: boolean; required: boolean; remaining?: number;
  window?: { opensAt?: string; closesAt?: string }; fields: Field[]; signatures: SignatureRule[];
}
export interface LockedStep { stepId: string; title: string; reason: string }
export interface StoredSignature { userId: string; username: string; printedName: string; meaning: string; signedAt: string }
export interface Entry {
  id: string; seq: number; kind: string; stepId?: string; values?: Record<string, unknown>; recordedAt: string;
  signatures: StoredSignature[]; verified?: boolean; correctsEntryId?: string; reason?: string; training?: boolean;
}
export type BatchStatus = 'in_process' | 'qc_testing' | 'qa_review' | 'released' | 'rejected' | 'terminated';
export interface Batch {
  id: string; batchNumber: string; processId: string; processVersion: number; processHash: string; status: BatchStatus;
  version: number; din: string; dinCheck: string; chainOfIdentityId: string | null; patient: { id: string; weightKg: number };
  createdAt: string; openDeviations: number; training: boolean; integrity?: boolean;
  availableSteps: AvailableStep[]; lockedSteps: LockedStep[]; entries?: Entry[];
  state?: { pendingVerification?: string[] };
}
export interface Page<T> { items: T[]; nextCursor?: string }
export interface Deviation {
  id: string; batchId: string; kind: 'oos' | 'timing' | 'manual' | 'post-release'; status: 'open' | 'investigating' | 'closed';
  severity: string; stepId?: string; entryId?: string; description: string; openedAt: string;
}
export interface Material { id: string; type: string; name: string; lotNumber: string; expiresOn: string; status: 'released' | 'quarantined' | 'rejected' }
export interface Equipment { id: string; assetId: string; type: string; name: string; calibrationDueOn: string }

/** A process definition as GET /processes/{id} gives it: texts in both languages. */
type Texts = { en: string; vi: string };
export interface DefinitionField extends Omit<Field, 'label' | 'required'> { label: Texts; required?: boolean }
export interface DefinitionStep {
  id: string; title: Texts; instructions?: Texts; stage?: string; repeatable?: boolean; required?: boolean;
  fields: DefinitionField[]; signatures: SignatureRule[];
}
export interface ProcessDefinition { id: string; version: number; title: Texts; phases: { id: string; title: Texts; steps: DefinitionStep[] }[] }
export interface ProcessSummary { id: string; version: number; name: string; title?: Texts; productType: string; hash: string }

// ─── QA (GET /batches/{id}/review, /me/pending) ──────────────────────────────────────────────────
export interface DeviationDetail extends Deviation {
  investigation?: { rootCause: string; productImpact: string; otherBatchesImpact: string; capaReference?: string; signature?: StoredSignature };
  closure?: { investigation: string; conclusion: string; signature?: StoredSignature };
}
export interface ReviewException {
  id: string; kind: string; target: { type: 'entry' | 'deviation' | 'audit' | 'step'; id: string }; stepId?: string;
  at: string; why: string; voidsReview: boolean; covered: boolean;
}
export interface Disposition {
  entryId: string; decision: 'release' | 'reject' | 'exceptional-release'; decidedAt: string; justification?: string; physicianRequest?: string;
  conditional: boolean; pendingTests: string[]; stillPending: string[]; failedTests: string[]; signature: StoredSignature | null;
}
export interface ReleaseTest {
  stepId: string; test: string; specification: string[]; followsRelease: boolean; outcome: 'pass' | 'fail' | 'pending';
  results?: { name: string; label: string; value: unknown; unit?: string; result?: string }[];
}
export interface Review {
  batch: Batch & { disposition: Disposition | null; conditionalRelease: boolean; postReleaseFinding: boolean };
  exceptions: ReviewException[]; reviewable: boolean; blockedBy?: string[];
  reviews: { entryId: string; signedAt: string; comment?: string; signature: StoredSignature | null; current: boolean }[];
  currentReview: { entryId: string; signedAt: string } | null;
  voidedReview?: { entryId: string; signedAt: string };
  deviations: DeviationDetail[]; releaseTests: ReleaseTest[]; disposition: Disposition | null;
}
export interface PendingItem {
  action: 'verify' | 'record-step' | 'enter-result' | 'investigate-deviation' | 'close-deviation' | 'sign-review' | 'dispose';
  batchId: string; batchNumber: string; status: BatchStatus; stepId?: string; entryId?: string; deviationId?: string; title: string;
  due?: 'due' | 'overdue' | 'upcoming'; opensAt?: string; closesAt?: string; detail?: string;
}
