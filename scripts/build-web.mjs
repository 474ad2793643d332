#!/usr/bin/env node
// Builds the web UI (web/) with Vite into web/dist, which the server serves at `/`. Skipped when
// web/dist was made from the same sources (a hash of web/ and the lock file that pins what it bundles),
// so that a start without UI changes stays fast. `node scripts/build-web.mjs --force` always builds.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const WEB = path.join(ROOT, 'web');
const DIST = path.join(WEB, 'dist');
const STAMP = path.join(DIST, '.sources');

const files = (dir) => fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
  const full = path.join(dir, d.name);
  if (d.isDirectory()) return d.name === 'dist' || d.name === 'node_modules' ? [] : files(full);
  return [full];
});

/** The hash of everything the UI's build reads. */
export function webSourcesHash() {
  const hash = crypto.createHash('sha256');
  for (const f of [...files(WEB), path.join(ROOT, 'package-lock.json')].sort()) {
    hash.update(path.relative(ROOT, f)).update('\0').update(fs.readFileSync(f)).update('\0');
  }
  return hash.digest('hex');
}

/** Builds web/dist unless it is fresh; returns whether it built. */
export async function buildWebUi({ force = false } = {}) {
  const digest = webSourcesHash();
  if (!force && fs.existsSync(STAMP) && fs.readFileSync(STAMP, 'utf8') === digest) return false;
  let build;
  try {
    ({ build } = await import('vite'));
  } catch {
    // An install without devDependencies (npm ci --omit=dev) cannot build: it serves what was built.
    console.warn(fs.existsSync(path.join(DIST, 'index.html'))
      ? 'web UI: vite is not installed; serving the web/dist built earlier'
      : 'web UI: vite is not installed and web/dist is missing; the UI will not be served (npm ci installs it)');
    return false;
  }
  // Always React's production build: a caller's NODE_ENV (vitest sets "test") would give the
  // development build, twice the size and several times slower to render.
  const before = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({ configFile: path.join(WEB, 'vite.config.ts'), mode: 'production', logLevel: 'warn' });
  } finally {
    if (before === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = before;
  }
  fs.writeFileSync(STAMP, digest);
  return true;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildWebUi({ force: process.argv.includes('--force') });
}
