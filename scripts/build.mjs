#!/usr/bin/env node
// Compiles the service to plain JavaScript in dist/, which `npm start` runs: esbuild strips the types
// file by file and keeps the layout, so paths relative to a module (the migrations) still hold. A
// server compiled ahead is ~40 MB smaller and starts faster than one transpiled as it loads (tsx).
// Type checking stays with tsc (`npm run typecheck`); this only transpiles. Runs before every
// `npm start` (about a second), so dist/ never lags behind the sources. Further .ts files given as
// arguments are compiled beside the service, in the same layout (the benchmarks' server).
import { build } from 'esbuild';
import { buildWebUi } from './build-web.mjs';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const SOURCES = ['server', 'workflows', 'schemas', 'reports'];
const OUT = path.join(ROOT, 'dist');

/** Every .ts module under a folder (declaration files aside). */
function modules(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const full = path.join(dir, d.name);
    if (d.isDirectory()) return modules(full);
    return d.name.endsWith('.ts') && !d.name.endsWith('.d.ts') ? [full] : [];
  });
}

fs.rmSync(OUT, { recursive: true, force: true });
await build({
  entryPoints: [...SOURCES.flatMap((s) => modules(path.join(ROOT, s))), ...process.argv.slice(2).filter((a) => !a.startsWith('--')).map((f) => path.resolve(ROOT, f))],
  outdir: OUT,
  outbase: ROOT,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
});
// Files the compiled modules read beside themselves: both dialects' migrations (without the
// PostgreSQL ones, `npm start` with CELLBATCH_DATABASE_URL stopped at its first migration check).
for (const folder of ['migrations', 'migrations-pg']) {
  fs.cpSync(path.join(ROOT, 'server', 'store', folder), path.join(OUT, 'server', 'store', folder), { recursive: true });
}

// The web UI (web/dist), rebuilt only when its sources changed (scripts/build-web.mjs).
await buildWebUi({ force: process.argv.includes('--web') });
