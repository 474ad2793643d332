// How recorded values, acceptance ranges and computed values read on paper, from the definition the
// batch was executed against (shared by the batch record and the certificate of analysis).
import type { Expr, Field, ProcessDefinition, Ref, Spec, Step } from '../workflows/definition.js';
import type { BatchRecordExport } from '../schemas/export.js';
import type { UsedSnapshot } from '../schemas/entries.js';
import { formatDay, formatNumber, formatTime } from './format.js';
import { isCensored } from '../workflows/values.js';
import { fill, type Messages, type ReportLang } from './messages/index.js';

export interface Reader {
  lang: ReportLang;
  m: Messages;
  timeZone: string;
  def: ProcessDefinition;
  steps: Map<string, Step>;
  materials: Map<string, BatchRecordExport['materials'][number]>;
  equipment: Map<string, BatchRecordExport['equipment'][number]>;
  users: Map<string, BatchRecordExport['users'][number]>;
}

export function readerOf(doc: BatchRecordExport, lang: ReportLang, m: Messages): Reader {
  return {
    ...readerFor(doc.process.definition as ProcessDefinition, doc.timeZone, lang, m),
    materials: new Map(doc.materials.map((x) => [x.id, x])),
    equipment: new Map(doc.equipment.map((x) => [x.id, x])),
    users: new Map(doc.users.map((u) => [u.id, u])),
  };
}

/** A reader of a document that names no lots, equipment or users by id (signatures carry their printed names). */
export function readerFor(def: ProcessDefinition, timeZone: string, lang: ReportLang, m: Messages): Reader {
  return { lang, m, timeZone, def, steps: new Map(def.phases.flatMap((p) => p.steps).map((s) => [s.id, s])), materials: new Map(), equipment: new Map(), users: new Map() };
}

export const time = (r: Reader, iso: string) => formatTime(iso, r.lang, r.timeZone);
export const num = (r: Reader, n: number, decimals?: number) => formatNumber(n, r.lang, decimals);

/**
 * A recorded value as a reader expects it: with its unit, a lot by its number, equipment by asset id —
 * as the signer saw them (`used`, the entry's snapshot), else as the registry holds them now.
 */
export function valueText(r: Reader, f: Field | undefined, v: unknown, used?: UsedSnapshot): string {
  if (v === undefined || v === null) return '—';
  if (typeof v === 'number') return `${num(r, v, f?.decimals)}${unitText(f?.unit)}`;
  if (typeof v === 'boolean') return v ? r.m.yes : r.m.no;
  // A censored result reads as the method gave it: "< 0.05 EU/mL" (below what it quantifies).
  if (isCensored(v)) return 'below' in v ? `< ${num(r, v.below)}${unitText(f?.unit)}` : `> ${num(r, v.above)}${unitText(f?.unit)}`;
  if (typeof v !== 'string') return JSON.stringify(v);
  if (f?.kind === 'datetime') return time(r, v);
  if (f?.options) return optionText(r, f, v);
  if (f?.kind === 'lot') {
    const lot = used?.kind === 'lot' && used.id === v ? used : r.materials.get(v);
    return lot ? `${lot.lotNumber} (${lot.name}; ${r.m.material.expires} ${formatDay(lot.expiresOn, r.lang)}; ${lot.status})` : v;
  }
  if (f?.kind === 'equipment') {
    const q = used?.kind === 'equipment' && used.id === v ? used : r.equipment.get(v);
    return q ? `${q.assetId} (${q.name}; ${r.m.material.calibration} ${formatDay(q.calibrationDueOn, r.lang)})` : v;
  }
  return v;
}

/** An option of a choice or result as the definition labels it in the document's language; as written without a label. */
export const optionText = (r: Reader, f: Field | undefined, option: string) => f?.optionLabels?.[option]?.[r.lang] ?? option;

/**
 * A unit after its number: " mL", " %"; a count in powers of ten reads as a multiplication
 * ("640.0 × 10^6", "2.00 × 10^6/kg"), never as a second number ("640.0 10^6").
 */
export const unitText = (unit: string | undefined) => (!unit ? '' : /^10\^/.test(unit) ? ` × ${unit}` : ` ${unit}`);

/** An acceptance range in words (the font has no ≥ or ≤). */
export function specText(r: Reader, spec: Spec | undefined, f?: Field): string {
  if (!spec) return '';
  const n = (x: number) => `${num(r, x)}${unitText(f?.unit)}`;
  const parts: string[] = [];
  if (spec.min !== undefined && spec.max !== undefined) parts.push(fill(r.m.spec.range, { min: num(r, spec.min), max: n(spec.max) }));
  else if (spec.min !== undefined) parts.push(fill(r.m.spec.min, { v: n(spec.min) }));
  else if (spec.max !== undefined) parts.push(fill(r.m.spec.max, { v: n(spec.max) }));
  if (spec.minExclusive !== undefined) parts.push(fill(r.m.spec.gt, { v: n(spec.minExclusive) }));
  if (spec.maxExclusive !== undefined) parts.push(fill(r.m.spec.lt, { v: n(spec.maxExclusive) }));
  if (spec.oneOf) parts.push(fill(r.m.spec.any, { v: spec.oneOf.map((o) => optionText(r, f, o)).join(', ') }));
  return parts.join('; ');
}

const stepTitle = (r: Reader, id: string) => r.steps.get(id)?.title[r.lang] ?? id;

/** How a computed value was computed, in words. */
export function exprText(r: Reader, e: Expr, step: Step): string {
  if (typeof e === 'number') return num(r, e);
  if ('field' in e) {
    const owner = e.step ? r.steps.get(e.step) : step;
    const label = owner?.fields.find((f) => f.name === e.field)?.label[r.lang] ?? e.field;
    return e.step && e.step !== step.id ? fill(r.m.expr.of, { field: label, step: stepTitle(r, e.step) }) : label;
  }
  if ('patient' in e) return r.m.expr.weight;
  if ('add' in e) return `(${e.add.map((x) => exprText(r, x, step)).join(' + ')})`;
  if ('sub' in e) return `(${exprText(r, e.sub[0], step)} − ${exprText(r, e.sub[1], step)})`;
  if ('mul' in e) return e.mul.map((x) => exprText(r, x, step)).join(' × ');
  if ('div' in e) return `${exprText(r, e.div[0], step)} ÷ ${exprText(r, e.div[1], step)}`;
  if ('log' in e) return `log10(${exprText(r, e.log, step)})`;
  if ('log2' in e) return `log2(${exprText(r, e.log2, step)})`;
  if ('ln' in e) return `ln(${exprText(r, e.ln, step)})`;
  if ('sumOf' in e) return fill(r.m.expr.sumOf, { field: exprText(r, { field: e.sumOf.field, step: e.sumOf.step }, step), step: stepTitle(r, e.sumOf.step) });
  const refText = (ref: Ref) => (ref.field ? exprText(r, { field: ref.field, ...(ref.step && { step: ref.step }) }, step) : fill(r.m.expr.performed, { step: stepTitle(r, ref.step ?? step.id) }));
  if ('hoursBetween' in e) return fill(r.m.expr.hoursBetween, { from: refText(e.hoursBetween[0]), to: refText(e.hoursBetween[1]) });
  if ('minutesBetween' in e) return fill(r.m.expr.minutesBetween, { from: refText(e.minutesBetween[0]), to: refText(e.minutesBetween[1]) });
  if ('daysSince' in e) return fill(r.m.expr.daysSince, { ref: refText(e.daysSince) });
  return fill(r.m.expr.hoursSince, { ref: refText(e.hoursSince) });
}

/** A signature's manifestation (21 CFR 11.50): printed name, date and time with zone, meaning. */
export function signatureText(r: Reader, s: { printedName: string; username: string; meaning: string; signedAt: string }): string {
  return fill(r.m.signature.line, { name: s.printedName, username: s.username, meaning: r.m.signature.meaning[s.meaning] ?? s.meaning, time: time(r, s.signedAt) });
}

export const userText = (r: Reader, id: string | null) => {
  if (!id) return '—';
  const u = r.users.get(id);
  return u ? `${u.fullName} (${u.username})` : id;
};
