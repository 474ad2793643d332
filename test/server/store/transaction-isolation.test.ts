// The store is asynchronous, and SQLite has one connection (PostgreSQL a pool): a write transaction
// stays open across awaits while other requests arrive. Nobody may read its rows before it commits (21 CFR 11.10(a): the
// record shows what was committed), and a write that fails leaves nothing behind. A write is slowed and
// then made to fail by injecting a fault into the store (as the clock is injected elsewhere); what the
// other requests see is read back over HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createBatch, din, harness, HOUR, recordState, sign, type Harness } from '../../helpers.js';
import { rebuildProjection } from '../../../server/services/projection.js';

let h: Harness;
beforeAll(async () => { h = await harness(); });
afterAll(async () => h.close());

async function post(user: string, url: string, payload: unknown) {
  const res = await h.app.inject({
    method: 'POST', url: `/api/v1${url}`, payload: JSON.stringify(payload),
    headers: { authorization: `Bearer ${h.tokens[user]}`, 'content-type': 'application/json' },
  });
  return { status: res.statusCode, body: res.json() };
}

const receipt = (seq: number) => {
  const now = h.ctx.clock.now().getTime();
  return { bagScan: din(seq).keyed, collectionEnd: new Date(now - 10 * HOUR).toISOString(), receivedAt: new Date(now - HOUR).toISOString(), transportTemperature: 4, volume: 200 };
};

/** A promise and the function that settles it. */
function signal<T = void>() {
  let settle!: (value: T) => void;
  const done = new Promise<T>((resolve) => { settle = resolve; });
  return { done, settle };
}

const WAITING = Symbol('waiting');
/** Whether a promise is still pending: an already settled one wins the race (its reaction is queued first). */
const pending = async (p: Promise<unknown>) => (await Promise.race([p, Promise.resolve(WAITING)])) === WAITING;

describe('a write transaction open across awaits', () => {
  it('keeps its rows from every other request until it ends, and a failed one leaves nothing behind', async () => {
    const a = await createBatch(h, 'car-t', 41);
    const b = await createBatch(h, 'car-t', 42);
    const before = await recordState(h);
    const store = h.ctx.store;
    // Bound: the PostgreSQL store's methods are a class's, the SQLite store's are closures.
    const original = { saveBatchState: store.saveBatchState, findSession: store.findSession };
    const saveBatchState = original.saveBatchState.bind(store);
    const findSession = original.findSession.bind(store);
    const written = signal();
    const gate = signal();
    const readArrived = signal<{ session: Promise<unknown> }>();
    // Batch A's write unit: entry, signature, audit row and projection are written, then it waits and fails.
    store.saveBatchState = async (id, state) => {
      await saveBatchState(id, state);
      if (id !== a.id) return;
      written.settle();
      await gate.done;
      throw new Error('injected fault: the disk is full');
    };
    try {
      const failing = post('op1', `/batches/${a.id}/steps/apheresis-receipt`, { values: receipt(41), signature: sign('op1'), expectedVersion: a.version });
      await written.done;
      // Every request starts at the store with its session: the first one to arrive is the read.
      store.findSession = (tokenHash) => { const session = findSession(tokenHash); readArrived.settle({ session }); return session; };
      const read = call(h, 'qa1', 'GET', `/batches/${a.id}`);
      // SQLite's one connection makes the read wait until the transaction has ended; PostgreSQL answers it
      // from the committed rows at once. Either way it must not see the transaction's rows (below).
      const session = (await readArrived.done).session;
      if (store.dialect === 'sqlite') expect(await pending(session), 'the read waits while the transaction is open').toBe(true);
      const trail = call(h, 'qa1', 'GET', `/audit?batchId=${a.id}`);
      const other = post('op2', `/batches/${b.id}/steps/apheresis-receipt`, { values: receipt(42), signature: sign('op2'), expectedVersion: b.version });
      gate.settle();
      const [failed, seen, audit, recorded] = await Promise.all([failing, read, trail, other]);

      expect(failed.status, JSON.stringify(failed.body)).toBe(500);
      // The read waited for the transaction and saw the batch as committed: no step, its old version.
      expect(seen.status).toBe(200);
      expect(seen.body.version).toBe(a.version);
      expect(seen.body.entries.filter((e: { stepId?: string }) => e.stepId === 'apheresis-receipt')).toEqual([]);
      expect(audit.body.items.map((r: { action: string }) => r.action)).not.toContain('step.recorded');
      // A signed step on another batch, at the same time, is recorded once the failed one has rolled back.
      expect(recorded.status, JSON.stringify(recorded.body)).toBe(201);
    } finally {
      store.saveBatchState = original.saveBatchState;
      store.findSession = original.findSession;
    }

    const after = await recordState(h);
    expect(after.entries - before.entries, 'only batch B\'s entry').toBe(1);
    expect(after.signatures - before.signatures, 'only batch B\'s signature').toBe(1);
    expect(after.chain).toBe(true);
    expect((await store.entriesOfBatch(a.id)).map((e) => e.kind)).toEqual(['batch-created']);
    expect((await call(h, 'qa1', 'GET', `/batches/${a.id}`)).body.version).toBe(a.version);
    for (const id of [a.id, b.id]) {
      const p = (await rebuildProjection(h.ctx, id))!;
      expect(p.cached, `projection of batch ${id}`).toEqual(p.rebuilt);
    }
    // The record goes on: batch A takes the step it lost.
    expect((await post('op1', `/batches/${a.id}/steps/apheresis-receipt`, { values: receipt(41), signature: sign('op1'), expectedVersion: a.version })).status).toBe(201);
  });
});
