// Reading a process definition for the batch page: the order of steps, field definitions in the
// chosen language (for a correction), and which recorded time is "day 0" of the culture.
import { api, read } from '../api/client';
import type { DefinitionStep, Entry, Field, Lang, ProcessDefinition } from '../api/types';

const cache = new Map<string, Promise<ProcessDefinition>>();
export function loadProcess(id: string): Promise<ProcessDefinition> {
  if (!cache.has(id)) cache.set(id, read(api.GET('/api/v1/processes/{id}', { params: { path: { id } } })));
  return cache.get(id)!;
}

/** A definition's fields as a step form reads them (the API's StepField): the label in the chosen
 *  language (and its options' labels), and a computed field (an expression in the definition) marked as computed. */
export const fieldsOf = (step: DefinitionStep, lang: Lang): Field[] =>
  step.fields.map(({ optionLabels, ...f }) => ({
    ...f, label: f.label[lang], required: f.required !== false, computed: f.computed !== undefined,
    ...(optionLabels && { optionLabels: Object.fromEntries(Object.entries(optionLabels).map(([o, l]) => [o, l[lang]])) }),
  }));

/** The {step, field} whose recorded time the definition counts culture days from (daysSince), if any. */
export function dayZeroRef(def: ProcessDefinition): { step: string; field: string } | undefined {
  for (const ph of def.phases) for (const s of ph.steps) for (const f of s.fields) {
    const c = f.computed as { daysSince?: { step?: string; field?: string } } | undefined;
    if (c && typeof c === 'object' && c.daysSince?.step && c.daysSince.field) return { step: c.daysSince.step, field: c.daysSince.field };
  }
  return undefined;
}

/** Day 0 of the culture as a time, once the step that starts it is recorded. */
export function dayZero(def: ProcessDefinition, entries: Entry[]): number | undefined {
  const ref = dayZeroRef(def);
  if (!ref) return undefined;
  const e = entries.find((x) => x.kind === 'step' && x.stepId === ref.step);
  const v = e?.values?.[ref.field];
  return typeof v === 'string' ? Date.parse(v) : undefined;
}

export const cultureDay = (day0: number | undefined, at: string | undefined) =>
  day0 === undefined || !at ? undefined : Math.floor((Date.parse(at) - day0) / 86_400_000);
