// Two app servers on one PostgreSQL database (issue 15, docs/deployment.md): two buildApp instances,
// each with its own signing key (each trusting the other's), as two `npm start` behind a load
// balancer. A session opened on one is honoured by the other; two terminals writing the same batch
// through different servers get one 201 and one 409, and the chain does not fork; failed passwords
// count toward the lockout whichever server checks them (21 CFR 11.300(d)); both sign their
// checkpoints into one chain in the database, each verifying the other's (issue 15 item 3).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../../server/app.js';
import type { AppContext } from '../../../server/context.js';
import { checkpointHash, loadOrCreateKey, type Checkpoint } from '../../../server/store/checkpoints.js';
import { canonicalJson } from '../../../server/store/chain.js';
import { sign as edSign } from 'node:crypto';
import { verifyInFull } from '../../../server/services/record-check.js';
import { call, createBatch, din, harness, HOUR, PASSWORD, recordReceipt, sign, trustEachOther, type Harness } from '../../helpers.js';

let h: Harness;
let other: { app: FastifyInstance; ctx: AppContext; dir: string };

beforeEach(async () => {
  h = await harness();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellbatch-test-'));
  trustEachOther(path.join(h.dir, 'keys'), path.join(dir, 'keys'));
  const { app, ctx } = await buildApp({ dbFile: path.join(dir, 'cellbatch.db'), databaseUrl: h.databaseUrl, training: true, now: () => h.wall.now });
  other = { app, ctx, dir };
});
afterEach(async () => {
  await other.app.close();
  fs.rmSync(other.dir, { recursive: true, force: true });
  await h.close();
});

/** A call through the second server, with a session token from either. */
async function callOther(user: string, method: 'GET' | 'POST', url: string, payload?: unknown) {
  const r = await other.app.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${h.tokens[user]}` }, ...(payload !== undefined && { payload: payload as object }) });
  return { status: r.statusCode, body: r.json() };
}

describe('two app servers on one PostgreSQL database', () => {
  it('honours on one server a session opened on the other (sessions live in the database)', async () => {
    const me = await callOther('op1', 'GET', '/me');
    expect(me.status).toBe(200);
    expect(me.body.username).toBe('op1');
  });

  it('two terminals writing the same batch through the two servers: one 201, one 409, one unforked chain', async () => {
    const created = await createBatch(h, 'car-t', 1);
    const now = h.ctx.clock.now().getTime();
    const body = (user: string) => ({
      values: { bagScan: din(1).keyed, collectionEnd: new Date(now - 10 * HOUR).toISOString(), receivedAt: new Date(now - 2 * HOUR).toISOString(), transportTemperature: 6, volume: 180 },
      signature: sign(user), expectedVersion: created.version,
    });
    for (let round = 0; round < 3; round++) {
      const [a, b] = await Promise.all([
        call(h, 'op1', 'POST', `/batches/${created.id}/steps/apheresis-receipt`, body('op1')),
        callOther('op2', 'POST', `/batches/${created.id}/steps/apheresis-receipt`, body('op2')),
      ]);
      if (round === 0) {
        expect([a.status, b.status].sort(), JSON.stringify([a.body, b.body])).toEqual([201, 409]);
        expect((a.status === 409 ? a : b).body.type).toBe('https://cellbatch.org/problems/stale-version');
      } else {
        // The step is recorded: both are now refused on the version they name.
        expect([a.status, b.status]).toEqual([409, 409]);
      }
    }
    const entries = await h.ctx.store.entriesOfBatch(created.id);
    expect(entries.map((e) => e.batchSeq)).toEqual([1, 2]);
    for (const server of [h.ctx, other.ctx]) expect((await server.store.verifyChains()).valid).toBe(true);
    const served = await callOther('qa1', 'GET', '/audit/verify');
    expect(served.body).toMatchObject({ valid: true });
  });

  it('keeps one chain order under concurrent signed steps on both servers', async () => {
    const batches = [await createBatch(h, 'car-t', 1), await createBatch(h, 'car-t', 2), await createBatch(h, 'car-t', 3), await createBatch(h, 'car-t', 4)];
    const results = await Promise.all(batches.map((b, i) => (i % 2 ? recordReceipt(h, b, i + 1) : (async () => {
      const now = h.ctx.clock.now().getTime();
      const r = await callOther('op2', 'POST', `/batches/${b.id}/steps/apheresis-receipt`, {
        values: { bagScan: din(i + 1).keyed, collectionEnd: new Date(now - 10 * HOUR).toISOString(), receivedAt: new Date(now - 2 * HOUR).toISOString(), transportTemperature: 6, volume: 180 },
        signature: sign('op2'), expectedVersion: b.version,
      });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return r.body;
    })())));
    expect(results).toHaveLength(4);
    const report = await h.ctx.store.verifyChains();
    expect(report.valid).toBe(true);
  });

  it('signs the checkpoints of both servers into one chain in the database, each server verifying the other\'s rows', async () => {
    const signed = [];
    for (let i = 0; i < 4; i++) {
      await createBatch(h, 'car-t', i + 1);
      signed.push(await (i % 2 ? other.ctx : h.ctx).store.checkpoint('export'));
    }
    const all = await h.ctx.store.checkpoints();
    expect(all.map((c) => c.n)).toEqual(all.map((_, i) => i + 1));
    for (let i = 1; i < all.length; i++) expect(all[i]!.prev).toBe(checkpointHash(all[i - 1]!));
    expect(new Set(all.map((c) => c.keyId))).toEqual(new Set([h.ctx.integrity!.key.id, other.ctx.integrity!.key.id]));
    expect(all.slice(-4)).toEqual(signed);
    for (const verify of [() => call(h, 'qa1', 'GET', '/audit/verify'), () => callOther('qa1', 'GET', '/audit/verify')]) {
      expect((await verify()).body).toMatchObject({ valid: true, checkpoints: all.length });
    }
    // Each server's mark names the last row it signed itself.
    expect(JSON.parse(fs.readFileSync(path.join(other.dir, 'keys', 'checkpoint-latest.json'), 'utf8')).n).toBe(signed[3]!.n);
    expect(JSON.parse(fs.readFileSync(path.join(h.dir, 'keys', 'checkpoint-latest.json'), 'utf8')).n).toBe(signed[2]!.n);
  });

  it('GET /audit/keys on either server lists both keys, each with the checkpoints it signed into the one chain', async () => {
    for (let i = 0; i < 3; i++) {
      await createBatch(h, 'car-t', i + 1);
      await (i % 2 ? other.ctx : h.ctx).store.checkpoint('export');
    }
    const all = await h.ctx.store.checkpoints();
    const usage = (id: string) => {
      const mine = all.filter((c) => c.keyId === id);
      return { count: mine.length, first: { n: mine[0]!.n, at: mine[0]!.at }, last: { n: mine.at(-1)!.n, at: mine.at(-1)!.at } };
    };
    const [a, b] = [h.ctx.integrity!.key, other.ctx.integrity!.key];
    for (const [list, own, peer] of [[await call(h, 'insp1', 'GET', '/audit/keys'), a, b], [await callOther('insp1', 'GET', '/audit/keys'), b, a]] as const) {
      expect(list.status).toBe(200);
      expect(list.body).toEqual({
        items: [
          { id: own.id, algorithm: 'Ed25519', publicKey: own.publicKeyPem, source: 'own', createdAt: own.createdAt, checkpoints: usage(own.id) },
          { id: peer.id, algorithm: 'Ed25519', publicKey: peer.publicKeyPem, source: 'trusted', file: `trusted/${peer.id}.pub.pem`, checkpoints: usage(peer.id) },
        ],
        untrusted: [], unreadable: [],
      });
    }
  });

  it('an export from one server whose rows the other server\'s checkpoint covers verifies offline (cellbatch-verify)', async () => {
    const b = await createBatch(h, 'car-t', 1);
    const covering = (await other.ctx.store.checkpoint('export'))!;
    const pdf = await h.app.inject({ method: 'GET', url: `/api/v1/batches/${b.id}/record.pdf`, headers: { authorization: `Bearer ${h.tokens.qa1}` } });
    expect(pdf.statusCode).toBe(200);
    const file = path.join(other.dir, 'record.pdf');
    fs.writeFileSync(file, pdf.rawPayload);
    const keys = [h.dir, other.dir].map((d) => path.join(d, 'keys', 'checkpoint-ed25519.pub.pem'));
    const bin = path.resolve(import.meta.dirname, '../../../packages/cellbatch-verify/bin/cellbatch-verify.mjs');
    const run = spawnSync(process.execPath, [bin, '--json', file, ...keys.flatMap((k) => ['--key', k])], { encoding: 'utf8' });
    const verdict = JSON.parse(run.stdout) as { checks: { id: string; status: string; detail: string }[] };
    expect(run.status, JSON.stringify(verdict.checks.filter((c) => c.status !== 'PASS'))).toBe(0);
    expect(verdict.checks.find((c) => c.id === 'checkpoints')!.detail).toContain(covering.keyId);
  });

  it('at the upgrade only the first server imports its file log; the second keeps its own as evidence and its mark is set aside', async () => {
    // The second server as it was before the upgrade: its own file log (one checkpoint, its own chain) and the mark naming it.
    await other.app.close();
    const key = loadOrCreateKey(path.join(other.dir, 'keys'), () => new Date());
    const body = { n: 1, at: new Date(h.wall.now).toISOString(), reason: 'shutdown' as const, heads: await h.ctx.store.heads(), keyId: key.id, prev: '' };
    const own: Checkpoint = { ...body, signature: edSign(null, Buffer.from(canonicalJson(body)), key.privateKey).toString('base64') };
    const logFile = path.join(other.dir, 'cellbatch.db.checkpoints.jsonl');
    fs.writeFileSync(logFile, `${JSON.stringify(own)}\n`);
    const markFile = path.join(other.dir, 'keys', 'checkpoint-latest.json');
    fs.writeFileSync(markFile, JSON.stringify({ n: 1, hash: checkpointHash(own) }));
    const before = await h.ctx.store.checkpoints();
    const { app, ctx } = await buildApp({ dbFile: path.join(other.dir, 'cellbatch.db'), databaseUrl: h.databaseUrl, training: true, now: () => h.wall.now });
    other = { app, ctx, dir: other.dir };
    // The table (the first server's chain) is not touched by this log, which stays as it was.
    expect((await ctx.store.checkpoints()).slice(0, before.length)).toEqual(before);
    expect((await ctx.store.listAudit({ action: 'checkpoints.imported' }, 10)).items).toHaveLength(0);
    expect(fs.readFileSync(logFile, 'utf8')).toBe(`${JSON.stringify(own)}\n`);
    expect(JSON.parse(fs.readFileSync(`${markFile}.file-log`, 'utf8'))).toEqual({ n: 1, hash: checkpointHash(own) });
    expect(ctx.recordCheck.writes).toEqual({ state: 'open' });
    expect((await callOther('qa1', 'GET', '/audit/verify')).body).toMatchObject({ valid: true });
  });

  it('a server that does not trust the other server\'s key finds its checkpoints', async () => {
    await createBatch(h, 'car-t', 1);
    const foreign = (await other.ctx.store.checkpoint('export'))!;
    fs.rmSync(path.join(h.dir, 'keys', 'trusted'), { recursive: true });
    const r = await call(h, 'qa1', 'GET', '/audit/verify');
    // The first of its rows (its start's checkpoint, or the one above) is the finding.
    expect(r.body).toMatchObject({ valid: false, firstInvalid: { table: 'checkpoints', reason: expect.stringMatching(new RegExp(`^checkpoint \\d+ is signed with an unknown key ${foreign.keyId}$`)) } });
  });

  it('a restarted server waits only for rows written after the site\'s last checkpoint, whichever server signed it', async () => {
    // The other server writes and signs after this server's last checkpoint.
    await createBatch(h, 'car-t', 1);
    await h.ctx.store.checkpoint('export');
    const b = await createBatch(h, 'car-t', 2);
    await recordReceipt(h, b, 2);
    await other.ctx.store.checkpoint('export');
    await h.app.close();
    // The full verification is held back: what opens writes now is the start's tail check alone.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const restarted = await buildApp({ ...h.location, training: true, now: () => h.wall.now, awaitVerification: false, verify: async (ctx) => { await gate; return verifyInFull(ctx); } });
    h.app = restarted.app;
    h.ctx = restarted.ctx;
    expect(restarted.ctx.recordCheck.writes).toEqual({ state: 'open' });
    release();
    expect(await restarted.ctx.recordCheck.verify()).toMatchObject({ valid: true });
  });

  it('counts failed passwords toward the lockout whichever server checks them', async () => {
    const login = (app: FastifyInstance, password: string) => app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'op2', password } });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await Promise.all([login(h.app, 'wrong-1'), login(other.app, 'wrong-2')].slice(0, i === 4 ? 1 : 2))).map((r) => r.statusCode));
    // 9 failures, the fifth locked the account: every later attempt, on either server, is 423.
    expect(statuses.flat().filter((s) => s === 401).length).toBe(5);
    expect((await login(other.app, PASSWORD)).statusCode).toBe(423);
    expect((await login(h.app, PASSWORD)).statusCode).toBe(423);
    const locked = await h.ctx.store.findUserByUsername('op2');
    expect(locked).toMatchObject({ locked: true });
    const audit = await h.ctx.store.listAudit({ action: 'account.locked' }, 10);
    expect(audit.items).toHaveLength(1);
  });
});
