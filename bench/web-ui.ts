// The terminal's web UI: the JavaScript it loads (gzipped; target ≤ 250 KB) and how long a batch page
// with 500 entries takes to become interactive over loopback (target < 1 s), in Debian's Chromium.
//
//   npx tsx bench/web-ui.ts [--entries 500] [--runs 5]
//
// The database is seeded by bench/seed.ts (one CAR-T batch filled with culture checks); the server is
// bench/server.ts (the compiled service, as `npm start` runs it). "Interactive" is the moment the
// timeline's last step and its Record button are on the page and the button takes a click: measured in
// the page from the navigation's start (performance.now()).
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { chromium } from 'playwright-core';
import { buildWebUi } from '../scripts/build-web.mjs';
import { seedDatabase, SEED_USERS } from './seed.js';
import { fmt, isMain, numberOption, parseArgs, PASSWORD, percentile, ROOT, ServerProcess, tempDir, verdict, type Verdict } from './lib.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../test/web/browser.js';

export async function runWebUi(opts: { entries: number; runs: number }): Promise<Verdict[]> {
  await buildWebUi();
  const assets = path.join(ROOT, 'web', 'dist', 'assets');
  const js = fs.readdirSync(assets).filter((f) => f.endsWith('.js'));
  const gz = js.reduce((n, f) => n + zlib.gzipSync(fs.readFileSync(path.join(assets, f)), { level: 9 }).length, 0);
  console.log(`JavaScript: ${js.length} file(s), ${fmt(gz / 1024, 1)} KB gzipped`);

  const dir = tempDir('cellbatch-web-ui-');
  const seeded = await seedDatabase({ dbFile: path.join(dir, 'cellbatch.db'), batches: 1, entries: opts.entries, log: () => {} });
  const server = await ServerProcess.start(seeded.dbFile);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const times: number[] = [];
  const fresh: number[] = [];
  // Polled in the page itself, so that the measuring tool's own selector engine is not in the figure.
  const interactive = `new Promise((resolve) => { const poll = () => { const b = document.getElementById('record-culture-check');
    if (b && !b.disabled) resolve(performance.now()); else requestAnimationFrame(poll); }; poll(); })`;
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: server.url });
    const page = await context.newPage();
    await page.goto('/');
    await page.getByLabel('Username').fill(SEED_USERS.operator);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    const batchUrl = `/batches/${seeded.batchIds[0]}`;
    for (let i = 0; i <= opts.runs; i++) {
      // As at the bench: from the work list, one click on the batch.
      await page.goto('/');
      await page.locator(`a[href="${batchUrl}"]`).waitFor();
      const t = await page.evaluate(`(() => { const t0 = performance.now(); document.querySelector('a[href="${batchUrl}"]').click();
        return ${interactive}.then((t1) => t1 - t0); })()`) as number;
      // A fresh tab opening the batch's address: the page, the script and the API from the start.
      const tab = await context.newPage();
      await tab.goto(batchUrl);
      const f = await tab.evaluate(interactive) as number;
      await tab.close();
      if (i > 0) { times.push(t); fresh.push(f); }   // the first round fills the HTTP cache: not counted
    }
    console.log(`batch page with ${fmt(seeded.entriesPerBatch)} entries, interactive after a click in the work list: ${times.map((x) => fmt(x)).join(', ')} ms`);
    console.log(`… and opened in a new tab: ${fresh.map((x) => fmt(x)).join(', ')} ms`);
  } finally {
    await browser.close();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const p50 = percentile(times, 50);
  return [
    verdict('web UI JavaScript, gzipped', `${fmt(gz / 1024, 1)} KB`, '250 KB', gz / 1024 / 250, { max: 1 }),
    verdict(`batch page with ${opts.entries} entries, time to interactive from the work list (p50)`, `${fmt(p50)} ms`, '1000 ms', p50 / 1000, { max: 1 }),
    verdict(`batch page with ${opts.entries} entries, time to interactive in a new tab (p50)`, `${fmt(percentile(fresh, 50))} ms`, '1000 ms', percentile(fresh, 50) / 1000, { max: 1 }),
  ];
}

if (isMain(import.meta.url)) {
  const args = parseArgs();
  const verdicts = await runWebUi({ entries: numberOption(args, 'entries', undefined, 500), runs: numberOption(args, 'runs', undefined, 5) });
  process.exitCode = verdicts.every((v) => v.pass !== false) ? 0 : 1;
}
