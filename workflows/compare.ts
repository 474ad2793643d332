// The comparison of two versions of a process definition, in words a QA reviewer reads before approving
// a change of a master record (Annex 11 §10, 21 CFR 211.100(a)): steps, fields, specifications,
// windows, signatures and the rest, each added, removed or changed. Pure.
import { allSteps, type Field, type ProcessDefinition, type Spec, type Step } from './definition.js';
import { describeSpec } from './values.js';

export interface Change {
  /** What changed: the process itself, a step, a field, a spec, a window, a signature rule. */
  kind: 'process' | 'step' | 'field' | 'spec' | 'window' | 'signature' | 'criterion';
  change: 'added' | 'removed' | 'changed';
  step?: string;
  field?: string;
  text: string;
}

const json = (v: unknown) => JSON.stringify(v ?? null);
const same = (a: unknown, b: unknown) => json(a) === json(b);
const specWords = (s: Spec | undefined, unit?: string) => (s ? describeSpec(s, unit) : 'none');
const hours = (h: number | undefined) => (h === undefined ? '–' : `${h} h`);
function windowWords(s: Step): string {
  const w = s.window;
  if (!w) return 'none';
  const from = w.from.step ? `${w.from.step}${w.from.field ? `.${w.from.field}` : ''}` : String(w.from.field);
  return `${hours(w.opensAfterHours)} to ${hours(w.closesAfterHours)} after ${from}${w.at ? ` (judged on ${w.at.field})` : ''}`;
}

export function compareDefinitions(a: ProcessDefinition, b: ProcessDefinition): Change[] {
  const changes: Change[] = [];
  const top = (key: keyof ProcessDefinition, words: string) => {
    if (!same(a[key], b[key])) changes.push({ kind: 'process', change: 'changed', text: `${words} changed from ${json(a[key])} to ${json(b[key])}` });
  };
  top('title', 'The title');
  top('productType', 'The product type');
  top('autologous', 'autologous');
  top('recipient', 'The recipient rule');
  top('parents', 'The parent batches rule');
  top('lateEntryToleranceMinutes', 'The late-entry tolerance (minutes)');
  const before = new Map(allSteps(a).map((s) => [s.id, s]));
  const after = new Map(allSteps(b).map((s) => [s.id, s]));
  for (const [id, s] of after) {
    if (!before.has(id)) changes.push({ kind: 'step', change: 'added', step: id, text: `Step "${s.title.en}" (${id}) added, ${s.stage} stage, after ${s.after.join(', ') || 'nothing'}, ${s.fields.length} field(s)` });
  }
  for (const [id, s] of before) {
    if (!after.has(id)) changes.push({ kind: 'step', change: 'removed', step: id, text: `Step "${s.title.en}" (${id}) removed` });
  }
  for (const [id, old] of before) {
    const now = after.get(id);
    if (now) changes.push(...compareSteps(old, now));
  }
  return changes;
}

function compareSteps(a: Step, b: Step): Change[] {
  const out: Change[] = [];
  const step = b.id;
  const name = `Step "${b.title.en}" (${step})`;
  const prop = (key: keyof Step, words: string) => {
    if (!same(a[key], b[key])) out.push({ kind: 'step', change: 'changed', step, text: `${name}: ${words} changed from ${json(a[key])} to ${json(b[key])}` });
  };
  prop('title', 'title');
  prop('stage', 'stage');
  prop('after', 'the steps it waits for');
  prop('required', 'required');
  prop('repeatable', 'repeatable');
  prop('occurrences', 'required occurrences');
  prop('until', 'until');
  prop('when', 'route (when)');
  prop('mayFollowRelease', 'may follow release');
  prop('atLeastOneOf', 'at least one of');
  prop('instructions', 'instructions');
  prop('lateEntryToleranceMinutes', 'the late-entry tolerance (minutes)');
  if (!same(a.window, b.window)) {
    out.push({ kind: 'window', change: !a.window ? 'added' : !b.window ? 'removed' : 'changed', step, text: `${name}: window ${windowWords(a)} → ${windowWords(b)}` });
  }
  for (const meaning of ['performed', 'verified'] as const) {
    const x = a.signatures.find((s) => s.meaning === meaning);
    const y = b.signatures.find((s) => s.meaning === meaning);
    if (same(x, y)) continue;
    const change = !x ? 'added' : !y ? 'removed' : 'changed';
    out.push({ kind: 'signature', change, step, text: `${name}: "${meaning}" signature ${change}${x ? `; was ${x.roles.join(', ')}` : ''}${y ? `; now ${y.roles.join(', ')}` : ''}` });
  }
  const critA = new Map(a.criteria.map((c) => [c.id, c]));
  const critB = new Map(b.criteria.map((c) => [c.id, c]));
  for (const id of new Set([...critA.keys(), ...critB.keys()])) {
    const x = critA.get(id);
    const y = critB.get(id);
    if (same(x, y)) continue;
    out.push({ kind: 'criterion', change: !x ? 'added' : !y ? 'removed' : 'changed', step, text: `${name}: criterion "${(y ?? x)!.label.en}" ${!x ? 'added' : !y ? 'removed' : 'changed'}` });
  }
  const fa = new Map(a.fields.map((f) => [f.name, f]));
  const fb = new Map(b.fields.map((f) => [f.name, f]));
  for (const [n, f] of fb) if (!fa.has(n)) out.push({ kind: 'field', change: 'added', step, field: n, text: `${name}: field "${f.label.en}" (${n}, ${f.kind}) added${f.spec ? `, spec ${specWords(f.spec, f.unit)}` : ''}` });
  for (const [n, f] of fa) if (!fb.has(n)) out.push({ kind: 'field', change: 'removed', step, field: n, text: `${name}: field "${f.label.en}" (${n}) removed` });
  for (const [n, x] of fa) {
    const y = fb.get(n);
    if (y) out.push(...compareFields(name, step, x, y));
  }
  return out;
}

function compareFields(name: string, step: string, a: Field, b: Field): Change[] {
  const out: Change[] = [];
  const field = b.name;
  const where = `${name}, field "${b.label.en}" (${field})`;
  if (!same(a.spec, b.spec)) {
    out.push({ kind: 'spec', change: !a.spec ? 'added' : !b.spec ? 'removed' : 'changed', step, field, text: `${where}: specification ${specWords(a.spec, a.unit)} → ${specWords(b.spec, b.unit)}` });
  }
  for (const [key, words] of [['alert', 'alert limits'], ['limits', 'physical limits'], ['kind', 'kind'], ['unit', 'unit'], ['required', 'required'], ['options', 'options'], ['optionLabels', 'option labels'], ['computed', 'computation'], ['decimals', 'decimals'], ['censored', 'censored'], ['materialType', 'material type'], ['equipmentType', 'equipment type'], ['label', 'label']] as const) {
    if (!same(a[key], b[key])) out.push({ kind: 'field', change: 'changed', step, field, text: `${where}: ${words} changed from ${json(a[key])} to ${json(b[key])}` });
  }
  return out;
}
