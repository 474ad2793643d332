// GET /audit/keys lists every key this app server trusts to sign the checkpoints (issue 15 item 3):
// its own and those installed in its key folder's trusted/, each with what the database's checkpoints
// table records of it (how many, first and last), and the key ids the table names that it does not
// trust. Another app server of the site is simulated, on SQLite as on PostgreSQL, by a second key pair
// whose checkpoint rows are appended to the table as that server would sign them, and whose public key
// is installed in trusted/ (docs/deployment.md).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkpointHash, loadOrCreateKey, type Checkpoint } from '../../../server/store/checkpoints.js';
import { canonicalJson } from '../../../server/store/chain.js';
import { buildApp } from '../../../server/app.js';
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

interface KeyItem {
  id: string; algorithm: string; publicKey: string; source: 'own' | 'trusted'; file?: string; createdAt?: string;
  checkpoints: { count: number; first?: { n: number; at: string }; last?: { n: number; at: string } };
}
interface KeyList { items: KeyItem[]; untrusted: { id: string; checkpoints: KeyItem['checkpoints'] }[]; unreadable: { file: string; problem: string }[] }

async function keys(hh: Harness, user = 'insp1') {
  const r = await call(hh, user, 'GET', '/audit/keys');
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body as KeyList;
}

/** Another app server's key folder (its key pair made there). */
function serverKeys() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellbatch-key-'));
  dirs.push(dir);
  return { dir, key: loadOrCreateKey(dir, () => new Date()), pem: path.join(dir, 'checkpoint-ed25519.pub.pem') };
}

/** Installs a public key on purpose in the harness server's trusted/ folder, as docs/deployment.md says. */
function install(hh: Harness, pemFile: string, name: string) {
  fs.mkdirSync(path.join(hh.dir, 'keys', 'trusted'), { recursive: true });
  fs.copyFileSync(pemFile, path.join(hh.dir, 'keys', 'trusted', name));
}

/** The next checkpoint of the site's chain, signed by another server's key and inserted as that server would (one minute later). */
async function signedElsewhere(hh: Harness, keyDir: string): Promise<Checkpoint> {
  const key = loadOrCreateKey(keyDir, () => new Date());
  const last = (await hh.ctx.store.lastCheckpoint())!;
  hh.tick(60_000);
  const body = { n: last.n + 1, at: new Date(hh.wall.now).toISOString(), reason: 'export' as const, heads: await hh.ctx.store.heads(), keyId: key.id, prev: checkpointHash(last) };
  const c = { ...body, signature: crypto.sign(null, Buffer.from(canonicalJson(body)), key.privateKey).toString('base64') };
  await owner(hh.location).run('insert into checkpoints (n, at, reason, heads, key_id, prev, signature) values (?, ?, ?, ?, ?, ?, ?)',
    c.n, c.at, c.reason, canonicalJson(c.heads), c.keyId, c.prev, c.signature);
  return c;
}

/** This server signs the next checkpoint (an export's), one minute later. */
async function signedHere(hh: Harness) {
  hh.tick(60_000);
  return (await hh.ctx.store.checkpoint('export'))!;
}

/** What the table says of one key, counted from the checkpoints themselves. */
async function expectedOf(hh: Harness, keyId: string) {
  const mine = (await hh.ctx.store.checkpoints()).filter((c) => c.keyId === keyId);
  const ref = (c: Checkpoint | undefined) => c && { n: c.n, at: c.at };
  return mine.length ? { count: mine.length, first: ref(mine[0]), last: ref(mine.at(-1)) } : { count: 0 };
}

describe('GET /audit/keys', () => {
  it('lists the own key alone, with its creation and what it signed', async () => {
    h = await harness();
    await createBatch(h, 'car-t', 1);
    await signedHere(h);
    const own = h.ctx.integrity!.key;
    const list = await keys(h);
    expect(list.untrusted).toEqual([]);
    expect(list.unreadable).toEqual([]);
    expect(list.items).toHaveLength(1);
    const [item] = list.items;
    expect(item).toEqual({
      id: own.id, algorithm: 'Ed25519', source: 'own', createdAt: own.createdAt,
      publicKey: fs.readFileSync(path.join(h.dir, 'keys', 'checkpoint-ed25519.pub.pem'), 'utf8'),
      checkpoints: await expectedOf(h, own.id),
    });
    expect(item!.checkpoints.count).toBeGreaterThanOrEqual(1);
    // The id is the one the checkpoints carry, and the count moves with each checkpoint signed.
    const signed = await signedHere(h);
    expect(signed.keyId).toBe(own.id);
    const after = (await keys(h)).items[0]!.checkpoints;
    expect(after).toEqual({ count: item!.checkpoints.count + 1, first: item!.checkpoints.first, last: { n: signed.n, at: signed.at } });
  });

  it('claims no creation time for an own key whose record of it is missing (a key put in the folder by hand)', async () => {
    h = await harness();
    const meta = path.join(h.dir, 'keys', 'checkpoint-ed25519.json');
    expect((await keys(h)).items[0]!.createdAt).toBe(JSON.parse(fs.readFileSync(meta, 'utf8')).createdAt);
    fs.rmSync(meta);
    await h.app.close();
    const built = await buildApp({ ...h.location, training: true, now: () => h!.wall.now });
    h.app = built.app;
    h.ctx = built.ctx;
    const [own] = (await keys(h)).items;
    expect(own).toMatchObject({ id: h.ctx.integrity!.key.id, source: 'own' });
    expect(own).not.toHaveProperty('createdAt');
  });

  it('lists each key installed in trusted/ beside the own key, with the checkpoints each signed, read without a restart', async () => {
    h = await harness();
    await createBatch(h, 'car-t', 1);
    const b = serverKeys();
    const c = serverKeys();
    // The site's chain of checkpoints, signed by this server and by server B in turn.
    await signedHere(h);
    const b1 = await signedElsewhere(h, b.dir);
    await signedHere(h);
    await createBatch(h, 'car-t', 2);
    const b2 = await signedElsewhere(h, b.dir);
    const here = await signedHere(h);
    install(h, b.pem, 'server-b.pub.pem');
    install(h, c.pem, 'server-c.pub.pem'); // installed, has signed nothing yet
    const list = await keys(h, 'qa1');
    expect(list.items.map((k) => [k.source, k.id, k.file])).toEqual([
      ['own', h.ctx.integrity!.key.id, undefined],
      ['trusted', b.key.id, 'trusted/server-b.pub.pem'],
      ['trusted', c.key.id, 'trusted/server-c.pub.pem'],
    ]);
    const [own, kb, kc] = list.items;
    expect(own!.checkpoints).toEqual(await expectedOf(h, own!.id));
    expect(own!.checkpoints.last).toEqual({ n: here.n, at: here.at });
    // B: the two rows it signed, its first and its last, counted from the table.
    expect(kb).toEqual({
      id: b.key.id, algorithm: 'Ed25519', publicKey: b.key.publicKeyPem, source: 'trusted', file: 'trusted/server-b.pub.pem',
      checkpoints: { count: 2, first: { n: b1.n, at: b1.at }, last: { n: b2.n, at: b2.at } },
    });
    // A trusted key's file carries no creation time: none is claimed.
    expect(kb).not.toHaveProperty('createdAt');
    expect(kc).toEqual({ id: c.key.id, algorithm: 'Ed25519', publicKey: c.key.publicKeyPem, source: 'trusted', file: 'trusted/server-c.pub.pem', checkpoints: { count: 0 } });
    expect(list.untrusted).toEqual([]);
    // Every key the table names is trusted: the record verifies.
    expect((await call(h, 'qa1', 'GET', '/audit/verify')).body).toMatchObject({ valid: true });
  });

  it('names a key the checkpoints carry that this server does not trust (a finding), without its public key', async () => {
    h = await harness();
    await createBatch(h, 'car-t', 1);
    await signedHere(h);
    const stranger = serverKeys();
    const s1 = await signedElsewhere(h, stranger.dir);
    const s2 = await signedElsewhere(h, stranger.dir);
    // Dropped beside the own key, not installed in trusted/: still not trusted (issue 10).
    fs.copyFileSync(stranger.pem, path.join(h.dir, 'keys', 'stranger.pub.pem'));
    const list = await keys(h, 'admin');
    expect(list.items.map((k) => k.source)).toEqual(['own']);
    expect(list.untrusted).toEqual([{ id: stranger.key.id, checkpoints: { count: 2, first: { n: s1.n, at: s1.at }, last: { n: s2.n, at: s2.at } } }]);
    const verify = await call(h, 'qa1', 'GET', '/audit/verify');
    expect(verify.body).toMatchObject({ valid: false, firstInvalid: { table: 'checkpoints', reason: `checkpoint ${s1.n} is signed with an unknown key ${stranger.key.id}` } });
    // Installed on purpose, it moves from the finding to the trusted keys.
    install(h, stranger.pem, 'server-s.pub.pem');
    const now = await keys(h);
    expect(now.untrusted).toEqual([]);
    expect(now.items[1]).toMatchObject({ id: stranger.key.id, source: 'trusted', file: 'trusted/server-s.pub.pem', checkpoints: { count: 2 } });
  });

  it('a key installed twice, or the own key installed in trusted/ too, is listed once', async () => {
    h = await harness();
    const b = serverKeys();
    install(h, b.pem, 'b-first.pub.pem');
    install(h, b.pem, 'b-second.pub.pem');
    install(h, path.join(h.dir, 'keys', 'checkpoint-ed25519.pub.pem'), 'self.pub.pem');
    const list = await keys(h);
    expect(list.items.map((k) => [k.source, k.id, k.file])).toEqual([['own', h.ctx.integrity!.key.id, undefined], ['trusted', b.key.id, 'trusted/b-first.pub.pem']]);
  });

  it('names a file in trusted/ that holds no Ed25519 public key: it trusts nothing, and neither listing nor verification fails on it', async () => {
    h = await harness();
    await createBatch(h, 'car-t', 1);
    await signedHere(h);
    const b = serverKeys();
    const b1 = await signedElsewhere(h, b.dir);
    // Server B's key installed as a damaged copy, beside an RSA key and a stray file.
    const trusted = path.join(h.dir, 'keys', 'trusted');
    fs.mkdirSync(trusted);
    fs.writeFileSync(path.join(trusted, 'server-b.pub.pem'), fs.readFileSync(b.pem, 'utf8').slice(0, 60));
    const { publicKey: rsa } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    fs.writeFileSync(path.join(trusted, 'old-rsa.pub.pem'), rsa.export({ type: 'spki', format: 'pem' }));
    fs.writeFileSync(path.join(trusted, 'notes.txt'), 'not a key, not named *.pub.pem: not read');
    const list = await keys(h);
    expect(list.items.map((k) => k.source)).toEqual(['own']);
    expect(list.unreadable).toEqual([
      { file: 'trusted/old-rsa.pub.pem', problem: 'a key of type rsa, not Ed25519' },
      { file: 'trusted/server-b.pub.pem', problem: 'not a public key in PEM' },
    ]);
    // B's checkpoint is then one by a key this server does not trust: a finding, reported, not a 500.
    expect(list.untrusted).toEqual([{ id: b.key.id, checkpoints: { count: 1, first: { n: b1.n, at: b1.at }, last: { n: b1.n, at: b1.at } } }]);
    const verify = await call(h, 'qa1', 'GET', '/audit/verify');
    expect(verify.status).toBe(200);
    expect(verify.body).toMatchObject({ valid: false, firstInvalid: { table: 'checkpoints', reason: `checkpoint ${b1.n} is signed with an unknown key ${b.key.id}` } });
    // `cellbatch verify` with the same key folder reports the same finding and names the files.
    const cli = await runCliAsync(['verify', ...cliRecordArgs(h.location), '--keys', path.join(h.dir, 'keys')]);
    expect(cli.code).toBe(1);
    expect(JSON.parse(cli.lines[0]!)).toMatchObject({ valid: false, firstInvalid: { table: 'checkpoints' }, unreadableKeyFiles: list.unreadable });
    // The file repaired, B is trusted again and the record verifies.
    fs.copyFileSync(b.pem, path.join(trusted, 'server-b.pub.pem'));
    const repaired = await keys(h);
    expect(repaired.items.map((k) => [k.source, k.id])).toEqual([['own', h.ctx.integrity!.key.id], ['trusted', b.key.id]]);
    expect(repaired.untrusted).toEqual([]);
    expect((await call(h, 'qa1', 'GET', '/audit/verify')).body).toMatchObject({ valid: true });
  });

  it('is read by qa, inspector and admin only', async () => {
    h = await harness();
    for (const user of ['qa1', 'insp1', 'admin']) expect((await call(h, user, 'GET', '/audit/keys')).status).toBe(200);
    const refused = await call(h, 'op1', 'GET', '/audit/keys');
    expect(refused.status).toBe(403);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect((await call(h, null, 'GET', '/audit/keys')).status).toBe(401);
  });
});
