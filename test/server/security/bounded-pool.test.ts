// The bounded pools of password work (server/auth/bounded-pool.ts): a slot taken and handed back
// through the public acquire/release, refusals reaching whoever waits for them, and the dummy hash
// that unknown usernames are checked against surviving a full pool. Module state (the argon2 pool, the
// cached dummy hash) is this file's own: vitest runs each file in a fresh module graph.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BoundedPool, KeyedPools } from '../../../server/auth/bounded-pool.js';
import { argon2Pool } from '../../../server/auth/passwords.js';
import { tooManyRequests } from '../../../server/errors.js';
import { harness, PASSWORD, type Harness } from '../../helpers.js';

const busy = () => tooManyRequests('server-busy', 'busy', 1);

describe('a slot acquired and released', () => {
  it('is released once: a second call frees nothing, and the queue gets exactly the one freed slot', async () => {
    const pool = new BoundedPool(1, 1, busy);
    const release = await pool.acquire();
    const waiting = pool.acquire();
    await expect(pool.acquire()).rejects.toMatchObject({ status: 429, code: 'server-busy' });
    release();
    release(); // a hook that runs twice (onResponse after onRequestAbort) must not free a second slot
    const next = await waiting;
    expect(pool.load).toEqual({ running: 1, waiting: 0 });
    const third = pool.acquire(); // queued behind `next`: the double release made no room
    expect(pool.load).toEqual({ running: 1, waiting: 1 });
    next();
    (await third)();
    expect(pool.load).toEqual({ running: 0, waiting: 0 });
  });

  it('per key: a refusal rejects the acquire (awaited by its caller, never unhandled); an idle key is dropped', async () => {
    const keyed = new KeyedPools(1, 0, (key) => tooManyRequests('too-many-attempts', `busy ${key}`, 1));
    const release = await keyed.acquire('10.0.0.1');
    await expect(keyed.acquire('10.0.0.1')).rejects.toMatchObject({ status: 429, detail: 'busy 10.0.0.1' });
    await expect(keyed.run('10.0.0.1', async () => 1)).rejects.toMatchObject({ status: 429 });
    expect(await keyed.run('10.0.0.2', async () => 2)).toBe(2);
    expect(keyed.inFlight).toBe(1);
    release();
    release();
    expect(keyed.inFlight).toBe(0);
    expect(await keyed.run('10.0.0.1', async () => 3)).toBe(3);
  });
});

describe('the dummy hash an unknown username is checked against', () => {
  let h: Harness;
  beforeEach(async () => { h = await harness(); });
  afterEach(async () => h.close());

  it('is made again after a full pool refused it: unknown usernames are 401 once the pool has room, not 429 for ever', async () => {
    // Fill the argon2 pool (every slot and the whole queue) before any unknown username was seen.
    const gates: (() => void)[] = [];
    const held = Array.from({ length: argon2Pool.size + argon2Pool.maxWaiting }, () => argon2Pool.run(() => new Promise<void>((r) => gates.push(r))));
    const login = (username: string, password: string) => h.app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: '10.6.0.1', payload: { username, password } });
    const refused = await login('nobody', 'Some-Guess-123456');
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ type: expect.stringMatching(/server-busy$/) });
    while (gates.length < argon2Pool.size) await new Promise((r) => setImmediate(r));
    while (argon2Pool.load.running > 0 || argon2Pool.load.waiting > 0) {
      gates.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(held);
    expect((await login('nobody', 'Some-Guess-123456')).statusCode).toBe(401);
    expect((await login('op1', PASSWORD)).statusCode).toBe(200);
  });
});
