// Benchmark 7: the limits on password work (issue 10; docs/security.md) against a busy lab and an attacker.
//
// The server runs in its own process (bench/server.ts) trusting X-Forwarded-For, so that each request
// can come from an address of its own. A lab of --terminals terminals (default 6) behind ONE address
// (a NAT), each logged in as its own operator, signs one CAR-T step every second, then all of them
// and as many more sign at once (a burst). Meanwhile, phase by phase, an attacker with a session of
// its own floods signed steps from --attackers concurrent loops (default 40):
//   1. nothing (the lab alone);
//   2. unknown signer names, from one address (each costs one full argon2id check, by design);
//   3. one account (wrong passwords; it locks after five, then 423), from one address;
//   4. unknown signer names, each request from another address;
//   5. one account, each request from another address.
// Measured in the same run: raw argon2id (the product's parameters, server/auth/passwords.ts):
// verifications/s with as many in parallel as the thread pool has threads, and one verification alone.
// Figures: the lab's refusals (429s or any other non-201), and its signature latency p50/p95 as a
// multiple of one raw argon2id verification. Targets: the lab alone meets no limit, and its p95 stays
// ≤ 3 × one verification; under the one-address floods ≤ 5 ×; under the many-address floods the
// latency is bounded by the process's queue (64 waiting + the running ones), shown, not judged.
//
//   node --env-file=server/node.env --import tsx bench/password-limits.ts [--terminals 6] [--seconds 10] [--attackers 40]
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Role } from '../workflows/definition.js';
import { rawArgon2 } from './signed-steps.js';
import {
  createUsers, din, fmt, heading, http, isMain, login, ms, note, numberOption, parseArgs, PASSWORD, pct, percentile, runAlone,
  ServerProcess, tempDir, UV_THREADPOOL_SIZE, verdict, waitForQuiet, watchCpu, type Verdict,
} from './lib.js';

export interface PasswordLimitsOptions { terminals: number; seconds: number; attackers: number; keep?: boolean }

const HOUR = 3_600_000;
const LAB_ADDRESS = '10.1.0.1';
const ATTACKER_ADDRESS = '10.66.0.1';

type Batch = { id: string; keyed: string; version: number };
interface Phase { name: string; attack?: { signer: () => string; address: () => string } }

export async function runPasswordLimits(o: PasswordLimitsOptions): Promise<Verdict[]> {
  heading(`Benchmark 7: limits on password work — a lab of ${o.terminals} terminals behind one address, an attacker with ${o.attackers} loops`);
  const dir = tempDir('limits');
  const dbFile = path.join(dir, 'cellbatch.db');
  const lab = Array.from({ length: o.terminals }, (_, i) => `op${String(i + 1).padStart(2, '0')}`);
  await createUsers(dbFile, [['admin', ['admin']], ['mallory', ['operator']], ['victim', ['operator']], ...lab.map((u): [string, Role[]] => [u, ['operator']])]);
  process.env.BENCH_TRUST_PROXY = '1';
  const server = await ServerProcess.start(dbFile);
  try {
    return await measure(o, server, lab);
  } finally {
    await server.stop();
    if (!o.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function measure(o: PasswordLimitsOptions, server: ServerProcess, lab: string[]): Promise<Verdict[]> {
  const send = async (address: string, token: string, url: string, body: unknown) => {
    const t = performance.now();
    const res = await fetch(`${server.url}/api/v1${url}`, {
      method: 'POST', body: JSON.stringify(body),
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-forwarded-for': address },
    });
    await res.arrayBuffer();
    return { status: res.status, ms: performance.now() - t };
  };
  const loginFrom = async (address: string, username: string) => {
    const res = await fetch(`${server.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': address }, body: JSON.stringify({ username, password: PASSWORD }) });
    if (res.status !== 200) throw new Error(`login ${username}: ${res.status}`);
    return (await res.json() as { token: string }).token;
  };
  const labTokens = await Promise.all(lab.map((u) => loginFrom(LAB_ADDRESS, u)));
  const mallory = await login(server.url, 'mallory');

  const phases: Phase[] = [
    { name: 'lab alone' },
    { name: 'unknown signer names from one address', attack: { signer: () => `ghost-${randomUUID()}`, address: () => ATTACKER_ADDRESS } },
    { name: 'one account from one address', attack: { signer: () => 'victim', address: () => ATTACKER_ADDRESS } },
    { name: 'unknown signer names from many addresses', attack: { signer: () => `ghost-${randomUUID()}`, address: randomAddress } },
    { name: 'one account from many addresses', attack: { signer: () => 'victim', address: randomAddress } },
  ];
  const burst = 2 * o.terminals;
  const needed = phases.length * (o.terminals * o.seconds + burst) + 1;
  const batches: Batch[] = [];
  for (let i = 0; i < needed; i += 4) {
    batches.push(...await Promise.all(Array.from({ length: Math.min(4, needed - i) }, async (_, k) => {
      const d = din(i + k + 1);
      const r = await http(server.url, 'POST', '/batches', mallory, { processId: 'car-t', din: d.keyed, patient: { id: `PT-${i + k + 1}`, weightKg: 70 } });
      if (r.status !== 201) throw new Error(`create batch: ${r.status} ${JSON.stringify(r.body)}`);
      return { id: r.body.id as string, keyed: d.keyed, version: r.body.version as number };
    })));
  }
  const target = batches.pop()!; // the attacker's: its signatures fail, so its version never moves
  const step = (b: Batch, username: string, password = PASSWORD) => {
    const now = Date.now();
    return {
      values: { bagScan: b.keyed, collectionEnd: new Date(now - 20 * HOUR).toISOString(), receivedAt: new Date(now - HOUR / 2).toISOString(), transportTemperature: 4, volume: 220 },
      signature: { username, password }, expectedVersion: b.version,
    };
  };
  const signNext = (terminal: number) => {
    const b = batches.shift();
    if (!b) throw new Error('ran out of batches');
    return send(LAB_ADDRESS, labTokens[terminal], `/batches/${b.id}/steps/apheresis-receipt`, step(b, lab[terminal]));
  };

  const verdicts: Verdict[] = [];
  let labAlone = NaN;
  for (const phase of phases) {
    await waitForQuiet(() => [server.pid]);
    // The baseline right before each phase, under the same conditions (other work on the machine varies).
    const raw = await rawArgon2(Number(UV_THREADPOOL_SIZE), 20, 10);
    const other = watchCpu(() => [server.pid]);
    let stop = false;
    const attackStatus = new Map<number, number>();
    let attacks = 0;
    const attackLoops = phase.attack ? Array.from({ length: o.attackers }, async () => {
      while (!stop) {
        const r = await send(phase.attack!.address(), mallory, `/batches/${target.id}/steps/apheresis-receipt`, step(target, phase.attack!.signer(), 'Wrong-Guess-123456'));
        attacks++;
        attackStatus.set(r.status, (attackStatus.get(r.status) ?? 0) + 1);
      }
    }) : [];
    const t0 = performance.now();
    // Every terminal signs once a second, the terminals spread over the second; then the burst.
    const steady = (await Promise.all(lab.map(async (_, terminal) => {
      const out: { status: number; ms: number }[] = [];
      for (let s = 0; s < o.seconds; s++) {
        const due = t0 + s * 1000 + (terminal * 1000) / lab.length;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        out.push(await signNext(terminal));
      }
      return out;
    }))).flat();
    const bursting = await Promise.all(Array.from({ length: burst }, (_, i) => signNext(i % lab.length)));
    stop = true;
    await Promise.all(attackLoops);
    const seconds = (performance.now() - t0) / 1000;
    const all = [...steady, ...bursting];
    const refused = all.filter((r) => r.status !== 201);
    const ok = (rs: typeof all) => rs.filter((r) => r.status === 201).map((r) => r.ms);
    const p50 = percentile(ok(steady), 50);
    const p95 = percentile(ok(steady), 95);
    const burstMax = Math.max(...ok(bursting));
    const statuses = [...new Set(refused.map((r) => r.status))].join(', ');
    const verify = raw.singleP50;
    console.log(`${phase.name}: raw argon2id ${fmt(raw.perSecond, 1)}/s (${UV_THREADPOOL_SIZE} in parallel), one verification ${ms(verify)}; `
      + `lab ${all.length} signatures (${o.terminals}/s for ${o.seconds} s, then ${burst} at once), ${refused.length} refused${statuses ? ` (${statuses})` : ''}; `
      + `once a second p50 ${ms(p50)} (${fmt(p50 / verify, 1)} ×), p95 ${ms(p95)} (${fmt(p95 / verify, 1)} ×); burst slowest ${ms(burstMax)} (${fmt(burstMax / verify, 1)} ×)`
      + (phase.attack ? `; attacker ${fmt(attacks / seconds, 1)} requests/s (${[...attackStatus].map(([s, n]) => `${n} × ${s}`).join(', ')})` : '')
      + `; other processes used ${pct(other())} of the CPUs`);
    const baseline = `one argon2id verification ${ms(verify)}`;
    if (!phase.attack) {
      labAlone = p95;
      verdicts.push(verdict('busy lab behind one address: signatures refused', `${refused.length} of ${all.length}`, 'limit 0', refused.length, { max: 0 }));
      verdicts.push(verdict('busy lab: signature p95 (once a second per terminal)', ms(p95), baseline, p95 / verify, { max: 3 }));
    } else if (!phase.name.includes('many')) {
      verdicts.push(verdict(`lab under a flood of ${phase.name}: signature p95`, `${ms(p95)}, ${refused.length} refused`, `${baseline}; lab alone p95 ${ms(labAlone)}`, refused.length ? Infinity : p95 / verify, { max: 5 }));
    } else {
      verdicts.push(note(`lab under a flood of ${phase.name}`, `lab under a flood of ${phase.name}: signature p95 ${ms(p95)} = ${fmt(p95 / verify, 1)} × one argon2id verification (lab alone ${ms(labAlone)}); ${refused.length} of ${all.length} refused${statuses ? ` (${statuses})` : ''}; bounded by the process's queue (${UV_THREADPOOL_SIZE} running, 64 waiting, then 429 server-busy)`));
    }
  }
  return verdicts;
}

function randomAddress() {
  const b = () => Math.floor(Math.random() * 250) + 1;
  return `10.${b()}.${b()}.${b()}`;
}

export function passwordLimitsOptions(args = parseArgs()): PasswordLimitsOptions {
  return {
    terminals: numberOption(args, 'terminals', undefined, 6),
    seconds: numberOption(args, 'seconds', undefined, 10),
    attackers: numberOption(args, 'attackers', undefined, 40),
    keep: args.flags.has('keep'),
  };
}

if (isMain(import.meta.url)) await runAlone(() => runPasswordLimits(passwordLimitsOptions()));
