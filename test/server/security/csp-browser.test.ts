// The strict Content-Security-Policy (issue 10) in a real browser: /docs (swagger-ui) renders the API's
// operations, and the web UI (built as `npm start` serves it) logs in and shows its pages, with no CSP
// violation reported, served over real HTTP by the app on a free loopback port.
// Debian's chromium through playwright-core (nothing is downloaded).
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ADMIN_PASSWORD, harness, PASSWORD, type Harness } from '../../helpers.js';
import { buildWebUi } from '../../../scripts/build-web.mjs';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((f) => fs.existsSync(f));
let h: Harness;
let browser: Browser;
let base: string;

beforeAll(async () => {
  await buildWebUi();
  h = await harness();
  base = await h.app.listen({ port: 0, host: '127.0.0.1' });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await h?.close();
});

describe('the Content-Security-Policy in a browser', () => {
  /** A page that records every CSP violation: the console's refusals and the securitypolicyviolation events. */
  async function watchedPage() {
    expect(CHROMIUM, 'a chromium to drive').toBeDefined();
    const page = await browser.newPage();
    const violations: string[] = [];
    page.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text()); });
    await page.exposeFunction('reportViolation', (v: string) => violations.push(v));
    await page.addInitScript(`document.addEventListener('securitypolicyviolation', (e) => window.reportViolation(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber));`);
    return { page, violations };
  }

  it("the web UI logs in and shows its pages (an operator's work list, the administrator's users) with no CSP violation", async () => {
    const shown = { op1: (p: Page) => p.getByRole('link', { name: 'Start a batch' }), admin: (p: Page) => p.getByRole('heading', { name: 'Users' }) };
    for (const [username, password] of [['op1', PASSWORD], ['admin', ADMIN_PASSWORD]] as const) {
      const { page, violations } = await watchedPage();
      const r = await page.goto(`${base}/`);
      expect(r?.headers()['content-security-policy']).toContain("script-src 'self'");
      expect(r?.headers()['content-security-policy']).toContain("style-src 'self';");
      await page.getByLabel('Username').fill(username);
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Log in' }).click();
      await shown[username](page).first().waitFor({ timeout: 30_000 });
      expect(violations, violations.join('\n')).toEqual([]);
      await page.close();
    }
  }, 120_000);

  it('/docs renders the operations and the browser reports no CSP violation', async () => {
    const { page, violations } = await watchedPage();
    const r = await page.goto(`${base}/docs/`);
    expect(r?.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.waitForSelector('.opblock', { timeout: 30_000 });
    expect(await page.locator('.opblock').count()).toBeGreaterThan(10);
    expect(violations, violations.join("\n")).toEqual([]);
    await page.close();
  }, 60_000);
});
