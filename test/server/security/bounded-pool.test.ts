// The bounded pools of password work (server/auth/bounded-pool.ts): a slot taken and handed back
// through the public acquire/release, refusals reaching whoever waits for them, and the dummy hash
// that unknown usernames are checked against surviving a full pool. Module state (the argon2 pool, the
// cached dummy hash) is this file's own: vitest runs each file in a fresh module graph.
import net from 'node:net';
import Fastify from 'fastify';
import { validatorCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BoundedPool, KeyedPools } from '../../../server/auth/bounded-pool.js';
import { argon2Pool } from '../../../server/auth/passwords.js';
import { passwordChecked } from '../../../server/auth/password-slot.js';
import passwordLimits, { PER_ADDRESS } from '../../../server/plugins/password-limits.js';
import { tooManyRequests } from '../../../server/errors.js';
import { harness, PASSWORD, type Harness } from '../../helpers.js';
import type { SqliteStore } from '../../../server/store/sqlite/store.js';
import type { PostgresStore } from '../../../server/store/postgres/store.js';

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

describe('a client that goes away while its request waits for its address\'s slot', () => {
  let h: Harness;
  beforeEach(async () => { h = await harness(); });
  afterEach(async () => h.close());

  it('does not keep the slot: afterwards the address still runs two checks at once', async () => {
    const base = await h.app.listen({ port: 0, host: '127.0.0.1' });
    const turn = () => new Promise((r) => setImmediate(r));
    const until = async (what: string, done: () => boolean | Promise<boolean>) => {
      for (let i = 0; i < 20_000; i++) { if (await done()) return; await turn(); }
      throw new Error(`never: ${what}`);
    };
    // The per-minute login counter of this address (auth/attempt-windows.ts): a request has passed onRequest once counted.
    const query = "select hits from attempt_windows where key = '/api/v1/auth/login 127.0.0.1'";
    const counted = async () => Number((h.ctx.store.dialect === 'sqlite'
      ? ((h.ctx.store as SqliteStore).sqlite.prepare(query).get() as { hits: number } | undefined)
      : (await (h.ctx.store as PostgresStore).pool.query(query)).rows[0] as { hits: number } | undefined)?.hits ?? 0);
    const wrong = (username: string) => JSON.stringify({ username, password: 'Wrong-Password-000' });
    const loginFetch = (username: string) => fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: wrong(username) });

    // Hold the argon2 pool, leaving room for a few checks to wait in it.
    let gates: (() => void)[] = [];
    const hold = (room: number) => Array.from({ length: argon2Pool.size + argon2Pool.maxWaiting - room }, () => argon2Pool.run(() => new Promise<void>((r) => gates.push(r))));
    const open = async (held: Promise<unknown>[]) => {
      while (gates.length || argon2Pool.load.running || argon2Pool.load.waiting) { gates.shift()?.(); await turn(); }
      await Promise.all(held);
      gates = [];
    };
    const before = await counted();
    let held = hold(4);
    const waiting0 = argon2Pool.load.waiting;
    // Two logins take the address's two slots and wait in the argon2 pool; a third waits for a slot.
    const first = [loginFetch('op1'), loginFetch('op2')];
    await until('two checks in the argon2 queue', () => argon2Pool.load.waiting === waiting0 + 2);
    const socket = net.connect(Number(new URL(base).port), '127.0.0.1');
    const body = wrong('op3');
    socket.write(`POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    await until('the third login counted (past onRequest)', async () => (await counted()) >= before + 3);
    for (let i = 0; i < 50; i++) await turn();
    socket.destroy(); // the client goes away while its request waits for the slot
    await open(held);
    expect((await Promise.all(first)).map((r) => r.status)).toEqual([401, 401]);
    // The third request ran once it got the slot (its failure is audited) and answered nobody.
    await until('the third login\'s failure audited', async () => (await h.ctx.store.listAudit({ action: 'login.failed' }, 10)).items.length === 3);
    await open([]);

    // Both of the address's slots are free: two logins wait in the argon2 pool at once again.
    held = hold(4);
    const waiting1 = argon2Pool.load.waiting;
    const probe = [loginFetch('op4'), loginFetch('op5')];
    await until('both slots taken again', () => argon2Pool.load.waiting === waiting1 + 2);
    await open(held);
    expect((await Promise.all(probe)).map((r) => r.status)).toEqual([401, 401]);
  });
});

describe('an address\'s slot and the work after the password check', () => {
  // The plugin as every signed route meets it (server/plugins/password-limits.ts), on a route whose
  // handler the test holds at each stage: its password check, and the write after it.
  async function signedRoute(givesSlotBack: boolean) {
    const app = Fastify();
    app.setValidatorCompiler(validatorCompiler);
    await app.register(passwordLimits);
    const stage = { checking: 0, writing: 0 };
    const gates = { check: [] as (() => void)[], write: [] as (() => void)[] };
    const held = (list: (() => void)[]) => new Promise<void>((r) => list.push(r));
    app.post('/signed', { schema: { body: z.object({ signature: z.object({ username: z.string(), password: z.string() }) }) } }, async () => {
      stage.checking++;
      await held(gates.check);
      if (givesSlotBack) passwordChecked();
      stage.writing++;
      await held(gates.write);
      return { ok: true };
    });
    const send = () => app.inject({ method: 'POST', url: '/signed', payload: { signature: { username: 'op1', password: PASSWORD } } });
    return { app, stage, gates, send };
  }
  const turns = async (n = 50) => { for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r)); };

  it('a signature gives its slot back once its password is checked: while two writes are held, the next two signatures from the same address are checked', async () => {
    const { app, stage, gates, send } = await signedRoute(true);
    try {
      const replies = Array.from({ length: PER_ADDRESS.atOnce * 2 }, send);
      await turns();
      expect(stage).toEqual({ checking: PER_ADDRESS.atOnce, writing: 0 }); // the address's share, no more
      gates.check.splice(0).forEach((open) => open());
      await turns();
      // The first two are writing, and the next two are being checked: four requests past the slot.
      expect(stage).toEqual({ checking: PER_ADDRESS.atOnce * 2, writing: PER_ADDRESS.atOnce });
      gates.check.splice(0).forEach((open) => open());
      await turns();
      gates.write.splice(0).forEach((open) => open());
      expect((await Promise.all(replies)).map((r) => r.statusCode)).toEqual(Array(PER_ADDRESS.atOnce * 2).fill(200));
    } finally {
      await app.close();
    }
  });

  it('work that does not say its password work is done (a change of password checks the history next) keeps the slot until its reply', async () => {
    const { app, stage, gates, send } = await signedRoute(false);
    try {
      const replies = Array.from({ length: PER_ADDRESS.atOnce + 1 }, send);
      await turns();
      gates.check.splice(0).forEach((open) => open());
      await turns();
      expect(stage).toEqual({ checking: PER_ADDRESS.atOnce, writing: PER_ADDRESS.atOnce }); // the third still waits for a slot
      gates.write.splice(0).forEach((open) => open());
      await turns();
      expect(stage.checking).toBe(PER_ADDRESS.atOnce + 1);
      gates.check.splice(0).forEach((open) => open());
      await turns();
      gates.write.splice(0).forEach((open) => open());
      expect((await Promise.all(replies)).map((r) => r.statusCode)).toEqual(Array(PER_ADDRESS.atOnce + 1).fill(200));
    } finally {
      await app.close();
    }
  });
});
