// Process definitions are data: the built-ins and a site's own JSON pass the same load-time checks, a
// broken definition is refused naming step and field, and a batch keeps the definition it started with.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { carT } from '../../workflows/builtin/car-t.js';
import { nk } from '../../workflows/builtin/nk.js';
import { checkDefinition, describeProblem, type CheckResult, type DefinitionProblem } from '../../workflows/check.js';
import { compileProcess, stepEvent } from '../../workflows/compile.js';
import { allSteps, ProcessDefinitionSchema } from '../../workflows/definition.js';
import { loadProcesses } from '../../server/processes/registry.js';
import { buildApp } from '../../server/app.js';
import { call, createBatch, din, harness, PASSWORD, ROSTER, sign, type Harness } from '../helpers.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const SITE_FILE = path.join(FIXTURES, 'site-process.json');
const BROKEN_FILE = path.join(FIXTURES, 'broken-process.json');

type Json = any;
const readJson = (file: string): Json => JSON.parse(fs.readFileSync(file, 'utf8'));
const site = (): Json => readJson(SITE_FILE);
const stepOf = (def: Json, id: string): Json => def.phases.flatMap((p: Json) => p.steps).find((s: Json) => s.id === id);

function problemsOf(result: CheckResult): DefinitionProblem[] {
  expect(result.ok, 'the definition should be refused').toBe(false);
  return result.ok ? [] : result.problems;
}

/** The definition is refused with a problem located at the step (and field) whose message matches. */
function expectRefused(def: Json, where: { step: string; field?: string }, message: RegExp) {
  const problems = problemsOf(checkDefinition(def));
  const hit = problems.find((p) => p.step === where.step && (where.field === undefined || p.field === where.field) && message.test(p.message));
  expect(hit, `expected a problem at ${JSON.stringify(where)} matching ${message}; got ${JSON.stringify(problems)}`).toBeDefined();
  const text = describeProblem(hit!);
  expect(text).toContain(`step "${where.step}"`);
  if (where.field) expect(text).toContain(`field "${where.field}"`);
  return hit!;
}

const temps: string[] = [];
const tempDir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cellbatch-processes-'));
  temps.push(d);
  return d;
};
afterEach(() => {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('built-in processes', () => {
  it.each([['car-t', carT], ['nk', nk]])('%s passes every load-time check', (_id, def) => {
    const result = checkDefinition(def);
    expect(result.ok ? [] : result.problems.map(describeProblem)).toEqual([]);
    expect(result.ok && result.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('compiles CAR-T to a machine whose initial state offers only the apheresis receipt', () => {
    const def = ProcessDefinitionSchema.parse(carT);
    const machine = compileProcess(def);
    const [snapshot] = initialTransition(machine);
    expect(snapshot.value).toBe('in_process');
    expect(snapshot.can({ type: 'step.apheresis-receipt', entryId: 'x', values: {} })).toBe(true);
    const others = allSteps(def).filter((s) => s.id !== 'apheresis-receipt');
    expect(others.length).toBeGreaterThan(5);
    for (const s of others) {
      expect(snapshot.can({ type: stepEvent(s.id), entryId: 'x', values: {} }), s.id).toBe(false);
    }
  });
});

describe('a broken definition is refused, naming the step and the field', () => {
  it('takes the number of bags to fill from the formulation, and from its correction', () => {
    const machine = compileProcess(ProcessDefinitionSchema.parse(carT));
    let [snap] = initialTransition(machine);
    for (const id of ['apheresis-receipt', 'starting-material-sample', 'cd4-cd8-selection', 'activation', 'transduction', 'culture-check', 'in-process-control', 'harvest', 'formulation']) {
      const event = { type: stepEvent(id), entryId: `e-${id}`, values: id === 'formulation' ? { bagCount: 2 } : {} };
      expect(snap.can(event), id).toBe(true);
      [snap] = transition(machine, snap, event);
      if (`e-${id}` in snap.context.pending) [snap] = transition(machine, snap, { type: 'verify', entryId: `e-${id}` });
    }
    expect(snap.context.counts['fill-bag']).toBe(2);
    [snap] = transition(machine, snap, { type: 'correct', entryId: 'c-1', correctsEntryId: 'e-formulation', stepId: 'formulation', needsVerification: true, values: { bagCount: 3 } });
    expect(snap.context.counts['fill-bag']).toBe(3);
    expect(snap.can({ type: stepEvent('fill-bag'), entryId: 'x', values: {} })).toBe(false); // the correction awaits verification
  });

  it('accepts the site fixture it starts from', () => {
    const result = checkDefinition(site());
    expect(result.ok ? [] : result.problems.map(describeProblem)).toEqual([]);
  });

  it('refuses steps that wait for each other as unreachable', () => {
    const def = site();
    def.phases[0].steps.push(
      { ...structuredClone(stepOf(def, 'blood-receipt')), id: 'step-a', after: ['step-b'] },
      { ...structuredClone(stepOf(def, 'blood-receipt')), id: 'step-b', after: ['step-a'] },
    );
    const problems = problemsOf(checkDefinition(def));
    const hit = problems.find((p) => (p.step === 'step-a' || p.step === 'step-b') && /unreachable/.test(p.message));
    expect(hit, JSON.stringify(problems)).toBeDefined();
    expect(hit!.message).toContain('step-a');
    expect(hit!.message).toContain('step-b');
  });

  it('refuses a manufacturing step that waits for a release test (a dead end)', () => {
    const def = site();
    stepOf(def, 'culture').after = ['blood-receipt', 'release-viability'];
    expectRefused(def, { step: 'culture' }, /release-viability.*dead end/);
  });

  it('refuses a specification whose minimum is above its maximum', () => {
    const def = site();
    stepOf(def, 'culture').fields[1].spec = { min: 80, max: 20 };
    expectRefused(def, { step: 'culture', field: 'viability' }, /80 is above the upper limit 20/);
  });

  it('refuses a computed field that names a field which does not exist', () => {
    const def = site();
    stepOf(def, 'culture').fields.push({
      name: 'viableCells', label: { en: 'Viable cells', vi: 'Tế bào sống' }, kind: 'number',
      computed: { mul: [{ field: 'totalCells' }, { field: 'viability' }] },
    });
    expectRefused(def, { step: 'culture', field: 'viableCells' }, /"totalCells".*does not exist/);
  });

  it('refuses a lot field without a materialType', () => {
    const def = site();
    delete stepOf(def, 'culture').fields[0].materialType;
    expectRefused(def, { step: 'culture', field: 'mediumLot' }, /materialType/);
  });

  it('refuses a window on a repeatable step: repeatable steps are timed by their occurrences', () => {
    const def = site();
    Object.assign(stepOf(def, 'culture'), { repeatable: true, window: { from: { step: 'blood-receipt' }, closesAfterHours: 4 } });
    expectRefused(def, { step: 'culture' }, /timed by its occurrences/);
  });

  it('refuses required days on a repeatable step that no later step waits for', () => {
    const def = site();
    Object.assign(stepOf(def, 'culture'), { repeatable: true, occurrences: { days: [3], from: { step: 'blood-receipt' } } });
    expectRefused(def, { step: 'culture' }, /needs a later step that waits for it/);
  });

  it('refuses a computed field that reads a computed field listed after it', () => {
    const def = site();
    stepOf(def, 'culture').fields.push(
      { name: 'twice', label: { en: 'Twice', vi: 'Gấp đôi' }, kind: 'number', computed: { mul: [{ field: 'half' }, 4] } },
      { name: 'half', label: { en: 'Half', vi: 'Một nửa' }, kind: 'number', computed: { div: [{ field: 'viability' }, 2] } },
    );
    expectRefused(def, { step: 'culture', field: 'twice' }, /"half" listed after it/);
  });

  it('refuses a window that refers to a step not recorded before it', () => {
    const def = site();
    stepOf(def, 'blood-receipt').window = { from: { step: 'culture' }, closesAfterHours: 4 };
    expectRefused(def, { step: 'blood-receipt' }, /"culture".*not recorded before this step/);
  });

  it('refuses an unknown key in a step (the format is strict)', () => {
    const def = site();
    stepOf(def, 'culture').colour = 'blue';
    expectRefused(def, { step: 'culture' }, /colour/);
  });

  it('refuses an unknown key in a field, naming the field', () => {
    const def = site();
    stepOf(def, 'culture').fields[1].maximum = 100;
    expectRefused(def, { step: 'culture', field: 'viability' }, /maximum/);
  });

  it('refuses a step id used twice', () => {
    const def = site();
    def.phases[0].steps.push({ ...structuredClone(stepOf(def, 'culture')), after: ['culture'] });
    expectRefused(def, { step: 'culture' }, /used twice/);
  });

  it('refuses the broken fixture, naming its step and field', () => {
    expectRefused(readJson(BROKEN_FILE), { step: 'culture', field: 'viability' }, /lower limit 80 is above the upper limit 20/);
  });
});

describe('the content hash a batch pins', () => {
  it('is the same for the same content, whatever the key order of the JSON', () => {
    const a = checkDefinition(site());
    const b = checkDefinition(site());
    const reordered = Object.fromEntries(Object.entries(site()).reverse());
    const c = checkDefinition(reordered);
    expect(a.ok && b.ok && c.ok).toBe(true);
    if (!a.ok || !b.ok || !c.ok) return;
    expect(b.hash).toBe(a.hash);
    expect(c.hash).toBe(a.hash);
  });

  it('changes when the content changes', () => {
    const base = checkDefinition(site());
    const changed = site();
    changed.title.en = 'Site NK cell manufacturing (mini), revised';
    const spec = site();
    stepOf(spec, 'culture').fields[1].spec = { min: 75 };
    const results = [base, checkDefinition(changed), checkDefinition(spec)];
    const hashes = results.map((r) => (r.ok ? r.hash : `refused: ${JSON.stringify(r.problems)}`));
    expect(new Set(hashes).size).toBe(3);
    for (const h of hashes) expect(h).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("a site's process folder", () => {
  it('loads the site definition beside the built-ins', () => {
    const dir = tempDir();
    fs.copyFileSync(SITE_FILE, path.join(dir, 'site-process.json'));
    const registry = loadProcesses(dir);
    const loaded = registry.current('site-nk-mini');
    expect(loaded).toBeDefined();
    expect(loaded!.definition.version).toBe(1);
    expect(loaded!.definition.productType).toBe('NK');
    expect(loaded!.hash).toBe((checkDefinition(site()) as { hash: string }).hash);
    expect(registry.list().map((p) => p.definition.id)).toEqual(['car-t', 'nk', 'site-nk-mini']);
  });

  it('refuses a folder holding a broken definition with an error naming the file, step and field', () => {
    const dir = tempDir();
    fs.copyFileSync(SITE_FILE, path.join(dir, 'site-process.json'));
    fs.copyFileSync(BROKEN_FILE, path.join(dir, 'broken-process.json'));
    expect(() => loadProcesses(dir)).toThrow(Error);
    expect(() => loadProcesses(dir)).toThrow(/broken-process\.json.*step "culture", field "viability"/);
  });

  it('refuses a file that is not JSON', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'half.json'), '{ "id": "site-nk-mini", ');
    expect(() => loadProcesses(dir)).toThrow(/half\.json.*not valid JSON/);
  });

  it('refuses a second definition of the same version with different content', () => {
    const dir = tempDir();
    fs.copyFileSync(SITE_FILE, path.join(dir, 'a.json'));
    const changed = site();
    changed.title.en = 'Changed without a new version';
    fs.writeFileSync(path.join(dir, 'b.json'), JSON.stringify(changed));
    expect(() => loadProcesses(dir)).toThrow(/version 1 is already loaded with different content/);
  });
});

describe('site processes through the API', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('lists the site process in GET /processes', async () => {
    const dir = tempDir();
    fs.copyFileSync(SITE_FILE, path.join(dir, 'site-process.json'));
    h = await harness({ processesDir: dir });
    const r = await call(h, 'op1', 'GET', '/processes');
    expect(r.status).toBe(200);
    const mini = r.body.find((p: Json) => p.id === 'site-nk-mini');
    expect(mini).toMatchObject({ id: 'site-nk-mini', version: 1, productType: 'NK', hash: (checkDefinition(site()) as { hash: string }).hash });
    expect(r.body.map((p: Json) => p.id)).toEqual(expect.arrayContaining(['car-t', 'nk', 'site-nk-mini']));
  });

  it('refuses to start when a version already used by batches was edited in place', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'site-process.json');
    fs.copyFileSync(SITE_FILE, file);
    h = await harness({ processesDir: dir });
    await createBatch(h, 'site-nk-mini', 1);
    await h.app.close();
    const edited = site();
    edited.title.en = 'Edited without a new version';
    fs.writeFileSync(file, JSON.stringify(edited));
    await expect(buildApp({ ...h.location, training: true, processesDir: dir }))
      .rejects.toThrow(/site-nk-mini version 1 was edited after batches used it/);
  });

  it('keeps a batch on the version it started with when a new version is loaded', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'site-process.json');
    fs.copyFileSync(SITE_FILE, file);
    h = await harness({ processesDir: dir });
    const v1 = await createBatch(h, 'site-nk-mini', 1);
    expect(v1.processVersion).toBe(1);
    const v1Hash = v1.processHash as string;
    expect(v1Hash).toBe((checkDefinition(site()) as { hash: string }).hash);

    // Restart with version 2 in place of version 1: the old batch's definition lives on in the store.
    await h.app.close();
    const v2 = site();
    v2.version = 2;
    v2.title.en = 'Site NK cell manufacturing (mini), version 2';
    stepOf(v2, 'culture').fields.push({ name: 'cellCount', label: { en: 'Cell count', vi: 'Số lượng tế bào' }, kind: 'number', unit: '10^6', limits: { min: 0 } });
    fs.writeFileSync(file, JSON.stringify(v2, null, 2));
    const v2Hash = (checkDefinition(v2) as { hash: string }).hash;
    expect(v2Hash).not.toBe(v1Hash);

    const { app, ctx } = await buildApp({ ...h.location, training: true, processesDir: dir, now: () => h!.wall.now });
    const tokens: Record<string, string> = {};
    for (const [username] of ROSTER) {
      const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password: PASSWORD } });
      expect(login.statusCode).toBe(200);
      tokens[username] = login.json().token;
    }
    const first = h;
    h = { ...first, app, ctx, tokens, close: async () => { await app.close(); await first.close(); } };

    const listed = await call(h, 'op1', 'GET', '/processes');
    expect(listed.body.find((p: Json) => p.id === 'site-nk-mini')).toMatchObject({ version: 2, hash: v2Hash });

    const old = await call(h, 'op1', 'GET', `/batches/${v1.id}`);
    expect(old.status).toBe(200);
    expect(old.body).toMatchObject({ processId: 'site-nk-mini', processVersion: 1, processHash: v1Hash, status: 'in_process' });
    expect(old.body.availableSteps.map((s: Json) => s.stepId)).toEqual(['blood-receipt']);

    // The old batch goes on under version 1: its next step shows the version-1 fields.
    const receipt = await call(h, 'op1', 'POST', `/batches/${v1.id}/steps/blood-receipt`, {
      values: { bagScan: din(1).keyed, volume: 50 }, signature: sign('op1'), expectedVersion: old.body.version,
    });
    expect(receipt.status, JSON.stringify(receipt.body)).toBe(201);
    expect(receipt.body.batch).toMatchObject({ processVersion: 1, processHash: v1Hash });
    const culture = receipt.body.batch.availableSteps.find((s: Json) => s.stepId === 'culture');
    expect(culture.fields.map((f: Json) => f.name)).toEqual(['mediumLot', 'viability']);

    const fresh = await createBatch(h, 'site-nk-mini', 2);
    expect(fresh).toMatchObject({ processId: 'site-nk-mini', processVersion: 2, processHash: v2Hash });
    expect(fresh.lockedSteps.map((s: Json) => s.stepId)).toContain('culture');
  });
});
