// Issue 10, finding 2: twenty concurrent terminations naming unknown signers pushed every other
// signature's latency up by an order of magnitude. Password work is bounded now: one check at a time
// per account (lockout.test.ts), a bounded pool of argon2 work across all accounts (429 server-busy
// with Retry-After when full), and POST /me/password limited per address like login.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call, createBatch, harness, sign, type Harness } from '../../helpers.js';
import { argon2Pool, Argon2Pool } from '../../../server/auth/passwords.js';
import { receiptValues } from '../refusals/support.js';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => h.close());

describe('the bounded pool of argon2 work', () => {
  it('a flood of signatures naming unknown users: the excess is 429 server-busy at once, nothing written, and a real signature works right after', async () => {
    const batch = await createBatch(h, 'car-t', 1);
    const before = h.ctx.store.counts();
    const flood = Array.from({ length: argon2Pool.size + argon2Pool.maxWaiting + 20 }, (_, i) =>
      call(h, 'op1', 'POST', `/batches/${batch.id}/steps/apheresis-receipt`, { values: receiptValues(h, 1), signature: sign(`ghost${i}`, 'Some-Guess-123456'), expectedVersion: batch.version }));
    const replies = await Promise.all(flood);
    const busy = replies.filter((r) => r.status === 429);
    expect(busy.length).toBeGreaterThanOrEqual(20);
    expect(replies.filter((r) => r.status === 401)).toHaveLength(replies.length - busy.length);
    for (const r of busy) {
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(r.body).toMatchObject({ status: 429, type: expect.stringMatching(/server-busy$/) });
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    }
    expect(h.ctx.store.counts().entries).toBe(before.entries);
    expect(argon2Pool.load).toEqual({ running: 0, waiting: 0 });
    const ok = await call(h, 'op1', 'POST', `/batches/${batch.id}/steps/apheresis-receipt`, { values: receiptValues(h, 1), signature: sign('op1'), expectedVersion: batch.version });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
  });

  it('runs at most `size` at once, queues in order, and hands each freed slot to the next', async () => {
    const pool = new Argon2Pool(2, 2);
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
