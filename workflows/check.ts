// Load-time checks of a process definition: the format (zod), then coherence — references, specs,
// computed values, windows — and, through the compiled machine itself, that every step is reachable
// and the process never dead-ends before QA review. A bad definition is refused, naming step and field.
import { createHash } from 'node:crypto';
import { initialTransition, transition } from 'xstate';
import { allSteps, BUILTIN_PRODUCTS, ProcessDefinitionSchema, recipientRule, type Expr, type Field, type ProcessDefinition, type ProductType, type Ref, type Spec, type Step } from './definition.js';
import { compileProcess, stepEvent, statusOf } from './compile.js';

export interface DefinitionProblem {
  step?: string; field?: string; message: string;
  /** Where in the JSON: phases.0.steps.2.fields.1 (the definition's own key, or `phases` for the whole process). */
  path?: string;
}
export type CheckResult =
  | { ok: true; definition: ProcessDefinition; hash: string }
  | { ok: false; problems: DefinitionProblem[] };

const NUMERIC = new Set(['number', 'integer', 'result']);

export function describeProblem(p: DefinitionProblem): string {
  const where = [p.step && `step "${p.step}"`, p.field && `field "${p.field}"`].filter(Boolean).join(', ');
  return where ? `${where}: ${p.message}` : p.message;
}

/** The content hash a batch pins: SHA-256 of the canonical JSON of the parsed definition. */
export function definitionHash(def: ProcessDefinition): string {
  const sorted = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sorted)
      : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])]))
        : v;
  return createHash('sha256').update(JSON.stringify(sorted(def))).digest('hex');
}

export interface CheckOptions {
  /** The site's product catalogue; the built-in one (CAR-T, NK) by default. */
  products?: readonly ProductType[];
}

export function checkDefinition(input: unknown, opts: CheckOptions = {}): CheckResult {
  const parsed = ProcessDefinitionSchema.safeParse(input);
  if (!parsed.success) return { ok: false, problems: parsed.error.issues.map((i) => ({ ...locate(input, i.path, i.message), path: i.path.join('.') || 'definition' })) };
  const def = parsed.data;
  const problems = [...checkProduct(def, opts.products ?? BUILTIN_PRODUCTS), ...checkCoherence(def)];
  if (problems.length === 0) problems.push(...checkReachability(def));
  return problems.length ? { ok: false, problems: problems.map((p) => ({ ...p, path: p.path ?? pathOf(def, p) })) } : { ok: true, definition: def, hash: definitionHash(def) };
}

/** The JSON path of the step (and field) a problem names: phases.1.steps.0.fields.3. */
function pathOf(def: ProcessDefinition, p: DefinitionProblem): string {
  for (const [i, phase] of def.phases.entries()) {
    const j = phase.steps.findIndex((s) => s.id === p.step);
    if (j < 0) continue;
    const k = p.field ? phase.steps[j].fields.findIndex((f) => f.name === p.field) : -1;
    return `phases.${i}.steps.${j}${k >= 0 ? `.fields.${k}` : ''}`;
  }
  return 'phases';
}

/** What a definition says about its product and the people a batch of it names. */
function* checkProduct(def: ProcessDefinition, products: readonly ProductType[]): Generator<DefinitionProblem> {
  if (!products.some((p) => p.type === def.productType)) {
    yield { path: 'productType', message: `productType "${def.productType}" is not in the site's product catalogue (${products.map((p) => p.type).join(', ')}): add it to products.json with its batch-number prefix` };
  }
  const recipient = recipientRule(def);
  if (def.autologous && recipient !== 'required') yield { path: 'recipient', message: `an autologous process always names its patient: recipient "${recipient}" needs autologous: false` };
  if (recipient === 'none') {
    for (const s of allSteps(def)) for (const f of s.fields) {
      if (f.computed && usesWeight(f.computed)) yield { step: s.id, field: f.name, message: 'uses the patient\'s weight, but batches of this process name no recipient (recipient "none")' };
    }
  }
  if (def.parents && def.parents.min > def.parents.max) yield { path: 'parents', message: `parents.min (${def.parents.min}) is above parents.max (${def.parents.max})` };
}

const usesWeight = (e: Expr): boolean => typeof e !== 'number' && ('patient' in e || operands(e).some(usesWeight));

/** Turns a zod path (phases.0.steps.2.fields.1.spec) into the step id and field name it points at. */
function locate(input: unknown, path: PropertyKey[], message: string): DefinitionProblem {
  let node: unknown = input;
  const out: DefinitionProblem = { message: `${path.join('.') || '(definition)'}: ${message}` };
  for (let i = 0; i < path.length; i++) {
    node = node && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[path[i] as string] : undefined;
    const id = node && typeof node === 'object' ? (node as Record<string, unknown>) : undefined;
    if (path[i - 1] === 'steps' && typeof id?.id === 'string') out.step = id.id;
    if (path[i - 1] === 'fields' && typeof id?.name === 'string') out.field = id.name;
  }
  return out;
}

function* checkCoherence(def: ProcessDefinition): Generator<DefinitionProblem> {
  const steps = allSteps(def);
  const byId = new Map<string, Step>();
  for (const s of steps) {
    if (byId.has(s.id)) yield { step: s.id, message: 'step id is used twice' };
    byId.set(s.id, s);
  }
  const ancestors = ancestorsOf(steps);
  for (const s of steps) {
    const names = new Set<string>();
    for (const f of s.fields) {
      if (names.has(f.name)) yield { step: s.id, field: f.name, message: 'field name is used twice in the step' };
      names.add(f.name);
      yield* checkField(s, f, byId, ancestors);
    }
    for (const d of s.after) {
      const prior = byId.get(d);
      if (!prior) yield { step: s.id, message: `waits for step "${d}", which does not exist` };
      else if (d === s.id) yield { step: s.id, message: 'waits for itself' };
      else if (s.stage === 'process' && prior.stage === 'release') yield { step: s.id, message: `a manufacturing step cannot wait for the release test "${d}": manufacturing ends before release testing (dead end)` };
    }
    const performed = s.signatures.filter((g) => g.meaning === 'performed').length;
    if (performed !== 1) yield { step: s.id, message: `needs exactly one "performed" signature rule, has ${performed}` };
    if (s.signatures.filter((g) => g.meaning === 'verified').length > 1) yield { step: s.id, message: 'has more than one "verified" signature rule' };
    if (s.occurrences && !s.repeatable) yield { step: s.id, message: 'occurrences are only for repeatable steps' };
    if (s.repeatable && s.window) yield { step: s.id, message: 'a repeatable step is timed by its occurrences, not by a window' };
    if (s.repeatable && s.occurrences && 'days' in s.occurrences && !steps.some((x) => x.after.includes(s.id))) {
      yield { step: s.id, message: 'a repeatable step with required days needs a later step that waits for it, or its missed days are never judged' };
    }
    if (s.mayFollowRelease && s.stage !== 'release') yield { step: s.id, message: 'only a release test may follow release (steps after release have stage "after-release")' };
    for (const d of s.after) {
      if (s.stage !== 'after-release' && byId.get(d)?.stage === 'after-release') yield { step: s.id, message: `waits for "${d}", a step after release: the batch would never reach release (dead end)` };
    }
    yield* checkRoutes(s, byId, ancestors);
    if (s.occurrences) {
      const ref = 'days' in s.occurrences ? s.occurrences.from : s.occurrences.countFrom;
      yield* checkRef(s, undefined, ref, 'days' in s.occurrences ? 'datetime' : 'integer', byId, ancestors, 'occurrences');
    }
    if (s.window) {
      yield* checkRef(s, undefined, s.window.from, 'time', byId, ancestors, 'window');
      if (s.window.at && s.fields.find((f) => f.name === s.window!.at!.field)?.kind !== 'datetime') {
        yield { step: s.id, field: s.window.at.field, message: 'window.at must name a datetime field of this step' };
      }
      const { opensAfterHours: o, closesAfterHours: c } = s.window;
      if (o === undefined && c === undefined) yield { step: s.id, message: 'window needs opensAfterHours or closesAfterHours' };
      if (o !== undefined && c !== undefined && o > c) yield { step: s.id, message: `window opens (${o} h) after it closes (${c} h)` };
    }
    for (const c of s.criteria) {
      for (const b of c.anyOf) {
        const f = s.fields.find((x) => x.name === b.field);
        if (!f) yield { step: s.id, field: b.field, message: `criterion "${c.id}" names a field that does not exist` };
        else yield* checkSpec(s, f, b.spec, `criterion "${c.id}"`);
      }
    }
  }
  yield* findCycles(steps);
}

/** `until`, `when` and `atLeastOneOf`: what ends a repeatable step, the route a step belongs to, either/or fields. */
function* checkRoutes(s: Step, byId: Map<string, Step>, ancestors: Map<string, Set<string>>): Generator<DefinitionProblem> {
  if (s.until) {
    const end = byId.get(s.until);
    if (!s.repeatable) yield { step: s.id, message: 'until is only for repeatable steps' };
    if (!end) yield { step: s.id, message: `until names step "${s.until}", which does not exist` };
    else if (end.id === s.id) yield { step: s.id, message: 'until names the step itself' };
    else if (ancestors.get(s.id)?.has(end.id)) yield { step: s.id, message: `until names "${end.id}", which is recorded before this step: it would never be offered` };
  }
  if (s.when) {
    const route = byId.get(s.when.step);
    const field = route?.fields.find((f) => f.name === s.when!.field);
    if (!route) yield { step: s.id, message: `when names step "${s.when.step}", which does not exist` };
    else if (!ancestors.get(s.id)?.has(route.id)) yield { step: s.id, message: `when names step "${route.id}", which is not recorded before this step (add it to "after")` };
    else if (!field) yield { step: s.id, message: `when names field "${s.when.field}" of step "${route.id}", which does not exist` };
    else if (field.kind === 'boolean' ? typeof s.when.equals !== 'boolean' : !(field.kind === 'choice' && typeof s.when.equals === 'string' && field.options?.includes(s.when.equals))) {
      yield { step: s.id, message: `when: "${s.when.field}" of step "${route.id}" (${field.kind}${field.options ? `: ${field.options.join(', ')}` : ''}) never equals ${JSON.stringify(s.when.equals)}; a route is chosen by a choice or a boolean field` };
    }
  }
  for (const group of s.atLeastOneOf ?? []) {
    for (const name of group) {
      const f = s.fields.find((x) => x.name === name);
      if (!f) yield { step: s.id, field: name, message: 'atLeastOneOf names a field that does not exist' };
      else if (f.required || f.computed) yield { step: s.id, field: name, message: 'atLeastOneOf is for optional fields the client sends (required: false, not computed)' };
    }
  }
}

function* checkField(s: Step, f: Field, byId: Map<string, Step>, ancestors: Map<string, Set<string>>): Generator<DefinitionProblem> {
  const at = { step: s.id, field: f.name };
  if (f.kind === 'lot' && !f.materialType) yield { ...at, message: 'a lot field needs materialType' };
  if (f.kind === 'equipment' && !f.equipmentType) yield { ...at, message: 'an equipment field needs equipmentType' };
  if (f.kind === 'choice' && !f.options) yield { ...at, message: 'a choice field needs options' };
  if (f.optionLabels) {
    const labelled = Object.keys(f.optionLabels);
    if (!f.options) yield { ...at, message: 'optionLabels needs the field to have options' };
    else {
      const strangers = labelled.filter((o) => !f.options!.includes(o));
      const missing = f.options.filter((o) => !labelled.includes(o));
      if (strangers.length) yield { ...at, message: `optionLabels names values that are not among the options: ${strangers.join(', ')}` };
      if (missing.length) yield { ...at, message: `optionLabels has no label for ${missing.join(', ')}: label every option or none` };
    }
  }
  if (f.kind === 'identity' && !f.identity) yield { ...at, message: 'an identity field needs identity ("din" or "batchNumber")' };
  if (f.spec) yield* checkSpec(s, f, f.spec, 'spec');
  if (f.alert) yield* checkSpec(s, f, f.alert, 'alert');
  if (f.limits?.min !== undefined && f.limits.max !== undefined && f.limits.min > f.limits.max) {
    yield { ...at, message: `limits.min (${f.limits.min}) is above limits.max (${f.limits.max})` };
  }
  if (f.censored && (!NUMERIC.has(f.kind) || f.kind === 'integer' || f.options || f.computed)) {
    yield { ...at, message: 'only a measured number or numeric result may be censored (not an integer, option-valued or computed field)' };
  }
  if (f.computed) {
    if (f.kind !== 'number' && f.kind !== 'integer') yield { ...at, message: 'a computed field must be a number or an integer' };
    for (const ref of refsOf(f.computed)) {
      const kind = 'time' in ref ? 'time' : 'number';
      yield* checkRef(s, f, ref.ref, kind, byId, ancestors, 'computed');
      if (!ref.ref.step && ref.ref.field === f.name) yield { ...at, message: 'a computed field cannot refer to itself' };
      const own = !ref.ref.step ? s.fields.findIndex((x) => x.name === ref.ref.field) : -1;
      if (own > s.fields.indexOf(f) && s.fields[own].computed) {
        yield { ...at, message: `refers to the computed field "${ref.ref.field}" listed after it: computed fields are filled in order` };
      }
    }
  }
}

function* checkSpec(s: Step, f: Field, spec: Spec, what: string): Generator<DefinitionProblem> {
  const at = { step: s.id, field: f.name };
  const numeric = [spec.min, spec.max, spec.minExclusive, spec.maxExclusive].some((v) => v !== undefined);
  if (spec.oneOf && numeric) yield { ...at, message: `${what} mixes oneOf with numeric limits` };
  if (spec.oneOf && f.options && spec.oneOf.some((o) => !f.options!.includes(o))) yield { ...at, message: `${what}.oneOf names values that are not among the options` };
  if (spec.oneOf && !f.options) yield { ...at, message: `${what}.oneOf needs the field to have options` };
  if (numeric && !NUMERIC.has(f.kind)) yield { ...at, message: `${what} has numeric limits on a ${f.kind} field` };
  if (numeric && f.kind === 'result' && f.options) yield { ...at, message: `${what} has numeric limits on an option-valued result` };
  const lo = spec.min ?? spec.minExclusive;
  const hi = spec.max ?? spec.maxExclusive;
  if (spec.min !== undefined && spec.minExclusive !== undefined) yield { ...at, message: `${what} has both min and minExclusive` };
  if (spec.max !== undefined && spec.maxExclusive !== undefined) yield { ...at, message: `${what} has both max and maxExclusive` };
  if (lo !== undefined && hi !== undefined && (lo > hi || (lo === hi && (spec.minExclusive !== undefined || spec.maxExclusive !== undefined)))) {
    yield { ...at, message: `${what}: the lower limit ${lo} is above the upper limit ${hi}, no value can pass` };
  }
}

type ExprRef = { ref: Ref } | { ref: Ref; time: true };
function refsOf(e: Expr): ExprRef[] {
  if (typeof e === 'number' || 'patient' in e) return [];
  if ('field' in e) return [{ ref: e }];
  if ('daysSince' in e) return [{ ref: e.daysSince, time: true }];
  if ('hoursSince' in e) return [{ ref: e.hoursSince, time: true }];
  if ('hoursBetween' in e) return e.hoursBetween.map((ref) => ({ ref, time: true as const }));
  if ('minutesBetween' in e) return e.minutesBetween.map((ref) => ({ ref, time: true as const }));
  if ('sumOf' in e) return [{ ref: e.sumOf }];
  return operands(e).flatMap(refsOf);
}

/** The sub-expressions of an arithmetic or logarithm operator (none for references and numbers). */
function operands(e: Exclude<Expr, number>): Expr[] {
  if ('add' in e) return e.add;
  if ('mul' in e) return e.mul;
  if ('sub' in e) return e.sub;
  if ('div' in e) return e.div;
  if ('log' in e) return [e.log];
  if ('log2' in e) return [e.log2];
  if ('ln' in e) return [e.ln];
  return [];
}

/** A reference must name an earlier step (one this step waits for, directly or not) and a field of the right kind. */
function* checkRef(s: Step, f: Field | undefined, ref: Ref, kind: 'number' | 'datetime' | 'integer' | 'time', byId: Map<string, Step>, ancestors: Map<string, Set<string>>, what: string): Generator<DefinitionProblem> {
  const at = { step: s.id, ...(f && { field: f.name }) };
  const target = ref.step ? byId.get(ref.step) : s;
  if (!target) return yield { ...at, message: `${what} refers to step "${ref.step}", which does not exist` };
  if (ref.step && ref.step !== s.id && !ancestors.get(s.id)?.has(ref.step)) {
    yield { ...at, message: `${what} refers to step "${ref.step}", which is not recorded before this step (add it to "after")` };
  }
  if (!ref.field) {
    if (!ref.step) yield { ...at, message: `${what} needs a step or a field` };
    else if (kind !== 'time') yield { ...at, message: `${what} refers to step "${ref.step}" without naming a field` };
    return;
  }
  const field = target.fields.find((x) => x.name === ref.field);
  if (!field) return yield { ...at, message: `${what} refers to field "${ref.field}" of step "${target.id}", which does not exist` };
  const ok = kind === 'number' ? NUMERIC.has(field.kind) && !field.options : kind === 'integer' ? field.kind === 'integer' : field.kind === 'datetime';
  if (!ok) yield { ...at, message: `${what} refers to field "${ref.field}" of step "${target.id}", a ${field.kind} field where a ${kind === 'time' ? 'datetime' : kind} is needed` };
}

function ancestorsOf(steps: Step[]): Map<string, Set<string>> {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const memo = new Map<string, Set<string>>();
  const visit = (id: string, trail: Set<string>): Set<string> => {
    if (memo.has(id)) return memo.get(id)!;
    const out = new Set<string>();
    if (trail.has(id)) return out;
    trail.add(id);
    for (const d of byId.get(id)?.after ?? []) {
      out.add(d);
      for (const a of visit(d, trail)) out.add(a);
    }
    trail.delete(id);
    memo.set(id, out);
    return out;
  };
  for (const s of steps) visit(s.id, new Set());
  return memo;
}

function* findCycles(steps: Step[]): Generator<DefinitionProblem> {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const state = new Map<string, 'open' | 'done'>();
  const reported = new Set<string>();
  function* visit(id: string, path: string[]): Generator<DefinitionProblem> {
    if (state.get(id) === 'done') return;
    if (state.get(id) === 'open') {
      const cycle = [...path.slice(path.indexOf(id)), id];
      if (!reported.has(id)) {
        cycle.forEach((c) => reported.add(c));
        yield { step: id, message: `is unreachable: steps ${cycle.join(' → ')} wait for each other` };
      }
      return;
    }
    state.set(id, 'open');
    for (const d of byId.get(id)?.after ?? []) if (byId.has(d)) yield* visit(d, [...path, id]);
    state.set(id, 'done');
  }
  for (const s of steps) yield* visit(s.id, []);
}

/**
 * Drives the compiled machine as a lab would — record every step it offers, verify what waits for
 * verification, fill counted occurrences — until nothing more is offered, then release and record what
 * follows release. A step never offered is unreachable; a process that stops before QA review
 * dead-ends. Every alternative route is walked: once per option of each field that chooses a route.
 */
function checkReachability(def: ProcessDefinition): DefinitionProblem[] {
  const machine = compileProcess(def);
  const steps = allSteps(def);
  const routeFields = [...new Map(steps.flatMap((s) => (s.when ? [[`${s.when.step}.${s.when.field}`, s.when] as const] : []))).values()];
  const optionsOf = (w: NonNullable<Step['when']>): unknown[] => {
    const f = steps.find((s) => s.id === w.step)?.fields.find((x) => x.name === w.field);
    return f?.kind === 'boolean' ? [true, false] : (f?.options ?? []);
  };
  const defaults = Object.fromEntries(routeFields.map((w) => [`${w.step}.${w.field}`, optionsOf(w)[0]]));
  const variants = routeFields.length === 0 ? [defaults]
    : routeFields.flatMap((w) => optionsOf(w).map((o) => ({ ...defaults, [`${w.step}.${w.field}`]: o })));
  const seen = new Set<string>();
  const problems: DefinitionProblem[] = [];
  for (const choices of variants) {
    const status = walk(machine, steps, choices, seen);
    if (status !== 'qa_review') {
      const route = routeFields.length ? ` on the route ${Object.entries(choices).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join(', ')}` : '';
      problems.unshift({ message: `the process dead-ends in ${status}${route}: it never reaches QA review once every step offered is recorded` });
    }
  }
  for (const s of steps) {
    if (seen.has(s.id)) continue;
    const waiting = s.after.filter((d) => !seen.has(d));
    problems.push({ step: s.id, message: `is unreachable: it is never offered${waiting.length ? ` (it waits for ${waiting.join(', ')})` : ''}` });
  }
  return problems;
}

/** One walk: the status reached before release; the steps offered are added to `seen`. */
function walk(machine: ReturnType<typeof compileProcess>, steps: Step[], choices: Record<string, unknown>, seen: Set<string>): string {
  let [snap] = initialTransition(machine);
  let n = 0;
  let before: string | undefined;
  for (let round = 0; round < 2; round++) {
    for (let progress = true; progress && n < 10_000; ) {
      progress = false;
      for (const id of Object.keys(snap.context.pending)) {
        [snap] = transition(machine, snap, { type: 'verify', entryId: id });
        progress = true;
      }
      for (const s of steps) {
        const due = !s.repeatable || (snap.context.recorded[s.id] ?? 0) < (snap.context.counts[s.id] ?? 1);
        const values = { ...countValues(s), ...Object.fromEntries(s.fields.filter((f) => `${s.id}.${f.name}` in choices).map((f) => [f.name, choices[`${s.id}.${f.name}`]])) };
        const event = { type: stepEvent(s.id), entryId: `check-${n++}`, values };
        if (due && snap.can(event)) {
          [snap] = transition(machine, snap, event);
          seen.add(s.id);
          progress = true;
        }
      }
    }
    if (round === 0) {
      before = statusOf(snap);
      // What follows release is offered on a released batch: release, then walk on.
      if (before !== 'qa_review') break;
      [snap] = transition(machine, snap, { type: 'dispose.release' });
    }
  }
  return before!;
}

/** Values that set the counted occurrences of later steps to one during the reachability walk. */
const countValues = (s: Step) => Object.fromEntries(s.fields.filter((f) => f.kind === 'integer').map((f) => [f.name, 1]));
