// `npm run bench`: every benchmark in sequence, then a summary of the verdict lines.
//
//   npm run bench                      # small scale: 1,000 batches × 200,000 entries (a few minutes)
//   npm run bench -- --full            # 10,000 batches × 5,000,000 entries (about half an hour, ~9 GB of temp files)
//   npm run bench -- --batches 2000 --entries 400000 --clients 20 --steps 400 --rounds 3
//   npm run bench -- --only steps,read,verify,pdf,pg,limits   --keep (keep the temp databases)   --strict (exit 1 on a miss)
//   npm run bench -- --only pg [--only-pg steps,read] [--pg-batches 10000 --pg-entries-per-batch 20]   (PostgreSQL: bench/postgres.ts)
//
// See docs/performance.md for what each benchmark measures and the figures on the reference machine.
import { fmt, heading, machine, parseArgs, scaleOf, type Verdict } from './lib.js';
import { runSignedSteps, signedStepsOptions } from './signed-steps.js';
import { readOptions, runReadLatency, seedPair } from './read-latency.js';
import { runVerifyChains } from './verify-chains.js';
import { runRecordPdf } from './record-pdf.js';
import { postgresOptions, runPostgres } from './postgres.js';
import { passwordLimitsOptions, runPasswordLimits } from './password-limits.js';

const args = parseArgs();
const only = args.values.get('only')?.split(',');
const runs = (what: string) => !only || only.includes(what);
const scale = scaleOf(args);
const t0 = performance.now();
console.log(`cellbatch benchmarks — ${new Date().toISOString()}`);
console.log(`machine: ${machine()}`);
console.log(`scale: ${scale.full ? 'FULL' : 'small'} (${fmt(scale.batches)} batches, ${fmt(scale.entries)} entries)${scale.full ? '' : '; npm run bench -- --full for 10,000 × 5,000,000'}`);

const verdicts: Verdict[] = [];
if (runs('steps')) verdicts.push(...await runSignedSteps(signedStepsOptions(args)));
if (runs('read') || runs('verify')) {
  heading('Seeding (bench/seed.ts)');
  const pair = await seedPair(args);
  try {
    if (runs('read')) verdicts.push(...await runReadLatency(pair.large, pair.small, readOptions(args)));
    if (runs('verify')) verdicts.push(...await runVerifyChains(pair.large.dbFile));
  } finally {
    pair.cleanup();
  }
}

if (runs('pdf')) verdicts.push(...await runRecordPdf({ auditRows: 2000, rounds: 5 }));
if (runs('pg')) verdicts.push(...await runPostgres(postgresOptions(args)));
if (runs('limits')) verdicts.push(...await runPasswordLimits(passwordLimitsOptions(args)));

heading('Summary');
for (const v of verdicts) console.log(v.line);
const judged = verdicts.filter((v) => v.pass !== null);
const missed = judged.filter((v) => v.pass === false);
console.log(`\n${judged.length - missed.length} of ${judged.length} targets met${missed.length ? `; missed: ${missed.map((v) => v.name).join('; ')}` : ''} (${fmt((performance.now() - t0) / 1000)} s)`);
if (args.flags.has('strict') && missed.length) process.exitCode = 1;
