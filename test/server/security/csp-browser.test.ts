// The strict Content-Security-Policy (issue 10) in a real browser: /docs (swagger-ui) renders the API's
// operations with no CSP violation reported, served over real HTTP by the app on a free loopback port.
// Debian's chromium through playwright-core (nothing is downloaded).
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { harness, type Harness } from '../../helpers.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((f) => fs.existsSync(f));
let h: Harness;
let browser: Browser;
let base: string;

beforeAll(async () => {
  h = await harness();
  base = await h.app.listen({ port: 0, host: '127.0.0.1' });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await h?.close();
});

describe('the Content-Security-Policy in a browser', () => {
  it('/docs renders the operations and the browser reports no CSP violation', async () => {
    expect(CHROMIUM, 'a chromium to drive').toBeDefined();
    const page = await browser.newPage();
    const violations: string[] = [];
    page.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text()); });
    await page.exposeFunction('reportViolation', (v: string) => violations.push(v));
    await page.addInitScript(`document.addEventListener('securitypolicyviolation', (e) => window.reportViolation(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber));`);
    const r = await page.goto(`${base}/docs/`);
    expect(r?.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.waitForSelector('.opblock', { timeout: 30_000 });
    expect(await page.locator('.opblock').count()).toBeGreaterThan(10);
    expect(violations, violations.join("\n")).toEqual([]);
    await page.close();
  }, 60_000);
});
