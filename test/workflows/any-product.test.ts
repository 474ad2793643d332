// The definition format for any cell product (issue 16): product catalogue, allogeneic donors,
// logarithms and durations, windows that open before their reference, either/or fields, alternative
// routes, repeatable steps ended by a step, steps after release, censored results, the physician role,
// and a checker that names the operators `computed` knows. Pure: definitions, values and machines.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { carT } from '../../workflows/builtin/car-t.js';
import { nk } from '../../workflows/builtin/nk.js';
import { checkDefinition, describeProblem, type CheckResult } from '../../workflows/check.js';
import { compileProcess, foldEvents, stepEvent, statusOf, type BatchEvent } from '../../workflows/compile.js';
import { allSteps, BUILTIN_PRODUCTS, SIGNING_ROLES, type ProcessDefinition, type Step } from '../../workflows/definition.js';
import { computeValues, describeSpec, judgeValues, validateValues, type StepHistory } from '../../workflows/values.js';
import { dayOccurrences, judgeTiming } from '../../workflows/schedule.js';
import { productCatalogue } from '../../server/processes/registry.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MSC_DIR = path.join(ROOT, 'docs', 'examples', 'uc-msc');
const MSC_PRODUCTS = productCatalogue(path.join(MSC_DIR, 'products.json'));
type Json = any;
const msc = (): Json => JSON.parse(fs.readFileSync(path.join(MSC_DIR, 'uc-msc.json'), 'utf8'));
const stepOf = (def: Json, id: string): Json => def.phases.flatMap((p: Json) => p.steps).find((s: Json) => s.id === id);
const text = (en: string) => ({ en, vi: en });
const NOW = new Date('2026-03-10T12:00:00Z');
const H = 3_600_000;

function loaded(def: Json): ProcessDefinition {
  const r = checkDefinition(def, { products: MSC_PRODUCTS });
  if (!r.ok) throw new Error(r.problems.map(describeProblem).join('; '));
  return r.definition;
}
const problems = (r: CheckResult) => (r.ok ? [] : r.problems.map(describeProblem));
const step = (def: ProcessDefinition, id: string): Step => allSteps(def).find((s) => s.id === id)!;
const history = (occ: StepHistory['occurrences'] = {}, weightKg?: number): StepHistory => ({ occurrences: occ, patient: weightKg === undefined ? {} : { weightKg } });
const rec = (stepId: string, n: number, values: Record<string, unknown> = {}): BatchEvent => ({ type: stepEvent(stepId), entryId: `e${n}`, values });

describe('the built-in definitions are untouched', () => {
  it('keep the content hashes running batches pinned', () => {
    // A change of the format must parse the built-ins to the same content: new keys are optional, no defaults.
    // Version 2 of each (issue 11, finding 9); version 1 was car-t 4ce2e3ce…, nk 85a83f55…, held by the databases that ran it.
    expect(carT.version).toBe(2);
    expect(checkDefinition(carT).ok && (checkDefinition(carT) as { hash: string }).hash).toBe('3f1d540fee5bb503937bfe122eb0045077dd8d0f5ee9aa9e8b23dea469358860');
    expect(checkDefinition(nk).ok && (checkDefinition(nk) as { hash: string }).hash).toBe('0460457cba3f7d989585de79d0c8858c82a7ef91c54381cb7479a608d2d3befd');
  });
});

describe('1. product type and batch-number prefix from the site catalogue', () => {
  it('accepts a product type of the catalogue and refuses one that is not in it', () => {
    expect(problems(checkDefinition(msc(), { products: MSC_PRODUCTS }))).toEqual([]);
    expect(problems(checkDefinition(msc()))).toEqual([expect.stringMatching(/productType "MSC" is not in the site's product catalogue \(CAR-T, NK\)/)]);
  });

  it('reads products.json: built-ins keep their prefixes, a type or prefix means one thing', () => {
    expect(MSC_PRODUCTS.map((p) => [p.type, p.prefix])).toEqual([['CAR-T', 'CART'], ['NK', 'NK'], ['MSC', 'MSC']]);
    expect(BUILTIN_PRODUCTS.map((p) => p.type)).toEqual(['CAR-T', 'NK']);
    const dir = fs.mkdtempSync(path.join(ROOT, 'node_modules', '.products-'));
    try {
      const write = (json: unknown) => fs.writeFileSync(path.join(dir, 'products.json'), JSON.stringify(json));
      write([{ type: 'NK', prefix: 'NKC' }]);
      expect(() => productCatalogue(path.join(dir, 'products.json'))).toThrow(/product type NK has the batch-number prefix NK, not NKC/);
      write([{ type: 'TIL', prefix: 'CART' }]);
      expect(() => productCatalogue(path.join(dir, 'products.json'))).toThrow(/prefix CART of TIL is already that of CAR-T/);
      write([{ type: 'TIL', prefix: 'TRN' }]);
      expect(() => productCatalogue(path.join(dir, 'products.json'))).toThrow(/TRN is reserved/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('2. allogeneic processes: donor, recipient only where there is one', () => {
  it('refuses an autologous process that does not always name its patient', () => {
    expect(problems(checkDefinition({ ...msc(), autologous: true }, { products: MSC_PRODUCTS }))).toEqual([expect.stringMatching(/autologous process always names its patient: recipient "optional"/)]);
  });

  it('refuses per-kg values in a process whose batches name no recipient', () => {
    expect(problems(checkDefinition({ ...msc(), recipient: 'none' }, { products: MSC_PRODUCTS })))
      .toEqual([expect.stringMatching(/step "cryopreservation", field "dosePerKg": uses the patient's weight, but batches of this process name no recipient/)]);
  });

  it('computes a per-kg value only when a recipient is known, and then judges it', () => {
    const def = loaded(msc());
    const s = step(def, 'cryopreservation');
    const occ = { harvest: [{ entryId: 'h', recordedAt: '2026-03-10T10:00:00Z', values: {} }] };
    const sent = { freezeStart: '2026-03-10T11:30:00Z', doses: 10, cellsPerDose: 100 };
    const unknown = computeValues(s, sent, history(occ), NOW);
    expect(unknown.dosePerKg).toBeUndefined();
    expect(judgeValues(s, unknown).results).not.toHaveProperty('dosePerKg');
    const known = computeValues(s, sent, history(occ, 40), NOW);
    expect(known.dosePerKg).toBe(2.5);
    expect(judgeValues(s, known).failures).toEqual([expect.objectContaining({ name: 'dosePerKg' })]);
  });
});

describe('3. logarithms and durations', () => {
  it('computes population doublings (log2), doubling time and the time between two recorded times', () => {
    const def = loaded(msc());
    const occ = { 'culture-start': [{ entryId: 'c', recordedAt: '2026-03-02T12:00:00Z', values: { cultureStart: '2026-03-02T12:00:00Z', seededCells: 10 } }] };
    const harvest = computeValues(step(def, 'harvest'), { harvestedCells: 640, viabilityFlow: 92 }, history(occ), NOW);
    expect(harvest.populationDoublings).toBe(6);
    expect(harvest.doublingTime).toBe(32); // 192 h / 6 doublings
    const digestion = computeValues(step(def, 'enzymatic-digestion'), { digestionStart: '2026-03-10T08:00:00Z', digestionEnd: '2026-03-10T10:30:00Z' }, history(), NOW);
    expect(digestion.digestionMinutes).toBe(150);
    const freeze = computeValues(step(def, 'cryopreservation'), { freezeStart: '2026-03-10T11:30:00Z', doses: 2, cellsPerDose: 50 }, history({ harvest: [{ entryId: 'h', recordedAt: '2026-03-10T10:00:00Z', values: {} }] }), NOW);
    expect(freeze.timeToFreeze).toBe(90);
  });

  it('leaves a logarithm of zero or less empty instead of -Infinity or NaN', () => {
    const def = loaded(msc());
    const occ = { 'culture-start': [{ entryId: 'c', recordedAt: '2026-03-02T12:00:00Z', values: { cultureStart: '2026-03-02T12:00:00Z', seededCells: 10 } }] };
    const harvest = computeValues(step(def, 'harvest'), { harvestedCells: 0, viabilityFlow: 92 }, history(occ), NOW);
    expect(harvest.populationDoublings).toBeUndefined();
    expect(harvest.doublingTime).toBeUndefined();
  });

  it('names the allowed operators when `computed` uses one it does not know', () => {
    const def = msc();
    stepOf(def, 'harvest').fields[3].computed = { pow: [2, { field: 'harvestedCells' }] };
    const [p] = problems(checkDefinition(def, { products: MSC_PRODUCTS }));
    expect(p).toMatch(/step "harvest", field "populationDoublings"/);
    expect(p).toMatch(/unsupported operator "pow" in computed; allowed: field, patient, add, sub, mul, div, log, log2, ln, daysSince, hoursSince, hoursBetween, minutesBetween/);
  });

  it('refuses a duration between a datetime and a number field', () => {
    const def = msc();
    stepOf(def, 'enzymatic-digestion').fields[3].computed = { minutesBetween: [{ field: 'digestionStart' }, { step: 'tissue-processing', field: 'cordLength' }] };
    expect(problems(checkDefinition(def, { products: MSC_PRODUCTS }))).toEqual([expect.stringMatching(/field "cordLength" of step "tissue-processing", a number field where a datetime is needed/)]);
  });
});

describe('4. windows that open before their reference time', () => {
  it('judges a maternal sample within ±7 days of delivery', () => {
    const s = step(loaded(msc()), 'donor-screening');
    const at = (sampleDaysFromDelivery: number) => judgeTiming(s, { deliveryAt: '2026-03-09T00:00:00Z', maternalSampleAt: new Date(Date.parse('2026-03-09T00:00:00Z') + sampleDaysFromDelivery * 24 * H).toISOString() }, history(), NOW);
    expect(at(-6)).toBeNull();
    expect(at(0.5)).toBeNull();
    expect(at(-8)).toBe('Cord receipt and maternal screening was recorded 192 h before deliveryAt, before its window (from 168 h before until 168 h after it)');
  });
});

describe('5. either/or fields and alternative routes', () => {
  it('refuses a step where none of an either/or group is recorded', () => {
    const s = step(loaded(msc()), 'harvest');
    expect(validateValues(s, { harvestedCells: 100 }, NOW)).toEqual([{ field: 'values.viabilityTrypan', message: 'at least one of Viability (trypan blue), Viability (7-AAD) is required' }]);
    expect(validateValues(s, { harvestedCells: 100, viabilityFlow: 91 }, NOW)).toEqual([]);
    // A correction sends only what it corrects.
    expect(validateValues(s, { harvestedCells: 110 }, NOW, true)).toEqual([]);
  });

  it('refuses a composite criterion over optional fields when neither is recorded', () => {
    const s: Step = {
      ...step(loaded(msc()), 'release-phenotype'),
      fields: [
        { name: 'a', label: text('Read-out A'), kind: 'number', required: false },
        { name: 'b', label: text('Read-out B'), kind: 'number', required: false },
      ],
      criteria: [{ id: 'potency', label: text('Potency'), anyOf: [{ field: 'a', spec: { min: 1 } }, { field: 'b', spec: { min: 2 } }] }],
    };
    expect(validateValues(s, {}, NOW)).toEqual([{ field: 'values.a', message: 'Potency: at least one of Read-out A, Read-out B is required' }]);
    expect(judgeValues(s, {}).results).toEqual({ potency: 'fail' });
    expect(judgeValues(s, { b: 3 }).results).toEqual({ potency: 'pass' });
  });

  it('refuses atLeastOneOf over a required or unknown field', () => {
    const def = msc();
    stepOf(def, 'harvest').atLeastOneOf = [['harvestedCells', 'nothing']];
    expect(problems(checkDefinition(def, { products: MSC_PRODUCTS }))).toEqual([
      'step "harvest", field "harvestedCells": atLeastOneOf is for optional fields the client sends (required: false, not computed)',
      'step "harvest", field "nothing": atLeastOneOf names a field that does not exist',
    ]);
  });

  it('runs the route chosen and skips the other: the step after both waits for neither', () => {
    const def = loaded(msc());
    const machine = compileProcess(def);
    const start = [rec('donor-screening', 1), rec('donor-eligibility', 2)];
    const explant = foldEvents(machine, [...start, rec('tissue-processing', 3, { isolationMethod: 'explant', cordLength: 30 })]);
    expect(explant.can(rec('explant-culture', 4))).toBe(true);
    expect(explant.can(rec('enzymatic-digestion', 4))).toBe(false);
    expect(explant.can(rec('culture-start', 4))).toBe(false);
    const after = foldEvents(machine, [...start, rec('tissue-processing', 3, { isolationMethod: 'explant', cordLength: 30 }), rec('explant-culture', 4)]);
    expect(after.can(rec('culture-start', 5))).toBe(true);
    const enzymatic = foldEvents(machine, [...start, rec('tissue-processing', 3, { isolationMethod: 'enzymatic', cordLength: 30 })]);
    expect(enzymatic.can(rec('enzymatic-digestion', 4))).toBe(true);
    expect(enzymatic.can(rec('explant-culture', 4))).toBe(false);
  });

  it('walks every route at load: the steps of each route are reachable, whatever field chooses it', () => {
    // One walk would take only the first option and find the other route's step never offered.
    expect(problems(checkDefinition(msc(), { products: MSC_PRODUCTS }))).toEqual([]);
    const def = msc();
    stepOf(def, 'tissue-processing').fields[1] = { name: 'isolationMethod', label: text('Explant'), kind: 'boolean' };
    stepOf(def, 'enzymatic-digestion').when.equals = false;
    stepOf(def, 'explant-culture').when.equals = true;
    expect(problems(checkDefinition(def, { products: MSC_PRODUCTS }))).toEqual([]);
    // A step of no route that waits for a route step is still reached: a skipped step is satisfied.
    stepOf(def, 'culture-start').after = ['explant-culture'];
    expect(problems(checkDefinition(def, { products: MSC_PRODUCTS }))).toEqual([]);
  });

  it('refuses a route chosen by a field that cannot take the value', () => {
    const def = msc();
    stepOf(def, 'explant-culture').when.equals = 'mechanical';
    expect(problems(checkDefinition(def, { products: MSC_PRODUCTS }))).toContainEqual(expect.stringMatching(/step "explant-culture": when: "isolationMethod" of step "tissue-processing" \(choice: enzymatic, explant\) never equals "mechanical"/));
  });
});

describe('options labelled in both languages', () => {
  it('labels every option or none, and only the options the field has', () => {
    const def = msc();
    const field = stepOf(def, 'tissue-processing').fields.find((f: Json) => f.name === 'isolationMethod');
    expect(loaded(def)).toBeTruthy();
    delete field.optionLabels.explant;
    field.optionLabels.mechanical = text('Mechanical');
    expect(problems(checkDefinition(def, { products: MSC_PRODUCTS }))).toEqual([
      'step "tissue-processing", field "isolationMethod": optionLabels names values that are not among the options: mechanical',
      'step "tissue-processing", field "isolationMethod": optionLabels has no label for explant: label every option or none',
    ]);
    const onText = msc();
    stepOf(onText, 'tissue-processing').fields.find((f: Json) => f.name === 'cordLength').optionLabels = { a: text('A') };
    expect(problems(checkDefinition(onText, { products: MSC_PRODUCTS }))).toContainEqual('step "tissue-processing", field "cordLength": optionLabels needs the field to have options');
  });
});

describe('6. required days of a repeatable step that end at a step', () => {
  it('stops offering the culture check once the harvest is recorded, and drops its later days', () => {
    const def = loaded(msc());
    const machine = compileProcess(def);
    const events = [rec('donor-screening', 1), rec('donor-eligibility', 2), rec('tissue-processing', 3, { isolationMethod: 'explant' }), rec('explant-culture', 4), rec('culture-start', 5), rec('culture-check', 6)];
    expect(foldEvents(machine, events).can(rec('culture-check', 7))).toBe(true);
    const harvested = foldEvents(machine, [...events, rec('harvest', 7), { type: 'verify', entryId: 'e7' }]);
    expect(harvested.can(rec('culture-check', 8))).toBe(false);
    expect(harvested.can(rec('cryopreservation', 8))).toBe(true);
    const s = step(def, 'culture-check');
    const occ = {
      'culture-start': [{ entryId: 'c', recordedAt: '2026-03-01T08:00:00Z', values: { cultureStart: '2026-03-01T08:00:00Z' } }],
      'culture-check': [{ entryId: 'k', recordedAt: '2026-03-04T09:00:00Z', values: {} }],
    };
    expect(dayOccurrences(s, history(occ)).map((d) => d.day)).toEqual([3, 7]);
    const early = { ...occ, harvest: [{ entryId: 'h', recordedAt: '2026-03-06T08:00:00Z', values: {} }] };
    expect(dayOccurrences(s, history(early)).map((d) => d.day)).toEqual([3]);
  });

  it('refuses until on a step that is not repeatable or names a step before it', () => {
    const def = msc();
    stepOf(def, 'culture-check').until = 'culture-start';
    expect(problems(checkDefinition(def, { products: MSC_PRODUCTS }))).toContainEqual('step "culture-check": until names "culture-start", which is recorded before this step: it would never be offered');
  });
});

describe('7. steps after release', () => {
  it('offers thaw and dose issue only on a released batch, repeatedly', () => {
    const def = loaded(msc());
    const machine = compileProcess(def);
    const events: BatchEvent[] = [
      rec('donor-screening', 1), rec('donor-eligibility', 2), rec('tissue-processing', 3, { isolationMethod: 'enzymatic' }), rec('enzymatic-digestion', 4),
      rec('culture-start', 5), rec('culture-check', 6), rec('harvest', 7), { type: 'verify', entryId: 'e7' }, rec('cryopreservation', 8),
      rec('release-sterility', 9), rec('release-endotoxin', 10), rec('release-phenotype', 11),
    ];
    const review = foldEvents(machine, events);
    expect(statusOf(review)).toBe('qa_review');
    expect(review.can(rec('thaw', 12))).toBe(false);
    const released = foldEvents(machine, [...events, { type: 'dispose.release' }, rec('thaw', 12), rec('dose-issue', 13), { type: 'verify', entryId: 'e13' }, rec('thaw', 14)]);
    expect(statusOf(released)).toBe('released');
    expect(released.can(rec('dose-issue', 15))).toBe(true);
  });

  it('refuses a manufacturing step that waits for a step after release (dead end)', () => {
    const def = msc();
    stepOf(def, 'cryopreservation').after = ['harvest', 'thaw'];
    expect(problems(checkDefinition(def, { products: MSC_PRODUCTS }))).toContainEqual('step "cryopreservation": waits for "thaw", a step after release: the batch would never reach release (dead end)');
  });
});

describe('8. censored results', () => {
  const def = loaded(msc());
  const endotoxin = step(def, 'release-endotoxin');
  const phenotype = step(def, 'release-phenotype');

  it('accepts "< 0.05 EU/mL" as {below: 0.05} and judges the whole interval against the spec', () => {
    expect(validateValues(endotoxin, { endotoxin: { below: 0.05 } }, NOW)).toEqual([]);
    expect(judgeValues(endotoxin, { endotoxin: { below: 0.05 } }).results).toEqual({ endotoxin: 'pass' });
    // "< 1" may be 0.8: it cannot show the product meets "< 0.5".
    const r = judgeValues(endotoxin, { endotoxin: { below: 1 } });
    expect(r.failures).toEqual([{ name: 'endotoxin', description: 'Endotoxin < 1 EU/mL is outside the specification < 0.5 EU/mL' }]);
    expect(judgeValues(endotoxin, { endotoxin: { above: 10 } }).results).toEqual({ endotoxin: 'fail' });
    expect(judgeValues(phenotype, { cd73: 99, cd90: 98, cd45: { below: 0.5 } }).results).toMatchObject({ cd45: 'pass' });
    expect(describeSpec({ maxExclusive: 0.5 }, 'EU/mL')).toBe('< 0.5 EU/mL');
  });

  it('refuses a malformed censored value, one outside the physical limits, and censoring on a field that does not allow it', () => {
    expect(validateValues(endotoxin, { endotoxin: { below: 0.05, above: 1 } }, NOW)).toEqual([{ field: 'values.endotoxin', message: 'Endotoxin must be a number, or censored as {"below": n} or {"above": n}' }]);
    expect(validateValues(endotoxin, { endotoxin: { below: -1 } }, NOW)).toEqual([{ field: 'values.endotoxin', message: 'Endotoxin cannot be below 0 EU/mL' }]);
    expect(validateValues(phenotype, { cd73: { below: 5 }, cd90: 98, cd45: 1 }, NOW)).toEqual([{ field: 'values.cd73', message: 'CD73+ must be a number' }]);
    const bad = msc();
    stepOf(bad, 'release-sterility').fields[0].censored = true;
    expect(problems(checkDefinition(bad, { products: MSC_PRODUCTS }))).toEqual(['step "release-sterility", field "sterility": only a measured number or numeric result may be censored (not an integer, option-valued or computed field)']);
  });
});

describe('9. a clinical role', () => {
  it('lets a definition name the physician as the signer of the eligibility determination', () => {
    expect(SIGNING_ROLES).toContain('physician');
    expect(step(loaded(msc()), 'donor-eligibility').signatures).toEqual([{ meaning: 'performed', roles: ['physician'] }]);
  });
});
