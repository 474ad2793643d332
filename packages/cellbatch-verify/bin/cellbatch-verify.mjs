#!/usr/bin/env node
// The command. The program itself is dist/cellbatch-verify.mjs, built from src/ when the package is
// installed from the repository (npm ci runs its `prepare`) and shipped built in the published package.
import fs from 'node:fs';

const program = new URL('../dist/cellbatch-verify.mjs', import.meta.url);
if (!fs.existsSync(program)) {
  process.stderr.write('cellbatch-verify is not built: run `npm run build -w cellbatch-verify` (or `npm ci`) first\n');
  process.exit(2);
}
await import(program.href);
