// The desk in a real browser: a supervisor registers a lot (quarantined) and equipment, QA releases
// the lot with a reason, an administrator creates an account and resets a password, a supervisor moves
// the training clock. axe-core checks each page.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { ADMIN_PASSWORD, call, HOUR, PASSWORD } from '../helpers.js';
import { expectAccessible, expectTouchTargets, screenshot, startTerminal, type Terminal } from './browser.js';
import { batchInQcTesting } from '../server/qa/support.js';
import { CART_RELEASE_VALUES } from '../server/lifecycle-driver.js';

let term: Terminal;
beforeAll(async () => { term = await startTerminal(); }, 120_000);
afterAll(async () => { await term?.close(); });

/**
 * axe-core on the page as the desk shows it, then its touch targets as the bench terminal shows it
 * (1280×800), the size restored after.
 */
async function atTheBench(page: Page, what: string) {
  await expectAccessible(page, what);
  const size = page.viewportSize()!;
  await page.setViewportSize({ width: 1280, height: 800 });
  await expectTouchTargets(page, what);
  await page.setViewportSize(size);
}

async function logIn(page: Page, username: string, password = PASSWORD) {
  await page.goto('/');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('button', { name: 'Log out' }).waitFor();
}

describe('the desk', () => {
  it('registers a lot and equipment, releases the lot as QA, manages an account and moves the training clock', async () => {
    const sup = await term.open({ width: 1920, height: 1080 });
    await logIn(sup.page, 'sup1');
    await sup.page.getByRole('link', { name: 'Material lots' }).click();
    const lotForm = sup.page.getByRole('form', { name: 'Register a lot' });
    await lotForm.getByLabel('Type').fill('medium');
    await lotForm.getByLabel('Name').fill('TexMACS medium');
    await lotForm.getByLabel('Lot number').fill('TX-2026-001');
    await lotForm.getByLabel('Expires on').fill('2027-06-30');
    await lotForm.getByLabel('Status').selectOption('quarantined');
    await lotForm.getByRole('button', { name: 'Register the lot' }).click();
    await expect.poll(() => sup.page.getByRole('cell', { name: 'TX-2026-001', exact: true }).isVisible()).toBe(true);
    await atTheBench(sup.page, 'material lots');

    await sup.page.getByRole('link', { name: 'Equipment' }).click();
    const eqForm = sup.page.getByRole('form', { name: 'Register equipment' });
    await eqForm.getByLabel('Asset id').fill('PRODIGY-07');
    await eqForm.getByLabel('Type').fill('cell-processor');
    await eqForm.getByLabel('Name').fill('CliniMACS Prodigy');
    await eqForm.getByLabel('Calibration due on').fill('2026-09-30');
    await eqForm.getByRole('button', { name: 'Register the equipment' }).click();
    await expect.poll(() => sup.page.getByRole('cell', { name: 'PRODIGY-07', exact: true }).isVisible()).toBe(true);
    await atTheBench(sup.page, 'equipment');
    await screenshot(sup.page, 'equipment', { top: true });

    await sup.page.getByRole('link', { name: 'Training clock' }).click();
    await sup.page.getByLabel('Advance by').fill('2.5');
    await sup.page.getByRole('button', { name: 'Advance the clock' }).click();
    await expect.poll(() => sup.page.getByRole('status').textContent()).toContain('10:30');
    await atTheBench(sup.page, 'the training clock');

    const qa = await term.open({ width: 1920, height: 1080 });
    await logIn(qa.page, 'qa1');
    await qa.page.getByRole('link', { name: 'Material lots' }).click();
    await qa.page.getByRole('button', { name: 'Release lot TX-2026-001' }).click();
    await qa.page.getByRole('form', { name: 'Release lot TX-2026-001' }).getByLabel('Reason').fill('Certificate of analysis checked against the specification');
    await qa.page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => qa.page.getByRole('row', { name: /TX-2026-001/ }).getByText('Released').isVisible()).toBe(true);
    await screenshot(qa.page, 'material-lots', { top: true });
    const lots = (await call(term.h, 'qa1', 'GET', '/materials?type=medium')).body.items;
    expect(lots.find((m: { lotNumber: string }) => m.lotNumber === 'TX-2026-001').status).toBe('released');

    const admin = await term.open({ width: 1920, height: 1080 });
    await logIn(admin.page, 'admin', ADMIN_PASSWORD);
    await admin.page.getByRole('heading', { name: 'Users' }).waitFor();
    const create = admin.page.getByRole('form', { name: 'Create a user' });
    await create.getByLabel('Username').fill('tech7');
    await create.getByLabel('Full name').fill('Nguyễn Thị Bảy');
    await create.getByLabel('Temporary password').fill('Temporary-Pass-77');
    await create.getByRole('button', { name: 'Create the user' }).click();
    await expect.poll(() => admin.page.getByRole('cell', { name: 'Nguyễn Thị Bảy', exact: true }).isVisible()).toBe(true);
    // A password too short: the API's words beside the field.
    await admin.page.getByRole('button', { name: 'Reset the password of tech7' }).click();
    const reset = admin.page.getByRole('form', { name: 'Reset the password of tech7' });
    await reset.getByLabel('Temporary password').fill('short');
    await reset.getByLabel('Reason').fill('Forgotten password, identity checked in person');
    await reset.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => reset.getByRole('alert').first().isVisible()).toBe(true);
    await reset.getByLabel('Temporary password').fill('Another-Temp-Pass-8');
    await reset.getByRole('button', { name: 'Save' }).click();
    await reset.waitFor({ state: 'detached' });
    await atTheBench(admin.page, 'users');

    // The alerts above the users say what each is: an account locked by five wrong passwords, and the
    // server's clock set back two hours (a write refused, 503) — not every alert is a lockout.
    for (let i = 0; i < 5; i++) {
      await term.h.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'insp1', password: 'not-the-password' } });
    }
    term.h.tick(-2 * HOUR);
    expect((await call(term.h, 'sup1', 'POST', '/equipment', { assetId: 'PRODIGY-08', type: 'cell-processor', name: 'CliniMACS Prodigy', calibrationDueOn: '2026-09-30' })).status).toBe(503);
    await admin.page.reload();
    const alerts = admin.page.getByRole('region', { name: 'Alerts' });
    const lockout = alerts.getByRole('listitem').filter({ hasText: 'insp1 was locked' });
    const clock = alerts.getByRole('listitem').filter({ hasText: "the server's clock read" });
    await expect.poll(() => lockout.getByText('Locked', { exact: true }).isVisible()).toBe(true);
    await expect.poll(() => clock.getByText('Clock went back', { exact: true }).isVisible()).toBe(true);
    expect(await clock.getByText('Locked', { exact: true }).count()).toBe(0);
    await expectAccessible(admin.page, 'users with alerts');
    await screenshot(admin.page, 'users', { top: true });
    term.h.tick(2 * HOUR);   // the clock put right: the next test writes again
    expect(term.external).toEqual([]);
  }, 180_000);
});

describe('the QA desk', () => {
  it('a deviation reported at the bench, then QA closes it, signs the review, releases and downloads the records', async () => {
    const d = await batchInQcTesting(term.h, 'car-t', 20);
    // At the bench: a deviation reported by hand.
    const op = await term.open();
    await logIn(op.page, 'op1');
    await op.page.goto(`/batches/${d.id}`);
    await op.page.getByRole('button', { name: 'Report a deviation' }).click();
    const report = op.page.getByRole('form', { name: 'Report a deviation' });
    await report.getByLabel('What happened').fill('Incubator door found ajar for about 5 minutes during the day 7 check');
    await report.getByLabel('Severity').selectOption('minor');
    await report.getByRole('button', { name: 'Report the deviation' }).click();
    await expect.poll(() => op.page.getByText('Incubator door found ajar').first().isVisible()).toBe(true);
    await d.refresh();
    for (const [stepId, values] of Object.entries(CART_RELEASE_VALUES)) expect((await d.record(stepId, values, 'qc1')).status).toBe(201);
    expect(d.batch.status).toBe('qa_review');

    const { page } = await term.open({ width: 1920, height: 1080 });
    await logIn(page, 'qa1');
    await page.getByRole('heading', { name: 'QA review' }).waitFor();
    await page.getByRole('link', { name: d.batch.batchNumber }).waitFor();
    await atTheBench(page, 'the QA review queue');
    await page.getByRole('link', { name: d.batch.batchNumber }).click();
    await page.getByRole('heading', { name: `Review of ${d.batch.batchNumber}` }).waitFor();
    await expect.poll(() => page.getByRole('region', { name: /Exceptions to look at/ }).getByText('Incubator door').isVisible()).toBe(true);
    await atTheBench(page, 'the review page');
    await screenshot(page, 'qa-review', { top: true });
    // The review waits for the deviation to be closed.
    await expect.poll(() => page.getByText('1 deviation(s) still open').isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Close the deviation' }).click();
    const close = page.getByRole('form', { name: 'Close the deviation' });
    await close.getByLabel('Investigation').fill('Door alarm log and temperature trace checked: 37.0 ± 0.3 °C throughout.');
    await close.getByLabel('Conclusion').fill('No impact on product quality; no other batch in the incubator.');
    await screenshot(page, 'qa-deviation');
    await atTheBench(page, 'closing a deviation');
    await close.getByRole('button', { name: 'Sign' }).click();
    const dialog = page.getByRole('dialog', { name: 'Sign the approval' });
    await dialog.getByLabel('Password').fill(PASSWORD);
    await dialog.getByLabel('Password').press('Enter');
    await expect.poll(() => page.getByText('Closed by Test QA1').isVisible()).toBe(true);

    await page.getByRole('button', { name: 'Sign the review' }).click();
    await page.getByRole('dialog', { name: 'Sign the review' }).getByLabel('Password').fill(PASSWORD);
    await page.getByRole('dialog', { name: 'Sign the review' }).getByLabel('Password').press('Enter');
    await expect.poll(() => page.getByText(/^Reviewed /).isVisible()).toBe(true);

    await page.getByLabel('Decision').selectOption('release');
    await page.getByRole('button', { name: 'Sign the disposition' }).click();
    const release = page.getByRole('dialog', { name: 'Sign the release' });
    await expect.poll(() => release.getByText(`I release ${d.batch.batchNumber} for use`).isVisible()).toBe(true);
    await screenshot(page, 'qa-disposition-signature');
    await atTheBench(page, 'the disposition signature');
    await release.getByLabel('Password').fill(PASSWORD);
    await release.getByLabel('Password').press('Enter');
    await expect.poll(() => page.getByRole('region', { name: 'Disposition' }).getByText('Release', { exact: true }).isVisible()).toBe(true);
    expect((await call(term.h, 'qa1', 'GET', `/batches/${d.id}`)).body.status).toBe('released');
    await screenshot(page, 'qa-released', { top: true });
    await atTheBench(page, 'a released batch with its records');

    // The records to download, through the page's own links (the session cookie).
    const coa = await page.request.get(await page.getByRole('link', { name: 'Certificate of analysis' }).getAttribute('href') as string);
    expect(coa.status()).toBe(200);
    const described = JSON.stringify((await call(term.h, null, 'GET', '/openapi.json')).body.paths);
    const pdf = await page.request.get(await page.getByRole('link', { name: 'Batch record (PDF)' }).getAttribute('href') as string);
    if (described.includes('record.pdf')) {
      expect(pdf.status()).toBe(200);
      expect(pdf.headers()['content-type']).toContain('application/pdf');
    } else {
      expect(pdf.status()).toBe(404);   // records (issue 13) has not landed GET /batches/{id}/record.pdf yet
    }
    expect(term.external).toEqual([]);
  }, 240_000);
});
