// The signed-step write path in-process, for profiling the server's own work per step (issue 12 item 7):
// the same request as benchmark 1 (CAR-T apheresis receipt on fresh batches, 20 clients at once), sent
// through app.inject with argon2's verification stubbed out, so the main thread's CPU per step is the
// server's work alone (no hash, no HTTP). Not a benchmark with a target: a tool to compare two builds
// alternately on the same machine, and to write a CPU profile of the last round.
// --real-argon2 keeps the real verification on the thread pool: the same work then costs the main
// thread ~1.6 × its CPU on a 2-core VM, the hashes beside it (19 MiB each) evicting its caches
// (docs/performance.md, "Signed steps: where the main thread's time goes").
//
//   node --env-file=server/node.env --import tsx bench/steps-in-process.ts [--steps 300] [--rounds 2] [--real-argon2] [--profile file.cpuprofile]
import fs from 'node:fs';
import inspector from 'node:inspector';
import os from 'node:os';
import path from 'node:path';
import argon2 from 'argon2';
import { buildApp } from '../server/app.js';
import { bootstrapAdmin } from '../server/services/bootstrap.js';
import { createUser } from '../server/services/accounts.js';
import { din, numberOption, parseArgs, PASSWORD } from './lib.js';

const args = parseArgs();
const CLIENTS = 20;
const STEPS = numberOption(args, 'steps', undefined, 300);
const ROUNDS = numberOption(args, 'rounds', undefined, 2);
const PROFILE = args.values.get('profile');
const HOUR = 3_600_000;

/** The main thread's own CPU time (user, system) so far, in ms (Linux: /proc). */
function mainThread() {
  const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) * 10, system: Number(f[12]) * 10 };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellbatch-steps-'));
const { app, ctx } = await buildApp({ dbFile: path.join(dir, 'cellbatch.db'), training: true, logger: false, awaitVerification: false });
await bootstrapAdmin(ctx, 'Bench-Admin-Password-2026!', () => {});
const operators = Array.from({ length: CLIENTS }, (_, i) => `op${i + 1}`);
for (const u of operators) await createUser(ctx, null, { username: u, fullName: `Bench ${u}`, roles: ['operator'], password: PASSWORD }, false);
if (!args.flags.has('real-argon2')) (argon2 as { verify: unknown }).verify = async () => true;
const tokens: string[] = [];
for (const u of operators) tokens.push((await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: u, password: PASSWORD } })).json().token);
const batches: { id: string; keyed: string; version: number }[] = [];
for (let i = 0; i < STEPS * (ROUNDS + 1); i++) {
  const d = din(i + 1);
  const r = await app.inject({ method: 'POST', url: '/api/v1/batches', headers: { authorization: `Bearer ${tokens[i % CLIENTS]}` }, payload: { processId: 'car-t', din: d.keyed, patient: { id: `PT-${i + 1}`, weightKg: 70 } } });
  if (r.statusCode !== 201) throw new Error(`create batch: ${r.statusCode} ${r.body}`);
  batches.push({ id: r.json().id, keyed: d.keyed, version: r.json().version });
}

async function run(n: number) {
  let left = n;
  await Promise.all(tokens.map(async (token, c) => {
    while (left-- > 0) {
      const b = batches.shift()!;
      const now = Date.now();
      const r = await app.inject({
        method: 'POST', url: `/api/v1/batches/${b.id}/steps/apheresis-receipt`, headers: { authorization: `Bearer ${token}` },
        payload: {
          values: { bagScan: b.keyed, collectionEnd: new Date(now - 20 * HOUR).toISOString(), receivedAt: new Date(now - HOUR / 2).toISOString(), transportTemperature: 4, volume: 220 },
          signature: { username: operators[c], password: PASSWORD }, expectedVersion: b.version,
        },
      });
      if (r.statusCode !== 201) throw new Error(`signed step: ${r.statusCode} ${r.body}`);
    }
  }));
}

await run(STEPS); // warm-up: JIT, statement caches
const perStep: number[] = [];
let session: inspector.Session | undefined;
for (let round = 1; round <= ROUNDS; round++) {
  if (PROFILE && round === ROUNDS) {
    session = new inspector.Session();
    session.connect();
    await new Promise((r) => session!.post('Profiler.enable', () => session!.post('Profiler.start', r)));
  }
  const [c0, t0] = [mainThread(), performance.now()];
  await run(STEPS);
  const [c1, t1] = [mainThread(), performance.now()];
  const cpu = (c1.user + c1.system - c0.user - c0.system) / STEPS;
  perStep.push(cpu);
  console.log(`round ${round}: main thread ${cpu.toFixed(2)} ms of CPU per step (system ${((c1.system - c0.system) / STEPS).toFixed(2)} ms), wall ${((t1 - t0) / STEPS).toFixed(2)} ms per step`);
}
if (session) {
  await new Promise<void>((r) => session!.post('Profiler.stop', (_e, res) => { fs.writeFileSync(PROFILE!, JSON.stringify((res as { profile: unknown }).profile)); r(); }));
  console.log(`CPU profile of the last round: ${PROFILE}`);
}
const sorted = [...perStep].sort((a, b) => a - b);
console.log(`median ${sorted[Math.floor((sorted.length - 1) / 2)].toFixed(2)} ms of main-thread CPU per signed step; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
await app.close();
fs.rmSync(dir, { recursive: true, force: true });
