#!/usr/bin/env node
// A PostgreSQL server for the tests (npm run test:pg, .ci/run).
//   node scripts/pg-test-cluster.mjs start        prints the URL to use, starting a throwaway cluster if needed
//   node scripts/pg-test-cluster.mjs stop DIR     stops the cluster `start` made in DIR and removes it
//   node scripts/pg-test-cluster.mjs run -- CMD…  start, run CMD with CELLBATCH_TEST_DATABASE_URL set, stop
// A server already answering on 127.0.0.1:5432 is used as it is (as $PGUSER, default postgres, with
// $PGPASSWORD if any); CELLBATCH_TEST_DATABASE_URL, when set, is used without looking further. Otherwise
// Debian's initdb and pg_ctl (PATH, /usr/lib/postgresql/*/bin, /usr/local/bin) make a cluster in a temp
// folder listening on loopback only, on a free port, trust authentication for loopback. The test harness
// creates one database per test file on it (test/pg.ts) and drops it afterwards.
// fsync is off in this throwaway cluster only (speed; CELLBATCH_PG_FSYNC=on keeps it on, as the
// benchmarks do to compare with SQLite's synchronous=FULL); synchronous_commit stays on, as in production.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const answers = (port, host = '127.0.0.1') => new Promise((resolve) => {
  const s = net.connect({ port, host });
  s.setTimeout(1000);
  s.once('connect', () => { s.destroy(); resolve(true); });
  s.once('error', () => resolve(false));
  s.once('timeout', () => { s.destroy(); resolve(false); });
});

const freePort = () => new Promise((resolve, reject) => {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  srv.on('error', reject);
});

function binDir() {
  const which = spawnSync('sh', ['-c', 'command -v pg_ctl'], { encoding: 'utf8' }).stdout.trim();
  const candidates = [
    ...(which ? [path.dirname(fs.realpathSync(which))] : []),
    ...(fs.existsSync('/usr/lib/postgresql') ? fs.readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a)).map((v) => `/usr/lib/postgresql/${v}/bin`) : []),
    '/usr/local/bin',
  ];
  const dir = candidates.find((d) => fs.existsSync(path.join(d, 'initdb')) && fs.existsSync(path.join(d, 'pg_ctl')));
  if (!dir) throw new Error('PostgreSQL is not installed: no initdb/pg_ctl found (Debian: apt-get install postgresql)');
  return dir;
}

/** initdb refuses to run as root: as root, the cluster belongs to the postgres account. */
const asOwner = (cmd, args) => (process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);

async function start() {
  if (process.env.CELLBATCH_TEST_DATABASE_URL) return { url: process.env.CELLBATCH_TEST_DATABASE_URL };
  if (await answers(5432)) {
    const user = encodeURIComponent(process.env.PGUSER || 'postgres');
    const password = process.env.PGPASSWORD ? `:${encodeURIComponent(process.env.PGPASSWORD)}` : '';
    return { url: `postgres://${user}${password}@127.0.0.1:5432/postgres` };
  }
  const bin = binDir();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellbatch-pg-'));
  fs.chmodSync(dir, 0o755);
  const data = path.join(dir, 'data');
  if (process.getuid?.() === 0) execFileSync('chown', ['postgres', dir]);
  const run = (cmd, args) => {
    const [c, a] = asOwner(path.join(bin, cmd), args);
    execFileSync(c, a, { stdio: ['ignore', 'ignore', 'inherit'] });
  };
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-locale', '-E', 'UTF8']);
  const port = await freePort();
  const fsync = process.env.CELLBATCH_PG_FSYNC === 'on' ? 'on' : 'off';
  const options = `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${dir} -c fsync=${fsync} -c max_connections=300`;
  run('pg_ctl', ['-D', data, '-l', path.join(dir, 'server.log'), '-o', options, '-w', 'start']);
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, dir };
}

function stop(dir) {
  if (!dir) return;
  const data = path.join(dir, 'data');
  if (fs.existsSync(path.join(data, 'postmaster.pid'))) {
    const [c, a] = asOwner(path.join(binDir(), 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
    spawnSync(c, a, { stdio: 'inherit' });
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'start') {
  const c = await start();
  console.log(JSON.stringify(c));
} else if (command === 'stop') {
  stop(rest[0]);
} else if (command === 'run') {
  const argv = rest[0] === '--' ? rest.slice(1) : rest;
  const c = await start();
  console.error(`PostgreSQL for the tests: ${c.url}${c.dir ? ` (a throwaway cluster in ${c.dir})` : ''}`);
  const child = spawn(argv[0], argv.slice(1), { stdio: 'inherit', env: { ...process.env, CELLBATCH_TEST_DATABASE_URL: c.url } });
  const stopAndExit = (code) => { stop(c.dir); process.exit(code); };
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => stopAndExit(code ?? (signal ? 1 : 0)));
} else {
  console.error('usage: pg-test-cluster.mjs start | stop DIR | run -- COMMAND...');
  process.exit(2);
}
