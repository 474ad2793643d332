// What the two crash tests share (crash-safety.test.ts on a SQLite file, crash-safety.pg.test.ts on
// PostgreSQL): operators with passwords of their own, one round of concurrent signed steps and batch
// creations ended by SIGKILL right after a given number of acknowledged writes (the other requests
// still in flight), and the rows only a torn write would leave, asked of
// the database as its owner (test/owner.ts). Each test keeps the checks of its own database.
import { expect } from 'vitest';
import { din } from '../helpers.js';
import type { Owner } from '../owner.js';
import { api, type Exit, type ServerProcess } from './server-process.js';

export const STEP = 'apheresis-receipt';
export const CONCURRENCY = 6;
export const ADMIN_PASSWORD = 'Admin-Crash-Password-1';
const TEMPORARY_PASSWORD = 'Temporary-Crash-Pass-1';
const OPERATORS = ['op1', 'op2', 'op3'];
const HOUR = 3_600_000;

export interface Operator { username: string; password: string; token: string }
export interface ReadyBatch { batchId: string; seq: number }
export interface AckedBatch { batchId: string; seq: number; batchNumber: string; createdEntryId: string; round: number }
export interface AckedStep { batchId: string; entryId: string; signer: string; round: number }

/** What the test knows across rounds: the batches ready for their step, and every acknowledged write. */
export interface Load {
  operators: Operator[];
  adminToken: string;
  ready: ReadyBatch[];
  nextSeq: number;
  ackedBatches: Map<string, AckedBatch>;
  ackedSteps: Map<string, AckedStep>;
}

export function expectStatus(what: string, r: { status: number; body: unknown }, status: number) {
  if (r.status !== status) throw new Error(`${what}: expected ${status}, got ${r.status} ${JSON.stringify(r.body)}`);
}

export const createBody = (seq: number) => ({ processId: 'car-t', din: din(seq).keyed, patient: { id: `PT-CRASH-${seq}`, weightKg: 70 } });

/** The administrator's session and three operators who have changed their temporary passwords. */
export async function startLoad(base: string): Promise<Load> {
  const admin = await api(base, null, 'POST', '/api/v1/auth/login', { username: 'admin', password: ADMIN_PASSWORD });
  expectStatus('admin login', admin, 200);
  const adminToken: string = admin.body.token;
  const operators: Operator[] = [];
  for (const username of OPERATORS) {
    expectStatus(`create ${username}`, await api(base, adminToken, 'POST', '/api/v1/users', {
      username, fullName: `Crash ${username.toUpperCase()}`, roles: ['operator'], password: TEMPORARY_PASSWORD,
    }), 201);
    const login = await api(base, null, 'POST', '/api/v1/auth/login', { username, password: TEMPORARY_PASSWORD });
    expectStatus(`${username} login`, login, 200);
    expect(login.body.mustChangePassword).toBe(true);
    const password = `Crash-${username}-Password-9`;
    expectStatus(`${username} password change`, await api(base, login.body.token, 'POST', '/api/v1/me/password', { currentPassword: TEMPORARY_PASSWORD, newPassword: password }), 204);
    operators.push({ username, password, token: login.body.token });
  }
  return { operators, adminToken, ready: [], nextSeq: 1, ackedBatches: new Map(), ackedSteps: new Map() };
}

/** Creates batches (acknowledged) until CONCURRENCY of them wait for their step. */
export async function fillReady(base: string, load: Load, round: number) {
  while (load.ready.length < CONCURRENCY) {
    const seq = load.nextSeq++;
    const r = await api(base, load.operators[0].token, 'POST', '/api/v1/batches', createBody(seq));
    expectStatus('create batch', r, 201);
    load.ackedBatches.set(r.body.id, { batchId: r.body.id, seq, batchNumber: r.body.batchNumber, createdEntryId: r.body.entries[0].id, round });
    load.ready.push({ batchId: r.body.id, seq });
  }
}

export interface Round {
  exit: Exit;
  /** Requests refused or failed before the kill (none is expected). */
  unexpected: string[];
  /** Steps and creations in flight at the kill: committed whole or not at all. */
  unackedSteps: ReadyBatch[];
  unackedCreates: number[];
  acknowledged: { batches: AckedBatch[]; steps: AckedStep[] };
  /** Milliseconds from the start of the load to the kill. */
  killedAfterMs: number;
}

/**
 * CONCURRENCY workers sign the step on ready batches and create new ones (60 % steps, drawn from
 * `loadRng`) until the server is killed with SIGKILL, at once when the `killAfterAcks`-th write is
 * acknowledged: every round then has acknowledged writes that must survive, however slowly a loaded
 * machine serves them (a kill after a delay could come before the first), and the other workers'
 * requests are in flight at the kill. Every 201 is recorded as acknowledged, everything in flight at
 * the kill as unacknowledged. A request refused or failed before the kill ends the round too.
 */
export async function killedUnderLoad(s: ServerProcess, load: Load, round: number, killAfterAcks: number, loadRng: () => number): Promise<Round> {
  const base = s.base;
  const clock = await api(base, load.adminToken, 'POST', '/api/v1/training/clock', { advanceHours: 0 });
  expectStatus('read the training clock', clock, 200);
  const now = Date.parse(clock.body.now);
  const values = (seq: number) => ({
    bagScan: din(seq).keyed, collectionEnd: new Date(now - 10 * HOUR).toISOString(), receivedAt: new Date(now - HOUR).toISOString(),
    transportTemperature: 5, volume: 150,
  });
  let killed = false;
  let killedAt = 0;
  let acks = 0;
  let dead!: () => void;
  const due = new Promise<void>((resolve) => { dead = resolve; });
  const t0 = performance.now();
  const kill = () => {
    if (killed) return;
    killed = true;
    killedAt = performance.now();
    s.kill('SIGKILL');
    dead();
  };
  const acknowledged = () => { if (++acks >= killAfterAcks) kill(); };
  const out: Omit<Round, 'exit' | 'killedAfterMs'> = { unexpected: [], unackedSteps: [], unackedCreates: [], acknowledged: { batches: [], steps: [] } };
  const unexpected = (what: string) => { out.unexpected.push(what); kill(); };
  const worker = async (w: number) => {
    const op = load.operators[w % load.operators.length];
    while (!killed) {
      if (load.ready.length > 0 && loadRng() < 0.6) {
        const b = load.ready.shift()!;
        try {
          const r = await api(base, op.token, 'POST', `/api/v1/batches/${b.batchId}/steps/${STEP}`, {
            values: values(b.seq), signature: { username: op.username, password: op.password }, expectedVersion: 1,
          });
          const entryId = r.body?.entry?.id;
          if (r.status === 201 && typeof entryId === 'string') {
            if (r.body.entry.stepId !== STEP || r.body.batch?.version !== 2) unexpected(`step on ${b.batchId}: odd answer ${JSON.stringify(r.body.entry)}`);
            const ack = { batchId: b.batchId, entryId, signer: op.username, round };
            load.ackedSteps.set(entryId, ack);
            out.acknowledged.steps.push(ack);
            acknowledged();
          } else if (killed && r.status === 201) {
            out.unackedSteps.push(b); // the answer was cut short by the kill
          } else {
            unexpected(`step on ${b.batchId}: ${r.status} ${JSON.stringify(r.body)}`);
          }
        } catch (e) {
          if (!killed) unexpected(`step on ${b.batchId} failed before the kill: ${String(e)}`);
          out.unackedSteps.push(b);
        }
      } else {
        const seq = load.nextSeq++;
        try {
          const r = await api(base, op.token, 'POST', '/api/v1/batches', createBody(seq));
          const createdEntryId = r.body?.entries?.[0]?.id;
          if (r.status === 201 && typeof createdEntryId === 'string') {
            const ack = { batchId: r.body.id as string, seq, batchNumber: r.body.batchNumber as string, createdEntryId, round };
            load.ackedBatches.set(ack.batchId, ack);
            out.acknowledged.batches.push(ack);
            load.ready.push({ batchId: ack.batchId, seq });
            acknowledged();
          } else if (killed && r.status === 201) {
            out.unackedCreates.push(seq);
          } else {
            unexpected(`create DIN ${din(seq).din}: ${r.status} ${JSON.stringify(r.body)}`);
          }
        } catch (e) {
          if (!killed) unexpected(`create DIN ${din(seq).din} failed before the kill: ${String(e)}`);
          out.unackedCreates.push(seq);
        }
      }
    }
  };
  const workers = Array.from({ length: CONCURRENCY }, (_, w) => worker(w));
  await due; // the killAfterAcks-th acknowledgement, while the other workers keep their requests in flight
  const exit = await s.exited;
  await Promise.all(workers);
  return { exit, ...out, killedAfterMs: Math.round(killedAt - t0) };
}

/** Rows that only a torn write leaves: each query lists them (as `id`). */
const ORPHANS: [string, string][] = [
  ['a step entry without its performed signature', `select e.id from entries e where e.step_id is not null and not exists
    (select 1 from signatures s where s.entry_id = e.id and s.meaning = 'performed' and s.entry_hash = e.hash)`],
  ['a step entry without its step.recorded audit row', `select e.id from entries e where e.kind = 'step' and not exists
    (select 1 from audit_log a where a.action = 'step.recorded' and a.entity_id = e.id)`],
  ['a step.recorded audit row without its entry', `select a.entity_id as id from audit_log a where a.action = 'step.recorded' and not exists
    (select 1 from entries e where e.id = a.entity_id)`],
  ['a signature without its entry', 'select s.id from signatures s where not exists (select 1 from entries e where e.id = s.entry_id)'],
  ['a batch row without its creation entry', `select b.id from batches b where not exists
    (select 1 from entries e where e.batch_id = b.id and e.batch_seq = 1 and e.kind = 'batch-created')`],
  ['a batch row without its batch.created audit row', `select b.id from batches b where not exists
    (select 1 from audit_log a where a.action = 'batch.created' and a.entity_id = b.id)`],
  ['an entry without its batch row', 'select e.id from entries e where not exists (select 1 from batches b where b.id = e.batch_id)'],
  ['a gap in a batch\'s entry sequence', 'select batch_id as id from entries group by batch_id having count(*) <> max(batch_seq)'],
  ['a batch with two apheresis receipts', `select batch_id as id from entries where step_id = '${STEP}' group by batch_id having count(*) > 1`],
  ['a batch row whose version is not its entry count', 'select b.id from batches b where b.version <> (select count(*) from entries e where e.batch_id = b.id)'],
];

/** What is half-written in the record, one line per kind (none after a crash that loses nothing). */
export async function halfWritten(db: Owner): Promise<string[]> {
  const problems: string[] = [];
  for (const [what, sql] of ORPHANS) {
    const rows = (await db.rows<{ id: string }>(sql)).map((r) => r.id);
    if (rows.length) problems.push(`${what}: ${rows.slice(0, 5).join(', ')}${rows.length > 5 ? ` (+${rows.length - 5})` : ''}`);
  }
  return problems;
}
