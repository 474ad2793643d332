// A whole CAR-T batch through the UI, in one browser: every step of the built-in process entered in its
// step form at the bench — op1 performs, op2 witnesses on the same terminal, the lot and equipment
// pickers (choices and scans, refused scans said at once), the identity scans of the apheresis bag
// (another bag's refused) and of each bag label, an out-of-specification temperature warned before
// signing, a correction with its reason, a session that expires with the harvest form half filled —
// the in-process control and the release results by QC, then QA closes the deviation, reviews and
// releases at the desk and downloads the batch record PDF through the page's link. Time is the
// harness's: the training clock is moved between steps as the process asks, and the wall clock past
// the idle limit, never waited for. The first steps in Vietnamese: test/web/bench-terminal.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { ADMIN_PASSWORD, advance, call, din, HOUR, PASSWORD, registerCatalogue } from '../helpers.js';
import { expectAccessible, isFocused, screenshot, startTerminal, type Terminal } from './browser.js';

let term: Terminal;
beforeAll(async () => {
  term = await startTerminal();
  await registerCatalogue(term.h, 'car-t');
  // What the pickers must not offer: a quarantined and an expired buffer lot, a cell processor whose
  // calibration is overdue.
  const yesterday = new Date(term.h.ctx.clock.now().getTime() - 24 * HOUR).toISOString().slice(0, 10);
  const nextYear = new Date(term.h.ctx.clock.now().getTime() + 365 * 24 * HOUR).toISOString().slice(0, 10);
  await call(term.h, 'sup1', 'POST', '/materials', { type: 'buffer', name: 'CliniMACS buffer', lotNumber: 'BUF-QUAR', expiresOn: nextYear });
  await call(term.h, 'qa1', 'POST', '/materials', { type: 'buffer', name: 'CliniMACS buffer', lotNumber: 'BUF-OLD', expiresOn: yesterday, status: 'released' });
  await call(term.h, 'sup1', 'POST', '/equipment', { assetId: 'PRODIGY-OLD', type: 'cell-processor', name: 'CliniMACS Prodigy', calibrationDueOn: yesterday });
}, 120_000);
afterAll(async () => { await term?.close(); });

/** A datetime-local value (the browser runs in UTC) this many hours before the process clock. */
const hoursAgo = (hours: number) => new Date(term.h.ctx.clock.now().getTime() - hours * HOUR).toISOString().slice(0, 16);

async function logIn(page: Page, username: string) {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('button', { name: 'Log out' }).waitFor();
}

/** The API sessions the test calls with, after the wall clock jumped past the idle limit. */
async function renewTokens() {
  for (const username of Object.keys(term.h.tokens)) {
    const password = username === 'admin' ? ADMIN_PASSWORD : PASSWORD;
    term.h.tokens[username] = (await term.h.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password } })).json().token;
  }
}

/** The options a picker offers (its placeholder left out). */
const offered = (form: Locator, label: string) =>
  form.getByLabel(label, { exact: true }).locator('option').evaluateAll((os) => os.map((o) => o.textContent).slice(1));

/** A scan into a focused picker: the scanner types the code and ends it with Enter. */
async function scanInto(form: Locator, label: string, code: string) {
  await form.getByLabel(label, { exact: true }).focus();
  await form.page().keyboard.type(code);
  await form.page().keyboard.press('Enter');
}

type Values = Record<string, string | { choose: string } | { scan: string }>;

/** Fills a step form by label: text, a choice by its option's text, or a scan into a picker. */
async function fill(form: Locator, values: Values) {
  for (const [label, v] of Object.entries(values)) {
    const input = form.getByLabel(label, { exact: true });
    if (typeof v === 'string') await input.fill(v);
    else if ('choose' in v) await input.selectOption({ label: (await offered(form, label)).find((o) => o?.startsWith(v.choose)) ?? v.choose });
    else await scanInto(form, label, v.scan);
  }
}

/** Signs the open step form as the performer (username filled in), and waits for the record. */
async function signAndWait(page: Page, title: string) {
  const dialog = page.getByRole('dialog', { name: 'Sign as performer' });
  // A scan that fills the last field opens the signature itself (Enter ends it).
  if (!await dialog.isVisible()) await page.getByRole('button', { name: 'Sign', exact: true }).click();
  await dialog.getByLabel('Password').fill(PASSWORD);
  await dialog.getByLabel('Password').press('Enter');
  await page.getByRole('status').filter({ hasText: `Recorded: ${title}` }).waitFor();
}

/** The witness verifies on the same terminal. */
async function witness(page: Page, title: string) {
  const verify = page.getByRole('button', { name: `Verify "${title}" (second person)` });
  await expect.poll(() => isFocused(verify)).toBe(true);
  await verify.click();
  const dialog = page.getByRole('dialog', { name: 'Sign as witness (second person)' });
  await dialog.getByLabel('Username').fill('op2');
  await dialog.getByLabel('Password').fill(PASSWORD);
  await dialog.getByLabel('Password').press('Enter');
  await verify.waitFor({ state: 'detached' });
}

/** The form of the step being recorded (a region named by its title). */
const stepForm = (page: Page, title: string) => page.getByRole('region', { name: title, exact: true });

/** Records one step through its form; a step that asks for a second person is verified at once. */
async function record(page: Page, title: string, values: Values, { witnessed = true } = {}) {
  await page.getByRole('button', { name: `Record "${title}"` }).click();
  await fill(stepForm(page, title), values);
  await signAndWait(page, title);
  if (witnessed) await witness(page, title);
}

describe('a whole CAR-T batch through the UI', () => {
  it('is recorded step by step at the bench, tested by QC, reviewed and released by QA, and its record downloaded', async () => {
    const bench = await term.open();
    const { page } = bench;
    await page.goto('/');
    await logIn(page, 'op1');
    await page.getByRole('link', { name: 'Start a batch' }).click();
    await page.getByLabel('Process').selectOption('car-t');
    await page.getByLabel('DIN of the apheresis bag').fill(din(31).keyed);
    await page.getByLabel('Patient identifier').fill('PT-WHOLE-1');
    await page.getByLabel('Patient weight').fill('70');
    await page.getByRole('button', { name: 'Start the batch' }).click();
    await page.getByRole('heading', { name: /^TRN-CART-/ }).waitFor();
    const batchId = page.url().split('/').pop()!;
    const batchNumber = (await page.getByRole('heading', { level: 1 }).textContent())!;
    /** Moves the training clock (as the supervisor would) and reloads the page, which reads it. */
    const clockTo = async (hours: number) => {
      await advance(term.h, hours);
      await page.reload();
      await page.getByRole('heading', { name: batchNumber }).waitFor();
    };

    // Receipt: another bag's DIN scanned first is refused by the field at once (nothing is sent);
    // then this bag's, 19.5 h after collection. The bag arrived at 30 °C, outside 2–25 °C: the form
    // says so while the value is typed, before the signature, and signing it opens a deviation.
    await page.getByRole('button', { name: 'Record "Apheresis receipt"' }).click();
    const receipt = stepForm(page, 'Apheresis receipt');
    const bagScan = receipt.getByLabel('Apheresis bag DIN (scan)', { exact: true });
    await bagScan.fill(din(32).barcode);
    await bagScan.press('Enter');
    await expect.poll(() => receipt.getByRole('alert').filter({ hasText: /^Does not match this batch: read .*, expected / }).isVisible()).toBe(true);
    await expect.poll(() => isFocused(bagScan)).toBe(true);
    expect((await call(term.h, 'op1', 'GET', `/batches/${batchId}`)).body.entries.filter((e: { kind: string }) => e.kind === 'step')).toHaveLength(0);
    await fill(receipt, { 'Apheresis bag DIN (scan)': din(31).barcode, 'End of collection': hoursAgo(20), 'Received at': hoursAgo(0.5), 'Transport temperature': '30' });
    await expect.poll(() => receipt.getByText('Out of specification (2–25 °C)', { exact: false }).isVisible()).toBe(true);
    await fill(receipt, { 'Volume': '210' });
    await signAndWait(page, 'Apheresis receipt');
    const opened = (await call(term.h, 'op1', 'GET', `/batches/${batchId}/deviations`)).body.items;
    expect(opened).toMatchObject([{ kind: 'oos', status: 'open', stepId: 'apheresis-receipt' }]);
    // A correction with its reason: the volume was misread; a new signed entry, the original stays.
    await page.getByRole('button', { name: 'Correct "Apheresis receipt"' }).click();
    await page.getByLabel('Volume', { exact: true }).fill('220');
    await page.getByLabel('Reason for the correction').fill('Transcription error: the bag label reads 220 mL');
    await signAndWait(page, 'Apheresis receipt');
    await expect.poll(() => page.getByText(/Corrected by Test OP1 .*Transcription error: the bag label reads 220 mL/).isVisible()).toBe(true);
    await clockTo(0.5);
    await record(page, 'Starting material sample', { 'White blood cell concentration': '28.5', 'Viability': '94', 'CD3+ cells': '62' });
    await clockTo(2);

    // Selection: the pickers offer only what may be used; a scan selects or says why not at once.
    await page.getByRole('button', { name: 'Record "CD4/CD8 selection"' }).click();
    const selection = stepForm(page, 'CD4/CD8 selection');
    await expect.poll(() => offered(selection, 'Buffer lot')).toEqual([expect.stringMatching(/^L-buffer · /)]);
    await expect.poll(() => offered(selection, 'Cell processor (CliniMACS Prodigy)')).toEqual([expect.stringMatching(/^EQ-cell-processor · /)]);
    /** The picker's refusal, said beside it at once. */
    const refused = (text: string | RegExp) => expect.poll(() => page.getByRole('alert').filter({ hasText: text }).isVisible()).toBe(true);
    await scanInto(selection, 'Buffer lot', 'BUF-QUAR');
    await refused('Lot BUF-QUAR (CliniMACS buffer) is quarantined: QA has not released it for use.');
    await screenshot(page, 'picker-refused-scan');
    await scanInto(selection, 'Buffer lot', 'BUF-OLD');
    await refused(/^Lot BUF-OLD \(CliniMACS buffer\) expired on \d{4}-\d\d-\d\d\.$/);
    await scanInto(selection, 'Buffer lot', 'L-medium');
    await refused('L-medium (medium test lot) is medium; this field needs buffer.');
    await scanInto(selection, 'Buffer lot', 'NO-SUCH-LOT');
    await refused('No lot NO-SUCH-LOT is registered.');
    await scanInto(selection, 'Cell processor (CliniMACS Prodigy)', 'PRODIGY-OLD');
    await refused(/^Equipment PRODIGY-OLD \(CliniMACS Prodigy\) is out of calibration since \d{4}-\d\d-\d\d\.$/);
    await expectAccessible(page, 'a picker with a refused scan');
    // The right asset scanned: selected, and the focus moves on to the next empty field.
    await scanInto(selection, 'Cell processor (CliniMACS Prodigy)', 'eq-cell-processor');
    await expect.poll(() => selection.getByLabel('Cell processor (CliniMACS Prodigy)', { exact: true }).locator('option:checked').textContent()).toMatch(/^EQ-cell-processor · /);
    await expect.poll(() => isFocused(selection.getByLabel('CD4 microbeads lot', { exact: true }))).toBe(true);
    await scanInto(selection, 'Buffer lot', 'L-buffer');
    await expect.poll(() => page.getByRole('alert').count()).toBe(0);
    await fill(selection, { 'CD4 microbeads lot': { scan: 'L-cd4-microbeads' }, 'CD8 microbeads lot': { choose: 'L-cd8-microbeads' }, 'Viable cells after selection': '420', 'Viability': '96', 'CD3+ purity': '97.5' });
    await signAndWait(page, 'CD4/CD8 selection');
    await witness(page, 'CD4/CD8 selection');
    await clockTo(1);

    // Activation: its start, now, is day 0 of the culture.
    await page.getByRole('button', { name: 'Record "T-cell activation (day 0)"' }).click();
    await fill(stepForm(page, 'T-cell activation (day 0)'), { 'TransAct lot': { choose: 'L-transact' }, 'Medium lot (TexMACS)': { scan: 'L-medium' }, 'IL-7 lot (optional)': { choose: 'L-il-7' }, 'IL-15 lot (optional)': { choose: 'L-il-15' }, 'Viable cells seeded': '80' });
    await page.getByRole('button', { name: 'Now for Activation start (day 0)' }).click();
    await signAndWait(page, 'T-cell activation (day 0)');
    await witness(page, 'T-cell activation (day 0)');
    const activation = (await call(term.h, 'op1', 'GET', `/batches/${batchId}`)).body.entries.find((e: { stepId?: string }) => e.stepId === 'activation');
    const day0 = Date.parse(activation.values.startTime);
    const toHour = (hour: number) => clockTo((day0 + hour * HOUR - term.h.ctx.clock.now().getTime()) / HOUR);

    await toHour(24);
    await record(page, 'Lentiviral transduction', { 'Lentiviral vector lot': { scan: 'L-lentiviral-vector' }, 'Multiplicity of infection (MOI)': '5', 'Vector volume added': '2.5' });
    await toHour(74);
    await record(page, 'Culture check', { 'Viable cell density': '1.2', 'Viability': '91', 'Culture volume': '70', 'Medium added (optional)': '100', 'Medium lot (optional)': { choose: 'L-medium' } }, { witnessed: false });
    await toHour(122);
    await record(page, 'Culture check', { 'Viable cell density': '2.5', 'Viability': '93', 'Culture volume': '170' }, { witnessed: false });

    // The in-process control is QC's, on day 5.
    await toHour(123);
    const qc = await term.open();
    await qc.page.goto(`/batches/${batchId}`);
    await logIn(qc.page, 'qc1');
    await record(qc.page, 'In-process control, day 5', { 'CAR+ of viable CD3+ cells': '32' }, { witnessed: false });

    await toHour(170);
    await record(page, 'Culture check', { 'Viable cell density': '5', 'Viability': '94', 'Culture volume': '500' }, { witnessed: false });
    await expect.poll(() => page.getByText('Day 7').first().isVisible()).toBe(true);
    // Harvest: the technician is called away with the form half filled and the session expires (the
    // wall clock moved past the 15-minute idle limit, never waited for). Signing brings the login over
    // the page; after it the typed values are still there and the same signature goes through.
    await toHour(226);
    await page.getByRole('button', { name: 'Record "Harvest"' }).click();
    const harvest = stepForm(page, 'Harvest');
    await fill(harvest, { 'Total viable cells': '4000', 'Viability': '93' });
    term.h.tick(16 * 60_000);
    await renewTokens();
    await fill(harvest, { 'CAR+ cells': '34', 'CD3+ cells': '97' });
    await page.getByRole('button', { name: 'Sign', exact: true }).click();
    await page.getByRole('dialog', { name: 'Sign as performer' }).getByLabel('Password').fill(PASSWORD);
    await page.getByRole('dialog', { name: 'Sign as performer' }).getByLabel('Password').press('Enter');
    const again = page.getByRole('dialog', { name: 'Your session has ended' });
    await again.getByLabel('Password').fill(PASSWORD);
    await again.getByRole('button', { name: 'Log in' }).click();
    await again.waitFor({ state: 'detached' });
    for (const [label, value] of [['Total viable cells', '4000'], ['Viability', '93'], ['CAR+ cells', '34'], ['CD3+ cells', '97']]) {
      expect(await harvest.getByLabel(label, { exact: true }).inputValue(), label).toBe(value);
    }
    await signAndWait(page, 'Harvest');
    await witness(page, 'Harvest');
    await toHour(227);
    await record(page, 'Formulation', { 'Target dose (CAR+ viable T cells per kg)': '2', 'Number of bags': '2', 'Cryomedium lot': { scan: 'L-cryomedium' } });

    // Each bag's label is scanned: another batch's label is refused at once.
    await toHour(227.5);
    await page.getByRole('button', { name: 'Record "Bag fill and labelling"' }).click();
    await fill(stepForm(page, 'Bag fill and labelling'), { 'Bag number': '1', 'Fraction of the dose': '50', 'Volume': '35' });
    const label = stepForm(page, 'Bag fill and labelling').getByLabel('Bag label (scan)', { exact: true });
    await label.fill('TRN-CART-0000-999');
    await label.press('Enter');
    await expect.poll(() => page.getByRole('alert').filter({ hasText: 'Does not match this batch' }).isVisible()).toBe(true);
    await label.fill(batchNumber);
    await label.press('Enter');
    await page.getByRole('dialog', { name: 'Sign as performer' }).getByLabel('Password').fill(PASSWORD);
    await page.getByRole('dialog', { name: 'Sign as performer' }).getByLabel('Password').press('Enter');
    await page.getByRole('status').filter({ hasText: 'Recorded: Bag fill and labelling' }).waitFor();
    await witness(page, 'Bag fill and labelling');
    await toHour(228);
    await record(page, 'Bag fill and labelling', { 'Bag number': '2', 'Fraction of the dose': '50', 'Volume': '35', 'Bag label (scan)': batchNumber });

    await toHour(229.5);
    await record(page, 'Cryopreservation', {
      'Controlled-rate freezer': { scan: 'EQ-controlled-rate-freezer' }, 'Freezing program': 'CRF-CART-01', 'Freezing start': hoursAgo(1.25), 'Freezing end': hoursAgo(0.25),
      'Storage tank': 'LN2-02', 'Rack': 'R3', 'Box': 'B12', 'Position': 'A4', 'Storage temperature': '-185',
    });
    await expect.poll(() => page.getByText('QC testing').first().isVisible()).toBe(true);
    await screenshot(page, 'batch-complete-at-bench');

    // Release results by QC (sterility, which may follow release, still outstanding).
    // QC's session ended too while the bench worked (the idle limit above): the reload asks for a login.
    await qc.page.reload();
    await logIn(qc.page, 'qc1');
    await qc.page.getByRole('heading', { name: batchNumber }).waitFor();
    const results: [string, Values][] = [
      ['Appearance', { 'Appearance': { choose: 'conforms' } }],
      ['Viability', { 'Viability': '91' }],
      ['CAR expression', { 'CAR+ of viable CD3+ cells': '34' }],
      ['T-cell identity (CD3+)', { 'CD3+ cells': '97' }],
      ['Dose', { 'Total CAR+ viable T cells': '140' }],
      ['Mycoplasma (PCR)', { 'Mycoplasma': { choose: 'absent' } }],
      ['Adventitious viruses (PCR)', { 'Adventitious viruses (PCR)': { choose: 'not detected' } }],
      ['Endotoxin', { 'Endotoxin': '0.12' }],
      ['Vector copy number', { 'Vector copy number': '2.4' }],
      ['Replication-competent lentivirus', { 'Replication-competent lentivirus': { choose: 'absent' } }],
      ['Potency (cytotoxicity)', { 'Target-cell survival at E:T 1:1': '42', 'Killing difference, CAR vs untransduced, at E:T 4:1': '63' }],
    ];
    for (const [title, values] of results) {
      if (title === 'Potency (cytotoxicity)') {
        await qc.page.getByRole('button', { name: `Record "${title}"` }).click();
        await fill(stepForm(qc.page, title), values);
        await screenshot(qc.page, 'release-result-form');
        await signAndWait(qc.page, title);
      } else {
        await record(qc.page, title, values, { witnessed: false });
      }
    }
    const recorded = (await call(term.h, 'qa1', 'GET', `/batches/${batchId}`)).body;
    expect(recorded.status).toBe('qa_review');
    expect(recorded.openDeviations).toBe(1);   // the receipt's temperature, for QA to close
    // Every step of the process, the release panel but sterility, was entered through a form.
    const steps = recorded.entries.filter((e: { kind: string }) => e.kind === 'step').map((e: { stepId: string }) => e.stepId);
    expect(steps).toHaveLength(14 + 11);
    expect(steps).not.toContain('release-sterility');

    // QA at the desk: the review, then the release (conditional: sterility follows), then the record.
    const desk = await term.open({ width: 1920, height: 1080 });
    await desk.page.goto('/');
    await logIn(desk.page, 'qa1');
    await desk.page.getByRole('link', { name: batchNumber }).click();
    await desk.page.getByRole('heading', { name: `Review of ${batchNumber}` }).waitFor();
    // The exceptions: the out-of-specification value, its deviation and the correction; the review
    // waits for the deviation to be closed.
    const exceptions = desk.page.getByRole('region', { name: /Exceptions to look at/ });
    for (const kind of ['Out of specification', 'Deviation', 'Correction']) {
      await expect.poll(() => exceptions.getByText(kind, { exact: true }).first().isVisible(), { message: kind }).toBe(true);
    }
    await expect.poll(() => desk.page.getByText('1 deviation(s) still open').isVisible()).toBe(true);
    await desk.page.getByRole('button', { name: 'Close the deviation' }).click();
    const close = desk.page.getByRole('form', { name: 'Close the deviation' });
    await close.getByLabel('Investigation').fill('Courier logger: 30 °C for 40 min at the loading dock; cells 19.5 h after collection.');
    await close.getByLabel('Conclusion').fill('Viability at selection 96 %: no impact on the product; courier CAPA opened.');
    await close.getByRole('button', { name: 'Sign' }).click();
    await desk.page.getByRole('dialog', { name: 'Sign the approval' }).getByLabel('Password').fill(PASSWORD);
    await desk.page.getByRole('dialog', { name: 'Sign the approval' }).getByLabel('Password').press('Enter');
    await expect.poll(() => desk.page.getByText('Closed by Test QA1').isVisible()).toBe(true);
    await desk.page.getByRole('button', { name: 'Sign the review' }).click();
    await desk.page.getByRole('dialog', { name: 'Sign the review' }).getByLabel('Password').fill(PASSWORD);
    await desk.page.getByRole('dialog', { name: 'Sign the review' }).getByLabel('Password').press('Enter');
    await expect.poll(() => desk.page.getByText(/^Reviewed /).isVisible()).toBe(true);
    await desk.page.getByLabel('Decision').selectOption('release');
    await desk.page.getByRole('button', { name: 'Sign the disposition' }).click();
    const release = desk.page.getByRole('dialog', { name: 'Sign the release' });
    await release.getByLabel('Password').fill(PASSWORD);
    await release.getByLabel('Password').press('Enter');
    await expect.poll(() => desk.page.getByText(/Conditional release: still waiting for Sterility \(14-day culture\)\./).isVisible()).toBe(true);
    expect((await call(term.h, 'qa1', 'GET', `/batches/${batchId}`)).body.status).toBe('released');
    await screenshot(desk.page, 'whole-batch-released', { top: true });
    const pdf = await desk.page.request.get(await desk.page.getByRole('link', { name: 'Batch record (PDF)' }).getAttribute('href') as string);
    expect(pdf.status()).toBe(200);
    expect(pdf.headers()['content-type']).toContain('application/pdf');
    expect((await pdf.body()).subarray(0, 5).toString()).toBe('%PDF-');
    expect(term.external).toEqual([]);
  }, 600_000);
});
