// Issue 10, finding 6, through the real start (`node server/main.ts`, as `npm start` runs it): a
// setting that cannot be read stops the start with exit 1 naming the variable and creates nothing; with
// no settings but the database's place, the server listens on loopback only, the generated admin
// password goes to stderr and never to the request log on stdout, the key folder inside the database's
// folder is warned about, and the files are the service account's alone.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort, ROOT } from '../../crash/server-process.js';

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellbatch-start-')); });
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The environment of a bare `npm start`: nothing of the CELLBATCH_ settings this process may carry. */
function bareEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELLBATCH_') && k !== 'HOST' && k !== 'PORT'));
  return { ...env, ...extra };
}
const MAIN = ['--env-file=server/node.env', '--import', 'tsx', 'server/main.ts'];

/** Runs the real start until it listens; `stop` ends it. */
async function started(env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, MAIN, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => { out.stdout += d.toString(); if (out.stdout.includes('listening on')) resolve(); });
    child.stderr.on('data', (d: Buffer) => { out.stderr += d.toString(); });
    void exited.then((code) => reject(new Error(`the server exited (${code}): ${out.stderr}`)));
  });
  return { out, stop: async () => { child.kill('SIGTERM'); await exited; } };
}

describe('the start', () => {
  it('says on stderr that it records nothing when the record disagrees with the key folder\'s checkpoints (a database deleted beside its keys)', async () => {
    const dbFile = path.join(dir, 'cellbatch.db');
    const port = await freePort();
    const env = bareEnv({ CELLBATCH_DB: dbFile, PORT: String(port), CELLBATCH_ADMIN_PASSWORD: 'Start-Test-Admin-2026!', CELLBATCH_LOG: '0' });
    const first = await started(env);
    expect(first.out.stderr).not.toContain('every write is refused');
    await first.stop(); // signs the heads at shutdown
    for (const f of fs.readdirSync(dir).filter((f) => f.startsWith('cellbatch.db'))) fs.rmSync(path.join(dir, f));
    const second = await started(env);
    try {
      await expect.poll(() => second.out.stderr).toMatch(/WARNING: every write is refused \(503 record-tail-altered\): .*cut short.*The key folder .*keys holds the checkpoints this record must agree with/);
      expect(await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()).toMatchObject({ integrity: 'failed' });
    } finally {
      await second.stop();
    }
  }, 90_000);


  it('refuses a setting it cannot read: exit 1, the variable named on stderr, no database created', () => {
    const dbFile = path.join(dir, 'cellbatch.db');
    const r = spawnSync(process.execPath, MAIN, { cwd: ROOT, env: bareEnv({ CELLBATCH_DB: dbFile, CELLBATCH_IDLE_MINUTES: '15m', CELLBATCH_PASSWORD_DAYS: 'never' }), encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('CELLBATCH_IDLE_MINUTES');
    expect(r.stderr).toContain('CELLBATCH_PASSWORD_DAYS');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('with no settings: loopback only, the generated admin password on stderr and not in the request log, the key warning, files 0600', async () => {
    const dbFile = path.join(dir, 'data', 'cellbatch.db');
    const port = await freePort();
    const child = spawn(process.execPath, MAIN, { cwd: ROOT, env: bareEnv({ CELLBATCH_DB: dbFile, PORT: String(port) }), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      // Listening is announced on stdout once the server accepts connections; the password on stderr before it.
      await new Promise<void>((resolve, reject) => {
        const ready = () => { if (stdout.includes('listening on') && stderr.includes('temporary password')) resolve(); };
        child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); ready(); });
        child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); ready(); });
        void exited.then((code) => reject(new Error(`the server exited (${code}): ${stderr}`)));
      });
      expect(stdout).toContain(`listening on http://127.0.0.1:${port}`);
      const password = /temporary password "([^"]+)"/.exec(stderr)?.[1];
      expect(password, stderr).toBeDefined();
      expect(stderr).toMatch(/WARNING: the checkpoint signing key .* lies inside the database's folder/);
      // A login is logged on stdout: the password is not.
      const r = await fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) });
      expect(r.status).toBe(200);
      expect(stdout).not.toContain(password!);
      for (const f of [dbFile, `${dbFile}-wal`]) if (fs.existsSync(f)) expect(fs.statSync(f).mode & 0o777, f).toBe(0o600);
      expect(fs.statSync(path.dirname(dbFile)).mode & 0o777).toBe(0o700);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  }, 90_000);
});
