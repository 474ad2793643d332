// The signed checkpoints live in the database's append-only `checkpoints` table (issue 15 item 3), on
// SQLite and on PostgreSQL alike: the database refuses to change them, a row edited, removed or cut off
// behind the mark beside the key is found, a row signed by a key the server does not trust is a finding,
// a crash between committing a checkpoint and moving the mark loses nothing, and a site that kept them
// in a file log has it imported once, audited, the file kept unchanged.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CHAIN_TABLES, checkpointHash, loadOrCreateKey, type Checkpoint } from '../../../server/store/checkpoints.js';
import { canonicalJson } from '../../../server/store/chain.js';
import { buildApp } from '../../../server/app.js';
import { checkpointLogFile } from '../../../server/services/integrity.js';
import { call, createBatch, harness, type Harness } from '../../helpers.js';
import { cliRecordArgs, owner } from '../../owner.js';
import { runCliAsync } from '../../../server/cli.js';

let h: Harness | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await h?.close();
  h = undefined;
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const markFile = (hh: Harness) => path.join(hh.dir, 'keys', 'checkpoint-latest.json');

async function verify(hh: Harness) {
  const r = await call(hh, 'qa1', 'GET', '/audit/verify');
  expect(r.status).toBe(200);
  return r.body as { valid: boolean; checkpoints?: number; firstInvalid?: { table: string; seq: number; reason: string } };
}

/** The app started again on the harness's record (its server closed first). */
async function restart(hh: Harness) {
  await hh.app.close();
  const built = await buildApp({ ...hh.location, training: true, now: () => hh.wall.now });
  hh.app = built.app;
  hh.ctx = built.ctx;
  return built;
}

/** A checkpoint after `last` signed with another key (one no server of the site trusts unless installed). */
function signedBy(keyDir: string, last: Checkpoint): Checkpoint {
  const key = loadOrCreateKey(keyDir, () => new Date());
  const body = { n: last.n + 1, at: last.at, reason: 'interval' as const, heads: last.heads, keyId: key.id, prev: checkpointHash(last) };
  const signature = crypto.sign(null, Buffer.from(canonicalJson(body)), key.privateKey).toString('base64');
  return { ...body, signature };
}

const insertRow = (c: Checkpoint) => [
  'insert into checkpoints (n, at, reason, heads, key_id, prev, signature) values (?, ?, ?, ?, ?, ?, ?)',
  c.n, c.at, c.reason, canonicalJson(c.heads), c.keyId, c.prev, c.signature,
] as const;

describe('checkpoints in the database', () => {
  it('signs the heads into one chain of rows linked by hash, and the mark beside the key names the last', async () => {
    h = await harness();
    await createBatch(h, 'car-t', 1);
    const first = await h.ctx.store.checkpoint('export');
    await createBatch(h, 'car-t', 2);
    const second = await h.ctx.store.checkpoint('export');
    const all = await h.ctx.store.checkpoints();
    expect(all.map((c) => c.n)).toEqual(all.map((_, i) => i + 1));
    expect(all.at(-1)).toEqual(second);
    expect(second!.prev).toBe(checkpointHash(first!));
    expect(second!.heads).toEqual(await h.ctx.store.heads());
    expect(JSON.parse(fs.readFileSync(markFile(h), 'utf8'))).toEqual({ n: second!.n, hash: checkpointHash(second!), table: true });
    // No file log is written any more.
    expect(fs.existsSync(checkpointLogFile(h.location.dbFile))).toBe(false);
    expect(await verify(h)).toMatchObject({ valid: true, checkpoints: all.length });
  });

  it('refuses UPDATE and DELETE of a checkpoint, whatever code connects', async () => {
    h = await harness();
    await h.ctx.store.checkpoint('export');
    const db = owner(h.location);
    const before = await db.rows('select * from checkpoints order by n');
    await expect(db.run("update checkpoints set reason = 'backup' where n = 1")).rejects.toThrow(/append-only/);
    await expect(db.run('delete from checkpoints where n = 1')).rejects.toThrow(/append-only/);
    if (db.dialect === 'postgres') await expect(db.run('truncate checkpoints')).rejects.toThrow(/append-only/);
    expect(await db.rows('select * from checkpoints order by n')).toEqual(before);
  });

  it('finds a checkpoint row edited behind the triggers (its signature no longer holds)', async () => {
    h = await harness();
    await createBatch(h, 'car-t', 1);
    await h.ctx.store.checkpoint('export');
    await owner(h.location).behindTriggers('checkpoints', (db) => db.run("update checkpoints set reason = 'backup' where n = 1"));
    const r = await verify(h);
    expect(r.valid).toBe(false);
    expect(r.firstInvalid).toMatchObject({ table: 'checkpoints', seq: 1 });
    expect(r.firstInvalid!.reason).toMatch(/checkpoint 1 has an invalid signature/);
  });

  it('finds a checkpoint removed from the middle of the chain', async () => {
    h = await harness();
    for (const n of [1, 2, 3]) {
      await createBatch(h, 'car-t', n);
      await h.ctx.store.checkpoint('export');
    }
    const last = (await h.ctx.store.lastCheckpoint())!.n;
    await owner(h.location).behindTriggers('checkpoints', (db) => db.run('delete from checkpoints where n = ?', last - 1));
    expect((await verify(h)).firstInvalid!.reason).toMatch(new RegExp(`checkpoint ${last - 1} is missing`));
  });

  it('finds the checkpoints cut short behind the mark, and a restarted server chains nothing on', async () => {
    h = await harness();
    await createBatch(h, 'car-t', 1);
    await h.ctx.store.checkpoint('export');
    await createBatch(h, 'car-t', 2);
    const last = (await h.ctx.store.checkpoint('export'))!;
    await owner(h.location).behindTriggers('checkpoints', (db) => db.run('delete from checkpoints where n = ?', last.n));
    expect((await verify(h)).firstInvalid!.reason).toMatch(new RegExp(`end at ${last.n - 1}, but this server signed checkpoint ${last.n}: they were cut short`));
    // A checkpoint is not signed onto the cut: that would hide it.
    expect(await h.ctx.store.checkpoint('export')).toBeUndefined();
    expect(h.ctx.integrity!.signer.damaged).toMatch(/cut short/);
    await h.app.close();
    const { app, ctx } = await buildApp({ ...h.location, training: true, now: () => h!.wall.now });
    try {
      expect(ctx.recordCheck.writes).toMatchObject({ state: 'refused', detail: expect.stringMatching(/cut short/) });
    } finally {
      await app.close();
    }
  });

  it('accepts a mark one behind the table (a crash between the commit and the mark) and goes on signing', async () => {
    h = await harness();
    await h.ctx.store.checkpoint('export');
    const mark = fs.readFileSync(markFile(h), 'utf8');
    await createBatch(h, 'car-t', 1);
    await h.ctx.store.checkpoint('export');
    fs.writeFileSync(markFile(h), mark); // as if killed before the mark moved
    expect((await verify(h)).valid).toBe(true);
    const next = await h.ctx.store.checkpoint('export');
    expect(next?.n).toBe((await h.ctx.store.checkpoints()).length);
    expect(h.ctx.integrity!.signer.damaged).toBeNull();
  });

  it('reports an unreadable mark as damage instead of failing to start', async () => {
    h = await harness();
    await h.ctx.store.checkpoint('export');
    fs.writeFileSync(markFile(h), '');
    expect((await verify(h)).firstInvalid!.reason).toMatch(/mark beside the key cannot be read/);
    expect(await h.ctx.store.checkpoint('export')).toBeUndefined();
    expect(h.ctx.integrity!.signer.damaged).toMatch(/cannot be read/);
  });

  it('finds a checkpoint signed by a key the server does not trust, and accepts it once the key is installed in trusted/', async () => {
    h = await harness();
    await createBatch(h, 'car-t', 1);
    const last = (await h.ctx.store.checkpoint('export'))!;
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'cellbatch-key-'));
    dirs.push(elsewhere);
    const forged = signedBy(elsewhere, last);
    // Whoever can write the database can append a row: only the key decides whether it is believed.
    await owner(h.location).run(...insertRow(forged));
    const r = await verify(h);
    expect(r.valid).toBe(false);
    expect(r.firstInvalid!.reason).toBe(`checkpoint ${forged.n} is signed with an unknown key ${forged.keyId}`);
    // A key dropped beside the server's own key is still not trusted (issue 10) …
    fs.copyFileSync(path.join(elsewhere, 'checkpoint-ed25519.pub.pem'), path.join(h.dir, 'keys', 'other.pub.pem'));
    expect((await verify(h)).valid).toBe(false);
    // … one installed on purpose in trusted/ is, without a restart (another app server of the site).
    fs.mkdirSync(path.join(h.dir, 'keys', 'trusted'));
    fs.copyFileSync(path.join(elsewhere, 'checkpoint-ed25519.pub.pem'), path.join(h.dir, 'keys', 'trusted', 'server-b.pub.pem'));
    expect((await verify(h)).valid).toBe(true);
  });

  it('signs at start the heads a crashed run left unsigned', async () => {
    h = await harness();
    await createBatch(h, 'car-t', 1);
    const before = (await h.ctx.store.checkpoints()).length;
    // A crash: the store is left without its shutdown checkpoint (closed directly, not through the app).
    await h.ctx.store.close();
    const { app, ctx } = await buildApp({ ...h.location, training: true });
    try {
      const all = await ctx.store.checkpoints();
      expect(all.length).toBe(before + 1);
      expect(all.at(-1)!.reason).toBe('start');
      expect(all.at(-1)!.heads).toEqual(await ctx.store.heads());
      expect(ctx.recordCheck.report?.valid).toBe(true);
    } finally {
      await app.close();
    }
  });
});

describe('a site that kept its checkpoints in a file log', () => {
  /**
   * The harness's record as a site before issue 15 item 3 left it: its checkpoints in
   * `<db>.checkpoints.jsonl` (one JSON line each) with the mark of the file log, the table empty.
   */
  async function asFileLogSite(hh: Harness) {
    await createBatch(hh, 'car-t', 1);
    await hh.app.close();
    const checkpoints = await owner(hh.location).rows<{ n: number; at: string; reason: string; heads: string; key_id: string; prev: string; signature: string }>('select * from checkpoints order by n');
    const log: Checkpoint[] = checkpoints.map((r) => ({ n: r.n, at: r.at, reason: r.reason as Checkpoint['reason'], heads: JSON.parse(r.heads) as Checkpoint['heads'], keyId: r.key_id, prev: r.prev, signature: r.signature }));
    const file = checkpointLogFile(hh.location.dbFile);
    fs.writeFileSync(file, log.map((c) => `${JSON.stringify(c)}\n`).join(''), { mode: 0o600 });
    fs.writeFileSync(markFile(hh), JSON.stringify({ n: log.at(-1)!.n, hash: checkpointHash(log.at(-1)!) }));
    await owner(hh.location).behindTriggers('checkpoints', (db) => db.run('delete from checkpoints'));
    return { file, log, bytes: fs.readFileSync(file) };
  }

  it('imports it once at the first start: the checkpoints unchanged, one audit row, the file kept as it was', async () => {
    h = await harness();
    const { file, log, bytes } = await asFileLogSite(h);
    const { ctx } = await restart(h);
    const imported = (await ctx.store.checkpoints()).slice(0, log.length);
    expect(imported).toEqual(log);
    const rows = (await ctx.store.listAudit({ action: 'checkpoints.imported' }, 10)).items;
    expect(rows).toHaveLength(1);
    expect(JSON.parse(rows[0]!.before!)).toEqual({ file, sha256: crypto.createHash('sha256').update(bytes).digest('hex'), count: log.length });
    expect(JSON.parse(rows[0]!.after!)).toEqual({ count: log.length, lastN: log.at(-1)!.n });
    expect(fs.readFileSync(file)).toEqual(bytes);
    // The mark now names a row of the table; the start signed the import's audit row after it.
    expect(JSON.parse(fs.readFileSync(markFile(h), 'utf8'))).toMatchObject({ table: true });
    expect((await ctx.store.lastCheckpoint())!.n).toBe(log.length + 1);
    expect(await verify(h)).toMatchObject({ valid: true });
    expect(ctx.recordCheck.writes.state).toBe('open');
    // Started again: nothing imported twice, the file never written.
    const again = await restart(h);
    expect((await again.ctx.store.listAudit({ action: 'checkpoints.imported' }, 10)).items).toHaveLength(1);
    expect(fs.readFileSync(file)).toEqual(bytes);
    expect(await verify(h)).toMatchObject({ valid: true });
  });

  it('`cellbatch verify` holds a record not yet imported to its file log, and `--log FILE` to a log named', async () => {
    h = await harness();
    const { file, log } = await asFileLogSite(h);
    const keys = path.join(h.dir, 'keys');
    const own = await runCliAsync(['verify', ...cliRecordArgs(h.location), '--keys', keys]);
    expect(own.code, own.lines.join('\n')).toBe(0);
    expect(JSON.parse(own.lines[0]!)).toMatchObject({ valid: true, checkpoints: log.length });
    // Another server's log (here a copy), held to the chains without this server's mark.
    const kept = path.join(h.dir, 'server-b.checkpoints.jsonl');
    fs.copyFileSync(file, kept);
    const named = await runCliAsync(['verify', ...cliRecordArgs(h.location), '--keys', keys, '--log', kept]);
    expect(named.code, named.lines.join('\n')).toBe(0);
    expect(JSON.parse(named.lines[0]!)).toMatchObject({ valid: true, checkpoints: log.length });
    expect((await runCliAsync(['verify', ...cliRecordArgs(h.location), '--log', path.join(h.dir, 'none.jsonl')])).code).toBe(1);
    // Nothing was written: the table is still empty until the server starts.
    expect(await owner(h.location).value('select cast(count(*) as integer) from checkpoints')).toBe(0);
    await restart(h);
  });

  it('refuses to start on a file log that does not verify, importing nothing', async () => {
    h = await harness();
    const { file } = await asFileLogSite(h);
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    const first = JSON.parse(lines[0]!) as Checkpoint;
    lines[0] = JSON.stringify({ ...first, at: '2026-03-01T00:00:00.000Z' });
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    await expect(buildApp({ ...h.location, training: true, now: () => h!.wall.now })).rejects.toThrow(/does not verify \(checkpoint 1 has an invalid signature\): it is not imported/);
    expect(await owner(h.location).value('select cast(count(*) as integer) from checkpoints')).toBe(0);
    // The harness's app was closed by asFileLogSite: start one that imports nothing, for the cleanup.
    fs.renameSync(file, `${file}.evidence`);
    fs.rmSync(markFile(h));
    h.app = (await buildApp({ ...h.location, training: true, now: () => h!.wall.now })).app;
  });
});

describe('the heads each checkpoint records', () => {
  it('are the seq and hash of the last row of each chain', async () => {
    h = await harness();
    await createBatch(h, 'car-t', 1);
    const c = (await h.ctx.store.checkpoint('export'))!;
    const heads = await h.ctx.store.heads();
    for (const t of CHAIN_TABLES) expect(c.heads[t]).toEqual(heads[t]);
  });
});
