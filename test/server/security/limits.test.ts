// Issue 10, finding 2: twenty concurrent terminations naming unknown signers pushed every other
// signature's latency up by an order of magnitude. Password work is bounded now: one check at a time
// per account (lockout.test.ts), a bounded pool of argon2 work across all accounts (429 server-busy
// with Retry-After when full), and POST /me/password limited per address like login.
import argon2 from 'argon2';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { call, createBatch, harness, PASSWORD, sign, type Harness } from '../../helpers.js';
import { argon2Pool, dummyHash } from '../../../server/auth/passwords.js';
import { BoundedPool } from '../../../server/auth/bounded-pool.js';
import { tooManyRequests } from '../../../server/errors.js';
import { PER_ADDRESS } from '../../../server/plugins/password-limits.js';
import { receiptValues } from '../refusals/support.js';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => h.close());

/** A signed step sent from a given client address (inject's remote address). */
async function signFrom(address: string, batch: { id: string; version: number }, signer: string, password: string) {
  const r = await h.app.inject({
    method: 'POST', url: `/api/v1/batches/${batch.id}/steps/apheresis-receipt`, remoteAddress: address, headers: { authorization: `Bearer ${h.tokens.op1}` },
    payload: { values: receiptValues(h, 1), signature: sign(signer, password), expectedVersion: batch.version },
  });
  return { status: r.statusCode, body: r.json(), headers: r.headers };
}

/**
 * Holds every argon2 verification (the product's own, run on its pool) at a gate until `open`: a test
 * then counts the requests that reached the pool before any check finished and freed a slot.
 */
function holdVerifications() {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const verify = argon2.verify;
  let atGate = 0;
  const held = vi.spyOn(argon2, 'verify').mockImplementation(async (...args) => {
    atGate++;
    await gate;
    return verify(...args);
  });
  return { atGate: () => atGate, open: () => { release(); held.mockRestore(); } };
}

describe('the bounded pool of argon2 work', () => {
  it('a flood from one address holds at most its share of the pool: the excess is 429 too-many-attempts at once, nothing written, and another address signs meanwhile', async () => {
    const batch = await createBatch(h, 'car-t', 1);
    const before = await h.ctx.store.counts();
    let peak = 0;
    let done = false;
    const flood = Promise.all(Array.from({ length: 100 }, (_, i) => signFrom('10.0.0.66', batch, `ghost${i}`, 'Some-Guess-123456'))).finally(() => { done = true; });
    const watch = (async () => {
      while (!done) {
        peak = Math.max(peak, argon2Pool.load.running + argon2Pool.load.waiting);
        await new Promise((r) => setImmediate(r));
      }
    })();
    const other = await signFrom('10.0.0.7', batch, 'op2', 'a-wrong-password-1'); // not 429: the flood holds only its share
    expect(other.status).toBe(401);
    const replies = await flood;
    await watch;
    expect(peak).toBeLessThanOrEqual(PER_ADDRESS.atOnce + 1); // the flood's share, and the other address's one check
    const busy = replies.filter((r) => r.status === 429);
    expect(busy.length).toBeGreaterThanOrEqual(20);
    expect(replies.filter((r) => r.status === 401)).toHaveLength(replies.length - busy.length);
    for (const r of busy) {
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(r.body).toMatchObject({ status: 429, type: expect.stringMatching(/too-many-attempts$/), detail: expect.stringContaining('10.0.0.66') });
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    }
    expect((await h.ctx.store.counts()).entries).toBe(before.entries);
    expect(argon2Pool.load).toEqual({ running: 0, waiting: 0 });
    const ok = await signFrom('10.0.0.66', batch, 'op1', PASSWORD);
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
  });

  it('a flood from many addresses meets the process\'s bound: the excess is 429 server-busy at once, and a real signature works right after', async () => {
    const batch = await createBatch(h, 'car-t', 1);
    const before = await h.ctx.store.counts();
    await dummyHash(); // an unknown signer is checked against it: made now, so no flood request spends a slot on making it
    // The argon2 checks the flood starts are held at a gate until every request of the flood has reached
    // the pool (running at the gate, waiting, or refused): on PostgreSQL requests arrive spread out by
    // their database round trips, and a check that finished early would free a slot for a later request.
    // Held, the count is exact on both stores: `size` run, `maxWaiting` wait, the rest are refused.
    const excess = 20;
    const total = argon2Pool.size + argon2Pool.maxWaiting + excess;
    const gate = holdVerifications();
    let settled = 0;
    const flood = Promise.all(Array.from({ length: total }, (_, i) => signFrom(`10.1.${i >> 8}.${i & 255}`, batch, `ghost${i}`, 'Some-Guess-123456').finally(() => { settled++; })));
    try {
      while (gate.atGate() + argon2Pool.load.waiting + settled < total) await new Promise((r) => setImmediate(r));
      expect(argon2Pool.load).toEqual({ running: argon2Pool.size, waiting: argon2Pool.maxWaiting });
      expect(settled).toBe(excess);
    } finally {
      gate.open();
    }
    const replies = await flood;
    const busy = replies.filter((r) => r.status === 429);
    expect(busy).toHaveLength(excess);
    expect(replies.filter((r) => r.status === 401)).toHaveLength(argon2Pool.size + argon2Pool.maxWaiting);
    for (const r of busy) {
      expect(r.body).toMatchObject({ status: 429, type: expect.stringMatching(/server-busy$/) });
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    }
    expect((await h.ctx.store.counts()).entries).toBe(before.entries);
    expect(argon2Pool.load).toEqual({ running: 0, waiting: 0 });
    const ok = await call(h, 'op1', 'POST', `/batches/${batch.id}/steps/apheresis-receipt`, { values: receiptValues(h, 1), signature: sign('op1'), expectedVersion: batch.version });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
  });

  it('runs at most `size` at once, queues in order, and hands each freed slot to the next', async () => {
    const pool = new BoundedPool(2, 2, () => tooManyRequests('server-busy', 'busy', 1));
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    const gates: (() => void)[] = [];
    const job = (n: number) => pool.run(async () => {
      active++; peak = Math.max(peak, active);
      await new Promise<void>((r) => gates.push(r));
      order.push(n); active--;
      return n;
    });
    const jobs = [job(1), job(2), job(3), job(4)];
    await expect(job(5)).rejects.toMatchObject({ status: 429, code: 'server-busy' });
    while (order.length < 4) { await new Promise((r) => setImmediate(r)); gates.shift()?.(); }
    expect(await Promise.all(jobs)).toEqual([1, 2, 3, 4]);
    expect(peak).toBe(2);
    expect(pool.load).toEqual({ running: 0, waiting: 0 });
  });
});

describe('the routes that check a password', () => {
  it('every one (a signature in its body, login, POST /me/password) declares 429 problem+json in the OpenAPI description', async () => {
    const spec = (await call(h, null, 'GET', '/openapi.json')).body;
    const checking: string[] = [];
    for (const [url, ops] of Object.entries<any>(spec.paths)) {
      for (const [method, op] of Object.entries<any>(ops)) {
        const body = op.requestBody?.content?.['application/json']?.schema;
        const props = body?.$ref ? spec.components.schemas[body.$ref.split('/').pop()].properties : body?.properties;
        if (props?.signature || ['/api/v1/auth/login', '/api/v1/me/password'].includes(url)) {
          checking.push(`${method.toUpperCase()} ${url}`);
          expect(op.responses['429']?.content?.['application/problem+json'], `${method} ${url}`).toBeDefined();
        }
      }
    }
    expect(checking.length).toBeGreaterThan(10);
  });
});

describe('logins take the same per-address share', () => {
  it('fifty logins at once from one address (within the per-minute limit): the excess over its share is 429 too-many-attempts, the others answered', async () => {
    await dummyHash(); // the unknown usernames are checked against it: made before the logins arrive
    // Held at the gate until every login has reached the address's share (checking, waiting or refused),
    // as in the flood above: exactly its share is answered, whatever the database's round trips.
    const gate = holdVerifications();
    let settled = 0;
    const logins = Promise.all(Array.from({ length: 50 }, (_, i) => h.app.inject({
      method: 'POST', url: '/api/v1/auth/login', remoteAddress: '10.2.0.1', payload: { username: `nobody${i}`, password: 'Some-Guess-123456' },
    }).finally(() => { settled++; })));
    try {
      // A refusal comes only once the share is full (atOnce checking, `waiting` queued), so when the
      // checking and the answered make up the rest, every login has arrived.
      while (gate.atGate() + settled < 50 - PER_ADDRESS.waiting) await new Promise((r) => setImmediate(r));
      expect(gate.atGate()).toBe(PER_ADDRESS.atOnce);
    } finally {
      gate.open();
    }
    const replies = await logins;
    const busy = replies.filter((r) => r.statusCode === 429);
    expect(busy).toHaveLength(50 - PER_ADDRESS.atOnce - PER_ADDRESS.waiting);
    for (const r of busy) expect(r.json()).toMatchObject({ type: expect.stringMatching(/too-many-attempts$/) });
    expect(replies.filter((r) => r.statusCode === 401)).toHaveLength(PER_ADDRESS.atOnce + PER_ADDRESS.waiting);
    expect((await h.app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: '10.2.0.1', payload: { username: 'op1', password: PASSWORD } })).statusCode).toBe(200);
  });
});

describe('POST /me/password', () => {
  it('is limited per address: the 31st attempt within a minute is 429 problem+json with Retry-After', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 31; i++) {
      // Wrong current passwords from ten users' sessions (four each at most: nobody is locked).
      const user = ['op1', 'op2', 'sup1', 'sup2', 'qc1', 'qc2', 'qa1', 'qa2', 'insp1', 'admin'][i % 10];
      const r = await call(h, user, 'POST', '/me/password', { currentPassword: 'Wrong-Password-000', newPassword: 'A-New-Password-12345' });
      statuses.push(r.status);
      if (r.status === 429) {
        expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
      }
    }
    expect(statuses.slice(0, 30)).not.toContain(429);
    expect(statuses[30]).toBe(429);
  });
});
