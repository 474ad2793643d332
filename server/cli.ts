// The cellbatch command line: checks that need no running server.
//   cellbatch process check FILE   report what is wrong with a process definition (exit 1 if anything)
//   cellbatch verify [--db FILE]   recompute every hash chain of a database (exit 1 if broken)
import fs from 'node:fs';
import { checkDefinition, describeProblem } from '../workflows/check.js';
import { Store } from './store/store.js';

const USAGE = `usage:
  cellbatch process check FILE     check a process definition (JSON) without starting the server
  cellbatch verify [--db FILE]     verify every hash chain of the database (default $CELLBATCH_DB or ./data/cellbatch.db)`;

export function processCheck(file: string): { code: number; lines: string[] } {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    return { code: 1, lines: [`${file}: cannot be read as JSON: ${(e as Error).message}`] };
  }
  const result = checkDefinition(json);
  if (result.ok) {
    const d = result.definition;
    const steps = d.phases.reduce((n, p) => n + p.steps.length, 0);
    return { code: 0, lines: [`${file}: OK — process ${d.id} version ${d.version} (${d.productType}), ${steps} steps, hash ${result.hash}`] };
  }
  return { code: 1, lines: [`${file}: ${result.problems.length} problem(s)`, ...result.problems.map((p) => `  - ${describeProblem(p)}`)] };
}

export function verifyDatabase(file: string): { code: number; lines: string[] } {
  if (!fs.existsSync(file)) return { code: 1, lines: [`${file}: no such database`] };
  const store = new Store(file);
  try {
    const r = store.verifyChains();
    return { code: r.valid ? 0 : 1, lines: [JSON.stringify(r)] };
  } finally {
    store.close();
  }
}

export function runCli(argv: string[]): { code: number; lines: string[] } {
  const [cmd, sub, arg] = argv;
  if (cmd === 'process' && sub === 'check' && arg) return processCheck(arg);
  if (cmd === 'verify') {
    const i = argv.indexOf('--db');
    return verifyDatabase(i >= 0 && argv[i + 1] ? argv[i + 1] : process.env.CELLBATCH_DB ?? './data/cellbatch.db');
  }
  return { code: 2, lines: [USAGE] };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/').split('/').pop()!)) {
  const { code, lines } = runCli(process.argv.slice(2));
  for (const l of lines) (code === 0 ? console.log : console.error)(l);
  process.exit(code);
}
