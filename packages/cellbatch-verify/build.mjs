#!/usr/bin/env node
// Bundles the verifier into one file, dist/cellbatch-verify.mjs, that runs on plain Node (no tsx).
// The bundle takes in what it shares with the server, so that the published package needs none of it:
// the printing of values, times and signatures (reports/values.ts, format.ts, messages) — the verifier
// compares the pages with the attachment in the very words the PDF was drawn with — and the export's
// schema (schemas/export.ts, with zod). pdfjs-dist stays a dependency: it is read from node_modules.
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const { version } = JSON.parse(fs.readFileSync(path.join(here, 'package.json'), 'utf8'));

await build({
  entryPoints: [path.join(here, 'src', 'cli.ts')],
  outfile: path.join(here, 'dist', 'cellbatch-verify.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['pdfjs-dist'],
  define: { VERIFIER_VERSION: JSON.stringify(version) },
  legalComments: 'none',
  logLevel: 'warning',
});
