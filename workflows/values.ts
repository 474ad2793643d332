// Values of a step against its field definitions: validation (400), computation (server-filled) and
// judgement against specifications (pass / fail / alert). Pure functions; time comes in as `now`.
import type { Criterion, Expr, Field, Ref, Spec, Step } from './definition.js';

export interface FieldError { field: string; message: string }

/** What earlier steps recorded, with corrections applied: the data computed values and windows read. */
export interface StepHistory {
  /**
   * step id → occurrences in recording order. `performedAt` is when the work was done at the bench
   * (absent: when it was recorded, as for entries made before performed-at existed): windows, culture
   * days and "when an earlier step was performed" read it (performedAtOf), never the recording time.
   */
  occurrences: Record<string, { entryId: string; recordedAt: string; performedAt?: string; values: Record<string, unknown> }[]>;
  /** The recipient, when the batch names one (an allogeneic batch may not): per-kg values need it. */
  patient: { weightKg?: number };
}

/** When an occurrence was performed at the bench. */
export const performedAtOf = (o: { recordedAt: string; performedAt?: string }) => o.performedAt ?? o.recordedAt;

/** A censored result: below (or above) what the method quantifies, "< 0.05 EU/mL". */
export type Censored = { below: number } | { above: number };

export function isCensored(v: unknown): v is Censored {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  const n = (v as Record<string, unknown>)[keys[0]];
  return keys.length === 1 && (keys[0] === 'below' || keys[0] === 'above') && typeof n === 'number' && Number.isFinite(n);
}

const ISO_UTC = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?Z$/;

/**
 * An ISO-8601 UTC time that names a real instant: Date.parse rolls 2026-02-30 over to 2 March and reads
 * T24:00 as the next midnight, so each part is compared with the instant it parses to. A time the
 * operator did not write must not be recorded in its place (ALCOA+: accurate).
 */
export function isIsoUtc(v: unknown): v is string {
  const m = typeof v === 'string' ? ISO_UTC.exec(v) : null;
  if (!m) return false;
  const t = new Date(Date.parse(v as string));
  if (Number.isNaN(t.getTime())) return false;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map((part) => Number(part ?? 0));
  return t.getUTCFullYear() === y && t.getUTCMonth() + 1 === mo && t.getUTCDate() === d
    && t.getUTCHours() === h && t.getUTCMinutes() === mi && t.getUTCSeconds() === s;
}

/**
 * Checks values a client sent against the step's fields: unknown or computed fields, missing required
 * ones, wrong JSON types, options, physical limits, datetimes in the future. `partial` is a correction:
 * only the corrected fields are sent.
 */
export function validateValues(step: Step, values: Record<string, unknown>, now: Date, partial = false): FieldError[] {
  const errors: FieldError[] = [];
  const byName = new Map(step.fields.map((f) => [f.name, f]));
  for (const name of Object.keys(values)) {
    const f = byName.get(name);
    if (!f) errors.push({ field: `values.${name}`, message: `step ${step.id} has no field "${name}"` });
    else if (f.computed) errors.push({ field: `values.${name}`, message: `${f.label.en} is computed by the server and must not be sent` });
  }
  if (partial && Object.keys(values).length === 0) errors.push({ field: 'values', message: 'a correction names at least one field' });
  for (const f of step.fields) {
    if (f.computed) continue;
    const v = values[f.name];
    if (v === undefined || v === null) {
      // A correction sends only what it changes; a null it sends would erase the value, and a required
      // one cannot be erased (the step would stand without it: ALCOA+ complete). An optional one may.
      if (f.required && (!partial || v === null)) errors.push({ field: `values.${f.name}`, message: partial ? `${f.label.en} is required: a correction cannot erase it` : `${f.label.en} is required` });
      continue;
    }
    const problem = checkKind(f, v, now);
    if (problem) errors.push({ field: `values.${f.name}`, message: problem });
  }
  if (!partial) errors.push(...missingAlternatives(step, values));
  return errors;
}

/**
 * Either/or rules over optional fields: a group of `atLeastOneOf`, and a composite criterion whose
 * fields the client sends. Neither recorded is refused, or the criterion would pass unjudged.
 */
function missingAlternatives(step: Step, values: Record<string, unknown>): FieldError[] {
  const label = (name: string) => step.fields.find((f) => f.name === name)?.label.en ?? name;
  const sent = (name: string) => values[name] !== undefined && values[name] !== null;
  const errors: FieldError[] = [];
  for (const group of step.atLeastOneOf ?? []) {
    if (!group.some(sent)) errors.push({ field: `values.${group[0]}`, message: `at least one of ${group.map(label).join(', ')} is required` });
  }
  for (const c of step.criteria) {
    const names = c.anyOf.map((b) => b.field);
    const computed = names.some((n) => step.fields.find((f) => f.name === n)?.computed);
    if (!computed && !names.some(sent)) errors.push({ field: `values.${names[0]}`, message: `${c.label.en}: at least one of ${[...new Set(names)].map(label).join(', ')} is required` });
  }
  return errors;
}

function checkKind(f: Field, v: unknown, now: Date): string | null {
  if (f.censored && v && typeof v === 'object') {
    if (!isCensored(v)) return `${f.label.en} must be a number, or censored as {"below": n} or {"above": n}`;
    return checkLimits(f, 'below' in v ? v.below : v.above);
  }
  switch (f.kind) {
    case 'number':
    case 'integer': {
      if (typeof v !== 'number' || !Number.isFinite(v)) return `${f.label.en} must be a number`;
      if (f.kind === 'integer' && !Number.isInteger(v)) return `${f.label.en} must be a whole number`;
      return checkLimits(f, v);
    }
    case 'text':
      if (typeof v !== 'string' || v.trim() === '') return `${f.label.en} must be a non-empty text`;
      return v.length > 2000 ? `${f.label.en} is longer than 2000 characters` : null;
    case 'choice':
      return typeof v === 'string' && f.options?.includes(v) ? null : `${f.label.en} must be one of: ${(f.options ?? []).join(', ')}`;
    case 'boolean':
      return typeof v === 'boolean' ? null : `${f.label.en} must be true or false`;
    case 'datetime':
      if (!isIsoUtc(v)) return `${f.label.en} must be an ISO-8601 UTC time (e.g. 2026-01-31T08:30:00Z)`;
      return Date.parse(v) > now.getTime() ? `${f.label.en} (${v}) is later than the current time ${now.toISOString()}` : null;
    case 'lot':
    case 'equipment':
      return typeof v === 'string' && v.length > 0 && v.length <= 100 ? null : `${f.label.en} must be the id of a registered ${f.kind === 'lot' ? 'material lot' : 'equipment'}`;
    case 'identity':
      return typeof v === 'string' && v.length > 0 && v.length <= 64 ? null : `${f.label.en} must be the scanned or keyed code`;
    case 'result':
      if (f.options) return typeof v === 'string' && f.options.includes(v) ? null : `${f.label.en} must be one of: ${f.options.join(', ')}`;
      if (typeof v !== 'number' || !Number.isFinite(v)) return `${f.label.en} must be a number`;
      return checkLimits(f, v);
  }
}

function checkLimits(f: Field, v: number): string | null {
  if (f.limits?.min !== undefined && v < f.limits.min) return `${f.label.en} cannot be below ${f.limits.min}${f.unit ? ` ${f.unit}` : ''}`;
  if (f.limits?.max !== undefined && v > f.limits.max) return `${f.label.en} cannot be above ${f.limits.max}${f.unit ? ` ${f.unit}` : ''}`;
  return null;
}

// ─── computed values ───────────────────────────────────────────────────────────────

const HOUR = 3_600_000;

/** The value a reference points to: a field of this step, or of an earlier step's latest occurrence. */
function lookup(ref: Ref, own: Record<string, unknown>, history: StepHistory, nowIso: string): unknown {
  if (!ref.step) return ref.field ? own[ref.field] : nowIso;
  const list = history.occurrences[ref.step] ?? [];
  const last = list[list.length - 1];
  if (!last) return undefined;
  return ref.field ? last.values[ref.field] : performedAtOf(last);
}

export function evaluate(expr: Expr, own: Record<string, unknown>, history: StepHistory, now: Date): number | undefined {
  const nowIso = now.toISOString();
  const num = (e: Expr) => evaluate(e, own, history, now);
  if (typeof expr === 'number') return expr;
  if ('field' in expr) {
    const v = lookup(expr, own, history, nowIso);
    return typeof v === 'number' ? v : undefined;
  }
  if ('patient' in expr) return history.patient.weightKg;
  if ('hoursBetween' in expr || 'minutesBetween' in expr) {
    const [from, to] = ('hoursBetween' in expr ? expr.hoursBetween : expr.minutesBetween).map((r) => lookup(r, own, history, nowIso));
    if (!isTime(from) || !isTime(to)) return undefined;
    return (Date.parse(to) - Date.parse(from)) / ('hoursBetween' in expr ? HOUR : 60_000);
  }
  if ('log' in expr || 'log2' in expr || 'ln' in expr) {
    const x = num('log' in expr ? expr.log : 'log2' in expr ? expr.log2 : expr.ln);
    // A logarithm of zero or less has no value: the field stays empty rather than -Infinity or NaN.
    if (x === undefined || x <= 0) return undefined;
    return 'log' in expr ? Math.log10(x) : 'log2' in expr ? Math.log2(x) : Math.log(x);
  }
  if ('sumOf' in expr) {
    // Every occurrence, corrections applied; an occurrence without a number leaves the sum unknown.
    const xs = (history.occurrences[expr.sumOf.step] ?? []).map((o) => o.values[expr.sumOf.field]);
    if (xs.length === 0 || xs.some((x) => typeof x !== 'number')) return undefined;
    return (xs as number[]).reduce((a, b) => a + b, 0);
  }
  if ('daysSince' in expr || 'hoursSince' in expr) {
    const ref = 'daysSince' in expr ? expr.daysSince : expr.hoursSince;
    const v = lookup(ref, own, history, nowIso);
    if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) return undefined;
    const hours = (now.getTime() - Date.parse(v)) / HOUR;
    return 'daysSince' in expr ? Math.floor(hours / 24) : hours;
  }
  const fold = (args: Expr[], f: (a: number, b: number) => number) => {
    const xs = args.map(num);
    return xs.some((x) => x === undefined) ? undefined : (xs as number[]).reduce(f);
  };
  if ('add' in expr) return fold(expr.add, (a, b) => a + b);
  if ('mul' in expr) return fold(expr.mul, (a, b) => a * b);
  if ('sub' in expr) return fold(expr.sub, (a, b) => a - b);
  const [a, b] = expr.div.map(num);
  return a === undefined || b === undefined || b === 0 ? undefined : a / b;
}

const isTime = (v: unknown): v is string => typeof v === 'string' && !Number.isNaN(Date.parse(v));

const roundTo = (v: number, decimals = 6) => Math.round(v * 10 ** decimals) / 10 ** decimals;

/** Fills every computed field from the sent values, earlier steps and batch data. */
export function computeValues(step: Step, sent: Record<string, unknown>, history: StepHistory, now: Date): Record<string, unknown> {
  const values: Record<string, unknown> = { ...sent };
  for (const f of step.fields) {
    if (!f.computed) continue;
    const v = evaluate(f.computed, values, history, now);
    if (v !== undefined && Number.isFinite(v)) values[f.name] = f.kind === 'integer' ? Math.round(v) : roundTo(v, f.decimals ?? 4);
  }
  return values;
}

// ─── judgement against specifications ─────────────────────────────────────────────

/**
 * Whether a value meets a spec. A censored value stands for an interval — "< 0.05" for every value from
 * the field's lower physical limit up to 0.05 — and passes only when the whole interval does.
 */
export function withinSpec(spec: Spec, v: unknown, limits?: Field['limits']): boolean {
  if (spec.oneOf) return typeof v === 'string' && spec.oneOf.includes(v);
  if (isCensored(v)) {
    const [lo, hi] = 'below' in v ? [limits?.min ?? -Infinity, v.below] : [v.above, limits?.max ?? Infinity];
    return !(
      (spec.min !== undefined && lo < spec.min) ||
      (spec.minExclusive !== undefined && lo < spec.minExclusive) ||
      (spec.minExclusive !== undefined && lo === spec.minExclusive && 'below' in v) ||
      (spec.max !== undefined && hi > spec.max) ||
      (spec.maxExclusive !== undefined && hi > spec.maxExclusive) ||
      (spec.maxExclusive !== undefined && hi === spec.maxExclusive && 'above' in v)
    );
  }
  if (typeof v !== 'number') return false;
  return !(
    (spec.min !== undefined && v < spec.min) ||
    (spec.max !== undefined && v > spec.max) ||
    (spec.minExclusive !== undefined && v <= spec.minExclusive) ||
    (spec.maxExclusive !== undefined && v >= spec.maxExclusive)
  );
}

/** Human words for a spec: "≥ 70 %", "< 5 EU/mL", "0.4–5 10^6/kg", "no growth". */
export function describeSpec(spec: Spec, unit?: string): string {
  if (spec.oneOf) return spec.oneOf.join(' or ');
  const u = unit ? ` ${unit}` : '';
  const parts: string[] = [];
  if (spec.min !== undefined && spec.max !== undefined) return `${spec.min}–${spec.max}${u}`;
  if (spec.min !== undefined) parts.push(`≥ ${spec.min}`);
  if (spec.minExclusive !== undefined) parts.push(`> ${spec.minExclusive}`);
  if (spec.max !== undefined) parts.push(`≤ ${spec.max}`);
  if (spec.maxExclusive !== undefined) parts.push(`< ${spec.maxExclusive}`);
  return `${parts.join(' and ')}${u}`;
}

export interface Judgement {
  /** field or criterion name → outcome; recorded-only fields are absent. */
  results: Record<string, 'pass' | 'fail' | 'alert'>;
  /** What failed, in words, one item per field or criterion: each opens an OOS deviation. */
  failures: { name: string; description: string }[];
}

export function judgeValues(step: Step, values: Record<string, unknown>): Judgement {
  const results: Judgement['results'] = {};
  const failures: Judgement['failures'] = [];
  for (const f of step.fields) {
    const v = values[f.name];
    if (v === undefined) continue;
    if (f.spec) {
      const ok = withinSpec(f.spec, v, f.limits);
      results[f.name] = ok ? 'pass' : 'fail';
      if (!ok) failures.push({ name: f.name, description: `${f.label.en} ${fmt(v, f.unit)} is outside the specification ${describeSpec(f.spec, f.unit)}` });
    }
    if (f.alert && results[f.name] !== 'fail' && !withinSpec(f.alert, v, f.limits)) results[f.name] = 'alert';
  }
  for (const c of step.criteria) judgeCriterion(step, c, values, results, failures);
  return { results, failures };
}

function judgeCriterion(step: Step, c: Criterion, values: Record<string, unknown>, results: Judgement['results'], failures: Judgement['failures']) {
  // Nothing recorded for any branch (a computed one left empty) fails: an either/or never passes unjudged.
  const branches = c.anyOf.filter((b) => values[b.field] !== undefined);
  const limitsOf = (name: string) => step.fields.find((f) => f.name === name)?.limits;
  const ok = branches.some((b) => withinSpec(b.spec, values[b.field], limitsOf(b.field)));
  results[c.id] = ok ? 'pass' : 'fail';
  if (!ok) {
    const words = c.anyOf.map((b) => {
      const f = step.fields.find((x) => x.name === b.field);
      return `${f?.label.en ?? b.field} ${describeSpec(b.spec, f?.unit)} (was ${fmt(values[b.field], f?.unit)})`;
    });
    failures.push({ name: c.id, description: `${c.label.en} fails: none of ${words.join(' or ')}` });
  }
}

/** A value in words: "0.4 EU/mL", "< 0.05 EU/mL" for a censored one, "not recorded". */
export function fmt(v: unknown, unit?: string): string {
  if (v === undefined) return 'not recorded';
  const u = unit ? ` ${unit}` : '';
  if (isCensored(v)) return 'below' in v ? `< ${v.below}${u}` : `> ${v.above}${u}`;
  return `${String(v)}${u}`;
}


/**
 * The limits that a computed field's specification sets, for this batch, on an input of the same step
 * when the computed value is proportional to it (dose per kg = total cells ÷ the patient's weight).
 * Shown on the input so that the analyst sees what the total must reach for this patient; the judgement
 * stays on the computed field. Undefined when no computed spec is proportional to the input alone.
 */
export function impliedSpec(step: Step, input: Field, history: StepHistory, now: Date): { spec: Spec; from: string } | undefined {
  if (input.computed || input.spec || (input.kind !== 'number' && input.kind !== 'result') || input.options) return undefined;
  for (const c of step.fields) {
    if (!c.computed || !c.spec || c.spec.oneOf) continue;
    const at = (x: number) => evaluate(c.computed!, { [input.name]: x }, history, now);
    const [zero, one, two] = [at(0), at(1), at(2)];
    if (zero === undefined || one === undefined || two === undefined || !(one > 0) || Math.abs(zero) > 1e-12 || Math.abs(two - 2 * one) > 1e-9 * one) continue;
    const d = input.decimals ?? 4;
    const up = (v: number) => Math.ceil(roundTo(v / one) * 10 ** d) / 10 ** d;
    const down = (v: number) => Math.floor(roundTo(v / one) * 10 ** d) / 10 ** d;
    const { min, max, minExclusive, maxExclusive } = c.spec;
    const spec: Spec = {
      ...(min !== undefined && { min: up(min) }), ...(max !== undefined && { max: down(max) }),
      ...(minExclusive !== undefined && { minExclusive: roundTo(minExclusive / one, d) }), ...(maxExclusive !== undefined && { maxExclusive: roundTo(maxExclusive / one, d) }),
    };
    return { spec, from: c.name };
  }
  return undefined;
}
