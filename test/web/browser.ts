// Browser tests: the real app (the same buildApp as `npm start`, with the UI built into web/dist)
// listening on a free loopback port over a fresh database, driven by Debian's Chromium through
// playwright-core. The wall clock is the harness's, so a test can let a session expire.
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import axe from 'axe-core';
import { expect } from 'vitest';
import { buildWebUi } from '../../scripts/build-web.mjs';
import { harness, type Harness, type HarnessOptions } from '../helpers.js';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export interface Terminal {
  h: Harness;
  url: string;
  browser: Browser;
  /** A fresh browser context (cookies, storage) at a bench terminal's screen size, in UTC; its browser's language en-GB unless `locale` says otherwise. */
  open(opts?: { width?: number; height?: number; locale?: string }): Promise<{ context: BrowserContext; page: Page }>;
  /** Requests any page made outside the app (nothing may be fetched from the internet), and CSP refusals. */
  external: string[];
  close(): Promise<void>;
}

export async function startTerminal(opts: HarnessOptions = {}): Promise<Terminal> {
  await buildWebUi();
  const h = await harness(opts);
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const external: string[] = [];
  return {
    h, url, browser, external,
    async open({ width = 1280, height = 800, locale = 'en-GB' } = {}) {
      const context = await browser.newContext({ viewport: { width, height }, timezoneId: 'UTC', locale, baseURL: url });
      context.setDefaultTimeout(8000);
      const page = await context.newPage();
      // Anything the page asks of another origin would break the "nothing from the internet" rule.
      page.on('request', (r) => { if (!r.url().startsWith(url)) external.push(r.url()); });
      // The page must work under the server's Content-Security-Policy: a refusal is a failure too.
      page.on('console', (m) => { if (/Content.Security.Policy/i.test(m.text())) external.push(`CSP: ${m.text()}`); });
      return { context, page };
    },
    async close() {
      await browser.close();
      await h.close();
    },
  };
}

/** axe-core on the page as it is: no serious or critical violation. */
export async function expectAccessible(page: Page, what: string) {
  await page.evaluate(axe.source);
  const result = await page.evaluate('axe.run(document, { resultTypes: ["violations"] })') as axe.AxeResults;
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`);
  expect(bad, `axe on ${what}`).toEqual([]);
}

/**
 * Every control on the page a gloved finger must hit is at least 44 × 44 CSS px (WCAG 2.2 §2.5.5, the
 * issue's bench terminal): buttons, links, inputs, selects; a checkbox or radio by its label, which
 * takes the touch. Controls not shown (no box) are not counted.
 */
export async function expectTouchTargets(page: Page, what: string) {
  const small = await page.evaluate(`(() => {
    const out = [];
    for (const el of document.querySelectorAll('button, a[href], input, select, textarea, summary, [role="button"]')) {
      let box = el.getBoundingClientRect();
      if (box.width === 0 && box.height === 0) continue;
      if (el.type === 'checkbox' || el.type === 'radio') { const label = el.closest('label'); if (label) box = label.getBoundingClientRect(); }
      if (box.height < 44 || box.width < 44) {
        out.push(el.tagName.toLowerCase() + ' "' + (el.getAttribute('aria-label') || el.textContent || el.name || '').trim().slice(0, 40) + '" ' + Math.round(box.width) + '×' + Math.round(box.height));
      }
    }
    return out;
  })()`) as string[];
  expect(small, `touch targets on ${what}`).toEqual([]);
}

/** Whether the element has the keyboard focus. */
export const isFocused = (l: Locator) => l.evaluate((el: { ownerDocument: { activeElement: unknown } }) => el.ownerDocument.activeElement === el);

/** Saves a screenshot under docs/screenshots when CELLBATCH_SCREENSHOTS is set (see docs/ui.md). */
export async function screenshot(page: Page, name: string, { top = false } = {}) {
  if (!process.env.CELLBATCH_SCREENSHOTS) return;
  const dir = path.resolve(import.meta.dirname, '../../docs/screenshots');
  fs.mkdirSync(dir, { recursive: true });
  if (top) await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: false });
}

/**
 * Counts what a technician does: one click, or one field typed and ended with Enter or Tab (as a
 * scanner or a keyed value ends). The figures are stated in docs/ui.md.
 */
export class Actions {
  count = 0;
  async click(l: Locator) { this.count++; await l.click(); }
  async enter(l: Locator, value: string, key: 'Enter' | 'Tab' = 'Enter') {
    this.count++;
    await l.fill(value);
    await l.press(key);
  }
}
