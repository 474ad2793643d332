// The process definition format: a process is data, validated by these schemas when it is loaded.
// A change to this format is a change to every site's master records: keep it backwards compatible.
import { z } from 'zod';

const slug = z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'lower-case letters, digits and dashes, starting with a letter');
const fieldName = z.string().regex(/^[a-zA-Z][a-zA-Z0-9]{0,62}$/, 'letters and digits, starting with a letter (camelCase)');

/** A text in every language the product ships: English and Vietnamese. */
export const TextSchema = z.strictObject({ en: z.string().min(1), vi: z.string().min(1) });
export type Text = z.infer<typeof TextSchema>;

export const ROLES = ['operator', 'supervisor', 'qc', 'qa', 'admin', 'inspector'] as const;
export const RoleSchema = z.enum(ROLES);
export type Role = z.infer<typeof RoleSchema>;
/** Roles that may sign GMP records; admin and inspector never sign (21 CFR 11.10(g), DESIGN.md). */
export const SIGNING_ROLES = ['operator', 'supervisor', 'qc', 'qa'] as const;
/** 21 CFR 11.10(g): the administrator manages accounts and signs nothing, so `admin` never sits beside a signing role. */
export const ADMIN_COMBINATION_PROBLEM = `admin manages accounts and signs nothing: it cannot be combined with ${SIGNING_ROLES.join(', ')} (give the person a second account)`;
export const adminCombinesWithSigning = (roles: readonly string[]) =>
  roles.includes('admin') && roles.some((r) => (SIGNING_ROLES as readonly string[]).includes(r));

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
  | { daysSince: Ref } | { hoursSince: Ref };
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
  ]),
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
  materialType: z.string().min(1).optional(),
  equipmentType: z.string().min(1).optional(),
  identity: z.enum(['din', 'batchNumber']).optional(),
  /** Filled by the server; a client that sends it is refused. */
  computed: ExprSchema.optional(),
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
  opensAfterHours: z.number().min(0).optional(),
  closesAfterHours: z.number().min(0).optional(),
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
  /** `process` steps run while the batch is in process; `release` steps are the QC release tests. */
  stage: z.enum(['process', 'release']).default('process'),
  /** Steps that must be recorded (and verified, where they need it) before this one. */
  after: z.array(slug).default([]),
  required: z.boolean().default(true),
  repeatable: z.boolean().default(false),
  occurrences: OccurrencesSchema.optional(),
  /** A release test whose result may arrive after release (sterility culture): conditional release. */
  mayFollowRelease: z.boolean().default(false),
  window: WindowSchema.optional(),
  fields: z.array(FieldSchema).min(1),
  criteria: z.array(CriterionSchema).default([]),
  signatures: z.array(SignatureRuleSchema).min(1),
});
export type Step = z.infer<typeof StepSchema>;

export const PhaseSchema = z.strictObject({ id: slug, title: TextSchema, steps: z.array(StepSchema).min(1) });

export const ProcessDefinitionSchema = z.strictObject({
  id: slug,
  version: z.number().int().min(1),
  name: z.string().min(1),
  title: TextSchema,
  productType: z.enum(['CAR-T', 'NK']),
  description: TextSchema.optional(),
  /** Labelling required on every page and container (C6: autologous products). */
  autologous: z.boolean().default(true),
  phases: z.array(PhaseSchema).min(1),
});
export type ProcessDefinitionInput = z.input<typeof ProcessDefinitionSchema>;
export type ProcessDefinition = z.infer<typeof ProcessDefinitionSchema>;

export const allSteps = (def: ProcessDefinition): Step[] => def.phases.flatMap((p) => p.steps);
