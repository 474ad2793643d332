// The process definition format: a process is data, validated by these schemas when it is loaded.
// A change to this format is a change to every site's master records: keep it backwards compatible.
import { z } from 'zod';

const slug = z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'lower-case letters, digits and dashes, starting with a letter');
const fieldName = z.string().regex(/^[a-zA-Z][a-zA-Z0-9]{0,62}$/, 'letters and digits, starting with a letter (camelCase)');

/** A text in every language the product ships: English and Vietnamese. */
export const TextSchema = z.strictObject({ en: z.string().min(1), vi: z.string().min(1) });
export type Text = z.infer<typeof TextSchema>;

/** `physician`: a clinician who signs donor eligibility and other clinical decisions (21 CFR 1271.50), nothing else. */
export const ROLES = ['operator', 'supervisor', 'qc', 'qa', 'admin', 'inspector', 'physician'] as const;
export const RoleSchema = z.enum(ROLES);
export type Role = z.infer<typeof RoleSchema>;
/** Roles that may sign GMP records; admin and inspector never sign (21 CFR 11.10(g), DESIGN.md). */
export const SIGNING_ROLES = ['operator', 'supervisor', 'qc', 'qa', 'physician'] as const;
/** 21 CFR 11.10(g): the administrator manages accounts and signs nothing, so `admin` never sits beside a signing role. */
export const ADMIN_COMBINATION_PROBLEM = `admin manages accounts and signs nothing: it cannot be combined with ${SIGNING_ROLES.join(', ')} (give the person a second account)`;
export const adminCombinesWithSigning = (roles: readonly string[]) =>
  roles.includes('admin') && roles.some((r) => (SIGNING_ROLES as readonly string[]).includes(r));

/**
 * A product type of the site's catalogue and the prefix of its batch numbers (CART-2026-00001). The
 * built-ins bring CAR-T and NK; a site adds its own (products.json beside its definitions).
 */
export const ProductTypeSchema = z.strictObject({
  type: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9+-]{0,31}$/, 'letters, digits, + and -, at most 32 characters'),
  prefix: z.string().regex(/^[A-Z][A-Z0-9]{1,7}$/, '2–8 capital letters and digits, starting with a letter').refine((p) => p !== 'TRN', 'TRN is reserved for training batches'),
  title: TextSchema.optional(),
});
export type ProductType = z.infer<typeof ProductTypeSchema>;
export const BUILTIN_PRODUCTS: ProductType[] = [{ type: 'CAR-T', prefix: 'CART' }, { type: 'NK', prefix: 'NK' }];

/** Acceptance limits. `min`/`max` are inclusive, `minExclusive`/`maxExclusive` exclusive; `oneOf` lists accepted options. */
export const SpecSchema = z.strictObject({
  min: z.number().optional(),
  max: z.number().optional(),
  minExclusive: z.number().optional(),
  maxExclusive: z.number().optional(),
  oneOf: z.array(z.string()).min(1).optional(),
});
export type Spec = z.infer<typeof SpecSchema>;

/** A reference to a datetime (or number) recorded by a step: a field of it, or when it was performed. */
export const RefSchema = z.strictObject({ step: slug.optional(), field: fieldName.optional() });
export type Ref = z.infer<typeof RefSchema>;

/**
 * A computed value. Structured rather than a string formula so that every reference can be checked
 * when the definition is loaded and nothing is ever evaluated as code.
 */
export type Expr =
  | number
  | { field: string; step?: string }
  | { patient: 'weightKg' }
  | { add: Expr[] } | { sub: [Expr, Expr] } | { mul: Expr[] } | { div: [Expr, Expr] }
  | { daysSince: Ref } | { hoursSince: Ref }
  | { log: Expr } | { log2: Expr } | { ln: Expr }
  | { hoursBetween: [Ref, Ref] } | { minutesBetween: [Ref, Ref] }
  /** The sum of a number field over every occurrence of an earlier repeatable step (the fractions of all bags). */
  | { sumOf: { step: string; field: string } };

/** The operators `computed` knows: the checker names them when a definition uses another. */
export const EXPR_OPERATORS = ['field', 'patient', 'add', 'sub', 'mul', 'div', 'log', 'log2', 'ln', 'daysSince', 'hoursSince', 'hoursBetween', 'minutesBetween', 'sumOf'] as const;

/** Words for a computed expression zod could not read: an unknown operator is named with the allowed ones. */
function exprProblem(input: unknown): string {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return `a computed value is a number or an object with one operator (${EXPR_OPERATORS.join(', ')})`;
  const keys = Object.keys(input).filter((k) => k !== 'step');
  const unknown = keys.filter((k) => !(EXPR_OPERATORS as readonly string[]).includes(k));
  if (unknown.length) return `unsupported operator ${unknown.map((k) => `"${k}"`).join(', ')} in computed; allowed: ${EXPR_OPERATORS.join(', ')}`;
  if (keys.length !== 1) return `a computed expression has exactly one operator, found ${keys.join(', ') || 'none'}`;
  const arity: Record<string, string> = {
    add: 'a list of at least two expressions', mul: 'a list of at least two expressions', sub: 'two expressions [a, b]', div: 'two expressions [a, b]',
    log: 'one expression', log2: 'one expression', ln: 'one expression', daysSince: 'a reference {step?, field?}', hoursSince: 'a reference {step?, field?}',
    hoursBetween: 'two references [from, to]', minutesBetween: 'two references [from, to]', field: 'a field name (and optionally a step)', patient: '"weightKg"',
    sumOf: 'a step and a field {step, field}',
  };
  return `"${keys[0]}" takes ${arity[keys[0]]}`;
}

export const ExprSchema: z.ZodType<Expr> = z.lazy(() =>
  z.union([
    z.number(),
    z.strictObject({ field: fieldName, step: slug.optional() }),
    z.strictObject({ patient: z.literal('weightKg') }),
    z.strictObject({ add: z.array(ExprSchema).min(2) }),
    z.strictObject({ sub: z.tuple([ExprSchema, ExprSchema]) }),
    z.strictObject({ mul: z.array(ExprSchema).min(2) }),
    z.strictObject({ div: z.tuple([ExprSchema, ExprSchema]) }),
    z.strictObject({ daysSince: RefSchema }),
    z.strictObject({ hoursSince: RefSchema }),
    z.strictObject({ log: ExprSchema }),
    z.strictObject({ log2: ExprSchema }),
    z.strictObject({ ln: ExprSchema }),
    z.strictObject({ hoursBetween: z.tuple([RefSchema, RefSchema]) }),
    z.strictObject({ minutesBetween: z.tuple([RefSchema, RefSchema]) }),
    z.strictObject({ sumOf: z.strictObject({ step: slug, field: fieldName }) }),
  ], { error: (issue) => exprProblem(issue.input) }),
);

export const FIELD_KINDS = ['number', 'integer', 'text', 'choice', 'boolean', 'datetime', 'lot', 'equipment', 'identity', 'result'] as const;

export const FieldSchema = z.strictObject({
  name: fieldName,
  label: TextSchema,
  kind: z.enum(FIELD_KINDS),
  unit: z.string().optional(),
  /** Decimal places the value is shown and computed with. */
  decimals: z.number().int().min(0).max(6).optional(),
  required: z.boolean().default(true),
  /** Acceptance range; a value outside it is recorded as measured and opens an OOS deviation. */
  spec: SpecSchema.optional(),
  /** Alert limits: a value outside them is flagged on the entry but opens no deviation. */
  alert: SpecSchema.optional(),
  /** Physically possible values; outside them the input is refused (400) as a typing error. */
  limits: z.strictObject({ min: z.number().optional(), max: z.number().optional() }).optional(),
  options: z.array(z.string().min(1)).min(1).optional(),
  /**
   * What each option reads as on screens and documents, in both languages ("spindle-shaped" →
   * "Spindle-shaped" / "Hình thoi"): the option itself is what is stored and judged. Optional; when
   * given, every option has one. An option without a label reads as written.
   */
  optionLabels: z.record(z.string(), TextSchema).optional(),
  materialType: z.string().min(1).optional(),
  equipmentType: z.string().min(1).optional(),
  identity: z.enum(['din', 'batchNumber']).optional(),
  /** Filled by the server; a client that sends it is refused. */
  computed: ExprSchema.optional(),
  /**
   * The value may be recorded as censored, below or above what the method quantifies: {"below": 0.05}
   * reads "< 0.05" (below the limit of detection), {"above": 1000} reads "> 1000". Judged against the spec
   * as the whole interval it stands for (bounded by `limits`).
   */
  censored: z.boolean().optional(),
});
export type Field = z.infer<typeof FieldSchema>;

/** Composite acceptance: passes when any of its branches passes (e.g. potency (a) OR (b)). */
export const CriterionSchema = z.strictObject({
  id: fieldName,
  label: TextSchema,
  anyOf: z.array(z.strictObject({ field: fieldName, spec: SpecSchema })).min(2),
});
export type Criterion = z.infer<typeof CriterionSchema>;

/**
 * When a step should be recorded, relative to a reference time: a datetime field of an earlier step
 * (or of this step), or when an earlier step was performed. `at` names the datetime field of this
 * step that is judged; by default the time the step is recorded. Windows are shown, not enforced:
 * a step outside its window is accepted and opens a timing deviation.
 */
export const WindowSchema = z.strictObject({
  from: RefSchema,
  at: z.strictObject({ field: fieldName }).optional(),
  /** Negative: the window opens before the reference time ("within ±7 days of delivery": -168 and 168). */
  opensAfterHours: z.number().optional(),
  closesAfterHours: z.number().optional(),
});
export type Window = z.infer<typeof WindowSchema>;

/** Required occurrences of a repeatable step: on given days after a reference, or as many as a field says. */
export const OccurrencesSchema = z.union([
  z.strictObject({ days: z.array(z.number().int().min(0)).min(1), from: RefSchema }),
  z.strictObject({ countFrom: RefSchema }),
]);

export const SignatureRuleSchema = z.strictObject({
  meaning: z.enum(['performed', 'verified']),
  roles: z.array(z.enum(SIGNING_ROLES)).min(1),
});

export const StepSchema = z.strictObject({
  id: slug,
  title: TextSchema,
  instructions: TextSchema.optional(),
  /**
   * `process` steps run while the batch is in process; `release` steps are the QC release tests;
   * `after-release` steps are recorded on a released batch (thaw, dose issue, per-dose QC, administration).
   */
  stage: z.enum(['process', 'release', 'after-release']).default('process'),
  /** Steps that must be recorded (and verified, where they need it) before this one. */
  after: z.array(slug).default([]),
  required: z.boolean().default(true),
  repeatable: z.boolean().default(false),
  occurrences: OccurrencesSchema.optional(),
  /** A release test whose result may arrive after release (sterility culture): conditional release. */
  mayFollowRelease: z.boolean().default(false),
  /** A repeatable step is offered until this step is recorded; its required days after that lapse. */
  until: slug.optional(),
  /**
   * An alternative route: the step applies only when a choice (or boolean) of an earlier step has this
   * value (enzymatic or explant isolation). A step that does not apply is skipped: never offered, never
   * required, and the steps after it do not wait for it.
   */
  when: z.strictObject({ step: slug, field: fieldName, equals: z.union([z.string().min(1), z.boolean()]) }).optional(),
  window: WindowSchema.optional(),
  fields: z.array(FieldSchema).min(1),
  criteria: z.array(CriterionSchema).default([]),
  /** Groups of optional fields of which at least one must be recorded (either/or); none is refused (400). */
  atLeastOneOf: z.array(z.array(fieldName).min(2)).min(1).optional(),
  signatures: z.array(SignatureRuleSchema).min(1),
  /** Overrides the process's late-entry tolerance for this step (see ProcessDefinitionSchema). */
  lateEntryToleranceMinutes: z.number().int().min(0).max(7 * 24 * 60).optional(),
});
export type Step = z.infer<typeof StepSchema>;

export const PhaseSchema = z.strictObject({ id: slug, title: TextSchema, steps: z.array(StepSchema).min(1) });

export const ProcessDefinitionSchema = z.strictObject({
  id: slug,
  version: z.number().int().min(1),
  name: z.string().min(1),
  title: TextSchema,
  /** A type of the site's product catalogue (built-ins: "CAR-T", "NK"); it gives the batch-number prefix. */
  productType: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9+-]{0,31}$/, 'letters, digits, + and -, at most 32 characters'),
  description: TextSchema.optional(),
  /** Labelling required on every page and container (C6: autologous products). */
  autologous: z.boolean().default(true),
  /**
   * Whether a batch names its recipient (patient id and weight): always for autologous processes; for an
   * allogeneic one (`autologous: false`, started from a donor) "optional" by default, or "required"/"none".
   */
  recipient: z.enum(['required', 'optional', 'none']).optional(),
  /** The batches a batch is made from (cell-bank genealogy, pooled donors): how many, of which processes. */
  parents: z.strictObject({ min: z.number().int().min(0), max: z.number().int().min(1).max(50), processes: z.array(slug).min(1).optional() }).optional(),
  phases: z.array(PhaseSchema).min(1),
  /**
   * ALCOA+ contemporaneous: a step entered more than this many minutes after the time it says it was
   * performed is a late entry — it needs a reason and is listed for QA's review. Default 30. Optional
   * (not defaulted in the schema) so that a definition's content, and its hash, stay what was written.
   */
  lateEntryToleranceMinutes: z.number().int().min(0).max(7 * 24 * 60).optional(),
});
export type ProcessDefinitionInput = z.input<typeof ProcessDefinitionSchema>;
export type ProcessDefinition = z.infer<typeof ProcessDefinitionSchema>;

/**
 * Every step of a definition, in order. Kept per definition object: views ask for it once per step
 * shown and per step looked up, many times per request, and a loaded definition is never changed (a
 * new version, or an edited draft, is a new object). Callers only read the list.
 */
export function allSteps(def: ProcessDefinition): Step[] {
  let steps = stepLists.get(def);
  if (!steps) stepLists.set(def, (steps = def.phases.flatMap((p) => p.steps)));
  return steps;
}
const stepLists = new WeakMap<ProcessDefinition, Step[]>();

/** A step of a definition by its id (undefined when it has none), through a map kept per definition like allSteps. */
export function stepById(def: ProcessDefinition, id: string): Step | undefined {
  let byId = stepMaps.get(def);
  if (!byId) {
    byId = new Map();
    for (const s of allSteps(def)) if (!byId.has(s.id)) byId.set(s.id, s); // the first, as a search in order finds it
    stepMaps.set(def, byId);
  }
  return byId.get(id);
}
const stepMaps = new WeakMap<ProcessDefinition, Map<string, Step>>();

/** Minutes a step may be entered after it was performed before the entry is late (step, else process, else 30). */
export const DEFAULT_LATE_ENTRY_TOLERANCE_MINUTES = 30;
export const lateEntryTolerance = (def: ProcessDefinition, step: Step) =>
  step.lateEntryToleranceMinutes ?? def.lateEntryToleranceMinutes ?? DEFAULT_LATE_ENTRY_TOLERANCE_MINUTES;

/** Whether a batch of this process names a recipient: "required", "optional" or "none". */
export const recipientRule = (def: ProcessDefinition) => def.recipient ?? (def.autologous ? 'required' : 'optional');
