// The technician's path in a real browser: log in, start a CAR-T batch, record its first steps with a
// performer and a witness on the same terminal, a refused identity scan, an out-of-specification value,
// a correction, a culture check counted in actions, a session that expires while a form is half
// filled, and the first steps again in Vietnamese. axe-core checks every page on the way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { call, createBatch, din, HOUR, PASSWORD, recordReceipt, registerCatalogue, sign } from '../helpers.js';
import { BatchDriver, CART_PLAN } from '../server/lifecycle-driver.js';
import { Actions, expectAccessible, expectTouchTargets, isFocused, screenshot, startTerminal, type Terminal } from './browser.js';

let term: Terminal;
let catalogue: Awaited<ReturnType<typeof registerCatalogue>>;
beforeAll(async () => {
  term = await startTerminal();
  catalogue = await registerCatalogue(term.h, 'car-t');
}, 120_000);
afterAll(async () => { await term?.close(); });

/** A datetime-local value (UTC: the browser context runs in UTC) this many hours before the process clock. */
const hoursAgo = (hours: number) => new Date(term.h.ctx.clock.now().getTime() - hours * HOUR).toISOString().slice(0, 16);

async function logIn(page: Page, username: string, password = PASSWORD) {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

/** The API sessions of the harness after the wall clock jumped past the idle limit. */
async function renewTokens() {
  for (const username of Object.keys(term.h.tokens).filter((u) => u !== 'admin')) {
    term.h.tokens[username] = (await term.h.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password: PASSWORD } })).json().token;
  }
}

/** The steps after the first two, through the API, up to the culture check on day 3. */
async function toCultureCheck(batchId: string) {
  const b = (await call(term.h, 'op1', 'GET', `/batches/${batchId}`)).body;
  const driver = new BatchDriver(term.h, b, catalogue);
  for (const p of CART_PLAN.slice(2)) {
    if (p.stepId === 'culture-check') return driver.toHour(p.atHour!);
    if (p.advance) await term.h.tick(0), await call(term.h, 'sup1', 'POST', '/training/clock', { advanceHours: p.advance });
    if (p.atHour !== undefined) await driver.toHour(p.atHour);
    const now = driver.now();
    const values = p.values({ now: new Date(now), hoursAgo: (x) => new Date(now - x * HOUR).toISOString(), lots: catalogue.lots, equipment: catalogue.equipment, batch: driver.batch });
    const r = await driver.record(p.stepId, values);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    if (typeof values.startTime === 'string') driver.day0 = Date.parse(values.startTime);
    if (r.body.entry.verified === false) expect((await driver.verify(r.body.entry.id)).status).toBe(201);
  }
}

describe('the bench terminal', () => {
  it('opens in the browser\'s language until one is chosen on the terminal, which it then keeps', async () => {
    const { context, page } = await term.open({ locale: 'vi-VN' });
    await page.goto('/');
    await expect.poll(() => page.getByRole('heading', { name: 'Đăng nhập' }).isVisible()).toBe(true);
    expect(await page.evaluate('document.documentElement.lang')).toBe('vi');
    await page.getByRole('button', { name: 'English' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Log in' }).isVisible()).toBe(true);
    await page.reload();
    await expect.poll(() => page.getByRole('heading', { name: 'Log in' }).isVisible()).toBe(true);
    await context.close();
    // A browser in a language the UI does not speak gets English.
    const other = await term.open({ locale: 'fr-FR' });
    await other.page.goto('/');
    await expect.poll(() => other.page.getByRole('heading', { name: 'Log in' }).isVisible()).toBe(true);
    await other.context.close();
  });

  it('takes a CAR-T batch through its first steps with a performer and a witness', async () => {
    const { page } = await term.open();
    await page.goto('/');
    await expect.poll(() => page.getByRole('heading', { name: 'Log in' }).isVisible()).toBe(true);
    await expect.poll(() => page.getByRole('note').textContent()).toContain('TRAINING');
    await expectAccessible(page, 'the login page');
    await expectTouchTargets(page, 'the login page');
    await screenshot(page, 'login');
    await logIn(page, 'op1');

    // Start a batch from the work list.
    await page.getByRole('link', { name: 'Start a batch' }).click();
    await page.getByLabel('Process').selectOption('car-t');
    await expectAccessible(page, 'starting a batch');
    await expectTouchTargets(page, 'starting a batch');
    await page.getByLabel('DIN of the apheresis bag').fill(din(1).keyed);
    await page.getByLabel('Patient identifier').fill('PT-UI-1');
    await page.getByLabel('Patient weight').fill('72');
    await page.getByRole('button', { name: 'Start the batch' }).click();
    await page.getByRole('heading', { name: /^TRN-CART-/ }).waitFor();
    const batchId = page.url().split('/').pop()!;
    await expect.poll(() => page.getByText('Waiting for "Apheresis receipt" to be recorded.').first().isVisible()).toBe(true);
    await expectAccessible(page, 'the batch page');
    await expectTouchTargets(page, 'the batch page');

    // Apheresis receipt: focus starts on the scan; a DIN of another bag is refused at once.
    await page.getByRole('button', { name: 'Record "Apheresis receipt"' }).click();
    const scan = page.getByLabel('Apheresis bag DIN (scan)');
    await expect.poll(() => isFocused(scan)).toBe(true);
    await scan.fill(din(2).barcode);
    await scan.press('Enter');
    await expect.poll(() => page.getByRole('alert').filter({ hasText: 'Does not match this batch' }).isVisible()).toBe(true);
    await expect.poll(() => isFocused(scan)).toBe(true);
    // The right bag: the scan fills its field and moves on.
    await scan.fill(din(1).barcode);
    await scan.press('Enter');
    const collectionEnd = page.getByLabel('End of collection', { exact: true });
    await expect.poll(() => isFocused(collectionEnd)).toBe(true);
    await collectionEnd.fill(hoursAgo(20));
    await page.getByRole('button', { name: 'Now for Received at' }).click();
    // 30 °C is outside 2–25 °C: said before signing.
    const temperature = page.getByLabel('Transport temperature');
    await temperature.fill('30');
    await expect.poll(() => page.getByText(/Out of specification \(2–25 °C\)/).isVisible()).toBe(true);
    await expectAccessible(page, 'the step form with a warning');
    await expectTouchTargets(page, 'the step form with a warning');
    await page.getByText(/Out of specification \(2–25 °C\)/).scrollIntoViewIfNeeded();
    await screenshot(page, 'step-form-warning');
    await temperature.press('Enter');
    await page.getByLabel('Volume').fill('220');
    await page.getByLabel('Volume').press('Enter');
    // One signature dialog: the meaning in words, the performer's username already there.
    const dialog = page.getByRole('dialog', { name: 'Sign as performer' });
    await dialog.waitFor();
    await expect.poll(() => dialog.getByText('I performed "Apheresis receipt"').isVisible()).toBe(true);
    expect(await dialog.getByLabel('Username').inputValue()).toBe('op1');
    await expectAccessible(page, 'the signature dialog');
    await expectTouchTargets(page, 'the signature dialog');
    await screenshot(page, 'signature-dialog');
    await dialog.getByLabel('Password').fill(PASSWORD);
    await dialog.getByLabel('Password').press('Enter');
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Recorded: Apheresis receipt' }).isVisible()).toBe(true);
    await expect.poll(() => page.getByText('Out of specification').first().isVisible()).toBe(true);

    // A correction with its reason: the original stays, the correction is a new signed entry.
    await page.getByRole('button', { name: 'Correct "Apheresis receipt"' }).click();
    await page.getByLabel('Transport temperature').fill('4');
    await page.getByLabel('Reason for the correction').fill('Transcription error: the logger read 4.0 °C');
    await page.getByRole('button', { name: 'Sign', exact: true }).click();
    await page.getByRole('dialog', { name: 'Sign as performer' }).getByLabel('Password').fill(PASSWORD);
    await page.getByRole('dialog', { name: 'Sign as performer' }).getByLabel('Password').press('Enter');
    await expect.poll(() => page.getByText(/Corrected by Test OP1 .*Transcription error/).isVisible()).toBe(true);

    // A witnessed step: the performer signs, the Verify button takes the focus, the witness signs.
    const act = new Actions();
    await act.click(page.getByRole('button', { name: 'Record "Starting material sample"' }));
    await act.enter(page.getByLabel('White blood cell concentration'), '28.5');
    await act.enter(page.getByLabel('Viability'), '94');
    await act.enter(page.getByLabel('CD3+ cells'), '62');
    await act.enter(page.getByRole('dialog').getByLabel('Password'), PASSWORD);
    const verify = page.getByRole('button', { name: 'Verify "Starting material sample" (second person)' });
    await expect.poll(() => isFocused(verify)).toBe(true);
    await act.click(verify);
    const witness = page.getByRole('dialog', { name: 'Sign as witness (second person)' });
    await expect.poll(() => isFocused(witness.getByLabel('Username'))).toBe(true);
    expect(await witness.getByLabel('Username').inputValue()).toBe('');
    await act.enter(witness.getByLabel('Username'), 'op2', 'Tab');
    await act.enter(witness.getByLabel('Password'), PASSWORD);
    await expect.poll(() => page.getByText('verified by Test OP2').isVisible()).toBe(true);
    // The figures docs/ui.md states: exact, so that a change that adds a touch shows here first.
    const witnessedStep = act.count;
    expect(witnessedStep).toBe(8);   // 5 by the performer, 3 by the witness

    // On to day 3 through the API; the culture check at the bench, counted.
    await toCultureCheck(batchId);
    await page.reload();
    const check = new Actions();
    await check.click(page.getByRole('button', { name: 'Record "Culture check"' }));
    // The culture day is computed; focus starts on the first value and Enter moves to the next.
    await expect.poll(() => isFocused(page.getByLabel('Viable cell density'))).toBe(true);
    await check.enter(page.getByLabel('Viable cell density'), '1.2');
    await expect.poll(() => isFocused(page.getByLabel('Viability'))).toBe(true);
    await check.enter(page.getByLabel('Viability'), '91');
    await expect.poll(() => isFocused(page.getByLabel('Culture volume'))).toBe(true);
    await check.enter(page.getByLabel('Culture volume'), '70');
    // The dialog opens with the performer's username filled in and the focus on the password.
    await expect.poll(() => isFocused(page.getByRole('dialog').getByLabel('Password'))).toBe(true);
    await check.enter(page.getByRole('dialog').getByLabel('Password'), PASSWORD);
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Recorded: Culture check' }).isVisible()).toBe(true);
    expect(check.count).toBe(5);   // docs/ui.md; the target is ≤ 8 including the signature
    await expect.poll(() => page.getByText('Day 3').first().isVisible()).toBe(true);
    await expectAccessible(page, 'the batch timeline with entries');
    await expectTouchTargets(page, 'the batch timeline with entries');
    await screenshot(page, 'batch-timeline');
    console.log(`actions: culture check ${check.count}, witnessed step ${witnessedStep}`);

    // The work list says what waits.
    await page.getByRole('link', { name: 'My work' }).click();
    await page.getByRole('heading', { name: 'What waits for me' }).waitFor();
    await expect.poll(() => page.getByText('PT-UI-1').isVisible()).toBe(true);
    await expectAccessible(page, 'the work list');
    await expectTouchTargets(page, 'the work list');
    await screenshot(page, 'work-list');
    expect(term.external).toEqual([]);
  }, 180_000);

  it('keeps the typed values of an unsigned form when the session expires', async () => {
    const b = await createBatch(term.h, 'car-t', 3);
    const { page } = await term.open();
    await page.goto(`/batches/${b.id}`);
    await logIn(page, 'op1');
    await page.getByRole('button', { name: 'Record "Apheresis receipt"' }).click();
    await page.getByLabel('Apheresis bag DIN (scan)').fill(din(3).keyed);
    await page.getByLabel('End of collection', { exact: true }).fill(hoursAgo(10));
    await page.getByRole('button', { name: 'Now for Received at' }).click();
    await page.getByLabel('Transport temperature').fill('5');
    await page.getByLabel('Volume').fill('180');
    term.h.tick(16 * 60_000);   // the idle limit is 15 minutes
    await renewTokens();
    await page.getByRole('button', { name: 'Sign', exact: true }).click();
    await page.getByRole('dialog', { name: 'Sign as performer' }).getByLabel('Password').fill(PASSWORD);
    await page.getByRole('dialog', { name: 'Sign as performer' }).getByLabel('Password').press('Enter');
    const again = page.getByRole('dialog', { name: 'Your session has ended' });
    await again.waitFor();
    await again.getByLabel('Password').fill(PASSWORD);
    await again.getByRole('button', { name: 'Log in' }).click();
    await again.waitFor({ state: 'detached' });
    expect(await page.getByLabel('Transport temperature').inputValue()).toBe('5');
    expect(await page.getByLabel('Volume').inputValue()).toBe('180');
    const sign = page.getByRole('dialog', { name: 'Sign as performer' });
    await sign.getByLabel('Password').fill(PASSWORD);
    await sign.getByLabel('Password').press('Enter');
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Recorded: Apheresis receipt' }).isVisible()).toBe(true);
  }, 120_000);

  it('follows what others record, and refuses a form left stale by someone else plainly, keeping its values', async () => {
    // The page's timers run on an installed clock: the test moves it past the refresh interval.
    const { page } = await term.open();
    await page.clock.install();
    await page.goto('/');
    await logIn(page, 'op1');
    await page.getByRole('heading', { name: 'What waits for me' }).waitFor();
    // A batch started at another terminal appears in the work list without a reload.
    const b = await createBatch(term.h, 'car-t', 5);
    await page.clock.runFor(30_000);
    await expect.poll(() => page.getByText('PT-5', { exact: false }).isVisible()).toBe(true);
    // Its first step is due now; the badge saying so is as wide as its words, not stretched across the
    // card (an item's own state class, "due", once matched the list's flex layout).
    const badges = await page.locator('ul.due li.due .badge').evaluateAll((els) => els.map((e) => Math.round(e.getBoundingClientRect().width)));
    expect(badges.length).toBeGreaterThan(0);
    for (const width of badges) expect(width).toBeLessThan(200);

    // The batch page follows a step recorded elsewhere.
    const { batch } = await recordReceipt(term.h, b, 5);
    await page.goto(`/batches/${b.id}`);
    await page.getByRole('button', { name: 'Correct "Apheresis receipt"' }).waitFor();
    const sample = await call(term.h, 'op2', 'POST', `/batches/${b.id}/steps/starting-material-sample`, { values: { wbcConcentration: 30, viability: 90, cd3Positive: 60 }, signature: sign('op2'), expectedVersion: batch.version });
    expect(sample.status).toBe(201);
    await page.clock.runFor(20_000);
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Updated: someone else changed this batch.' }).isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Verify "Starting material sample" (second person)' }).waitFor();
    // Nothing changed since: the next refresh sends the ETag it holds and is answered 304, no batch.
    const notModified = page.waitForResponse((r) => r.url().endsWith(`/api/v1/batches/${b.id}`) && r.status() === 304);
    await page.clock.runFor(20_000);
    await notModified;

    // A correction form is open when QA reports a deviation elsewhere: said at once, and the form's
    // signature is refused by the server (expectedVersion), never applied over the change.
    await page.getByRole('button', { name: 'Correct "Apheresis receipt"' }).click();
    await page.getByLabel('Transport temperature').fill('5');
    await page.getByLabel('Reason for the correction').fill('Logger re-read: 5.0 °C');
    const current = (await call(term.h, 'qa1', 'GET', `/batches/${b.id}`)).body;
    expect((await call(term.h, 'qa1', 'POST', `/batches/${b.id}/deviations`, { description: 'Label printer jammed during receipt', severity: 'minor', expectedVersion: current.version })).status).toBe(201);
    await page.clock.runFor(20_000);
    await expect.poll(() => page.getByRole('alert').filter({ hasText: 'Someone else changed this batch while your form was open' }).isVisible()).toBe(true);
    await page.getByRole('alert').filter({ hasText: 'Someone else changed this batch while your form was open' }).scrollIntoViewIfNeeded();
    await screenshot(page, 'batch-changed-while-open');
    await page.getByRole('button', { name: 'Sign', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Sign as performer' });
    await dialog.getByLabel('Password').fill(PASSWORD);
    await dialog.getByLabel('Password').press('Enter');
    await expect.poll(() => page.getByRole('alert').filter({ hasText: 'Not signed: someone else changed this batch' }).isVisible()).toBe(true);
    await expect.poll(() => page.getByText('Label printer jammed during receipt').first().isVisible()).toBe(true);
    expect(await page.getByLabel('Transport temperature').inputValue()).toBe('5');
    expect((await call(term.h, 'op1', 'GET', `/batches/${b.id}`)).body.entries.filter((e: { kind: string }) => e.kind === 'correction')).toHaveLength(0);
    await expectAccessible(page, 'a form refused as stale');
    // Signed again, deliberately, over the batch as it is now.
    await page.getByRole('button', { name: 'Sign', exact: true }).click();
    await dialog.getByLabel('Password').fill(PASSWORD);
    await dialog.getByLabel('Password').press('Enter');
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Recorded: Apheresis receipt' }).isVisible()).toBe(true);
  }, 120_000);

  it('records the first steps in Vietnamese', async () => {
    const b = await createBatch(term.h, 'car-t', 4);
    const { page } = await term.open();
    await page.goto(`/batches/${b.id}`);
    await page.getByRole('button', { name: 'Tiếng Việt' }).click();
    await page.getByLabel('Tên đăng nhập').fill('op1');
    await page.getByLabel('Mật khẩu').fill(PASSWORD);
    await page.getByRole('button', { name: 'Đăng nhập' }).click();
    await page.getByRole('button', { name: 'Ghi "Tiếp nhận sản phẩm gạn tách"' }).click();
    const scan = page.getByLabel('Mã DIN túi gạn tách (quét mã)');
    await scan.fill(din(4).barcode);
    await scan.press('Enter');
    await page.getByLabel('Thời điểm kết thúc thu gom', { exact: true }).fill(hoursAgo(8));
    await page.getByRole('button', { name: 'Bây giờ cho Thời điểm tiếp nhận' }).click();
    await page.getByLabel('Nhiệt độ vận chuyển').fill('4,5');
    await page.getByLabel('Thể tích').fill('200');
    await page.getByLabel('Thể tích').press('Enter');
    const sign = page.getByRole('dialog', { name: 'Ký với tư cách người thực hiện' });
    // A wrong password: the server's refusal in Vietnamese (Accept-Language: vi).
    await sign.getByLabel('Mật khẩu').fill('not-the-password');
    await sign.getByLabel('Mật khẩu').press('Enter');
    await expect.poll(() => sign.getByRole('alert').textContent()).toMatch(/^Chưa xác thực: Tên đăng nhập hoặc mật khẩu không đúng/);
    await screenshot(page, 'refusal-vi');
    await sign.getByLabel('Mật khẩu').fill(PASSWORD);
    await sign.getByLabel('Mật khẩu').press('Enter');
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Đã ghi: Tiếp nhận sản phẩm gạn tách' }).isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Ghi "Lấy mẫu nguyên liệu ban đầu"' }).click();
    await page.getByLabel('Nồng độ bạch cầu').fill('30');
    await page.getByLabel('Khả năng sống').fill('65');
    await expect.poll(() => page.getByText(/Ngoài tiêu chuẩn \(≥ 70 %\)/).isVisible()).toBe(true);
    await page.getByLabel('Khả năng sống').fill('92');
    await page.getByLabel('Tế bào CD3+').fill('60');
    await page.getByLabel('Tế bào CD3+').press('Enter');
    await page.getByRole('dialog').getByLabel('Mật khẩu').fill(PASSWORD);
    await page.getByRole('dialog').getByLabel('Mật khẩu').press('Enter');
    await page.getByRole('button', { name: 'Xác nhận "Lấy mẫu nguyên liệu ban đầu" (người thứ hai)' }).click();
    const witness = page.getByRole('dialog', { name: 'Ký với tư cách người chứng kiến (người thứ hai)' });
    await witness.getByLabel('Tên đăng nhập').fill('op2');
    await witness.getByLabel('Mật khẩu').fill(PASSWORD);
    await witness.getByLabel('Mật khẩu').press('Enter');
    await expect.poll(() => page.getByText('xác nhận bởi Test OP2').isVisible()).toBe(true);
    await expectAccessible(page, 'the batch page in Vietnamese');
    await expectTouchTargets(page, 'the batch page in Vietnamese');
    await screenshot(page, 'batch-timeline-vi');
    const stored = (await call(term.h, 'op1', 'GET', `/batches/${b.id}`)).body.entries.find((e: { stepId?: string }) => e.stepId === 'apheresis-receipt');
    expect(stored.values.transportTemperature).toBe(4.5);
  }, 120_000);
});
