// The cellbatch command line: checks that need no running server.
//   cellbatch process check FILE   report what is wrong with a process definition (exit 1 if anything)
//   cellbatch verify [--db FILE] [--keys DIR] [--key FILE]... [--log FILE]   recompute every hash chain and check the signed checkpoints (exit 1 if broken)
//   cellbatch unlock USER --reason TEXT / reset-password USER --reason TEXT   break-glass recovery (services/break-glass.ts)
//   cellbatch backup FILE / cellbatch restore FILE [--force]   online backup and verified restore (server/store/backup.ts)
import fs from 'node:fs';
import { checkDefinition, describeProblem } from '../workflows/check.js';
import path from 'node:path';
import { openSqliteStore } from './store/sqlite/store.js';
import { openPostgresStore } from './store/postgres/store.js';
import { migrateStoreCommand, pgSetup, PG_USAGE } from './store/postgres/commands.js';
import type { Store } from './store/store.js';

/** The PostgreSQL database a command works on, when the record lives there (--database-url, else CELLBATCH_DATABASE_URL). */
const databaseUrl = (argv: string[]) => (argv.includes('--database-url') ? argv[argv.indexOf('--database-url') + 1] : undefined) ?? (process.env.CELLBATCH_DATABASE_URL || undefined);
import { productCatalogue, PRODUCTS_FILE } from './processes/registry.js';
import { CheckpointLog, keysIn, publicKeysFrom, publicKeysOf, readMark } from './store/checkpoints.js';
import { checkpointLogFile, defaultKeyDir, verifyRecordInParallel } from './services/integrity.js';
import { backupDatabase, osUser, restoreDatabase, type Operator } from './store/sqlite/backup.js';
import { BreakGlassError, resetPasswordFromConsole, unlockFromConsole } from './services/break-glass.js';

const USAGE = `usage:
  cellbatch process check FILE     check a process definition (JSON) without starting the server
  cellbatch verify [--db FILE] [--keys DIR] [--key FILE]... [--log FILE]   verify every hash chain and the signed checkpoints (default $CELLBATCH_DB or ./data/cellbatch.db);
                                   trusts only the --key public keys given, else the server's own key and keys/trusted/*.pub.pem in --keys/$CELLBATCH_KEY_DIR (keys/ beside the database);
                                   --log: hold the chains to a checkpoint log file kept from before the checkpoints moved into the database (another app server's)
  cellbatch unlock USER --reason TEXT [--db FILE]           break-glass: unlock an account (audited with your OS user)
  cellbatch reset-password USER --reason TEXT [--db FILE]   break-glass: print a temporary password once (changed at next login), end its sessions, unlock it
  cellbatch backup FILE [--user NAME] [--reason TEXT] [--db FILE] [--keys DIR]   copy the database (online, while the server runs) with its signed checkpoints, verify the copy, audit it
  cellbatch restore FILE --reason TEXT [--user NAME] [--db FILE] [--keys DIR] [--force]   verify a backup and put it in place (--force keeps an existing database aside); stop the server first
${PG_USAGE}
  --user names the person (an active admin or qa account; default: the OS account's name); both are audited
  On PostgreSQL (CELLBATCH_DATABASE_URL, or --database-url URL) verify, unlock and reset-password work on that database;
  the signed checkpoints are in the database as on SQLite, the keys in $CELLBATCH_KEY_DIR; backups are pg_dump's (docs/deployment.md)`;

export function processCheck(file: string): { code: number; lines: string[] } {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    return { code: 1, lines: [`${file}: cannot be read as JSON: ${(e as Error).message}`] };
  }
  // The site's product catalogue lives beside its definitions (products.json).
  let products;
  try {
    products = productCatalogue(path.join(path.dirname(file), PRODUCTS_FILE));
  } catch (e) {
    return { code: 1, lines: [(e as Error).message] };
  }
  const result = checkDefinition(json, { products });
  if (result.ok) {
    const d = result.definition;
    const steps = d.phases.reduce((n, p) => n + p.steps.length, 0);
    return { code: 0, lines: [`${file}: OK — process ${d.id} version ${d.version} (${d.productType}), ${steps} steps, hash ${result.hash}`] };
  }
  return { code: 1, lines: [`${file}: ${result.problems.length} problem(s)`, ...result.problems.map((p) => `  - ${describeProblem(p)}`)] };
}

/**
 * Verifies with the keys named (`--key`), else with the key folder's (the server's own and those
 * installed in its trusted/; never any *.pub.pem lying around). The checkpoints are the database's; a
 * database whose checkpoints are still in its file log (the server has not started since they moved
 * into the database) is held to that log, and `--log FILE` names a log to hold it to.
 */
export async function verifyDatabase(file: string, keyDir = defaultKeyDir(file), keyFiles: string[] = [], url?: string, logFile?: string): Promise<{ code: number; lines: string[] }> {
  if (!url && !fs.existsSync(file)) return { code: 1, lines: [`${file}: no such database`] };
  for (const k of keyFiles) if (!fs.existsSync(k)) return { code: 1, lines: [`${k}: no such key file`] };
  if (logFile && !fs.existsSync(logFile)) return { code: 1, lines: [`${logFile}: no such checkpoint log`] };
  // A check changes nothing: no migration, no read model filled, nothing written (StoreOptions.readonly).
  const store: Store = url ? await openPostgresStore(url, { poolSize: 2, readonly: true }) : openSqliteStore(file, { readonly: true });
  try {
    // A file in trusted/ that holds no Ed25519 key trusts nothing; the report names it, so the finding it causes is explained.
    const folder = keyFiles.length ? undefined : keysIn(keyDir);
    const keys = folder ? publicKeysOf(folder) : publicKeysFrom(keyFiles);
    // A database the server has not opened since migration 0012 has no checkpoints table yet (verify migrates nothing).
    const inTable = await store.lastCheckpoint().catch(() => undefined);
    const log = logFile ?? (!inTable && fs.existsSync(checkpointLogFile(file)) ? checkpointLogFile(file) : undefined);
    // A log of another server is held to the chains without this server's mark (the mark names this server's own).
    const mark = logFile ? undefined : readMark(path.join(keyDir, 'checkpoint-latest.json'));
    const r = await verifyRecordInParallel(store, { publicKeys: keys, mark, ...(log && { checkpoints: new CheckpointLog(log).read() }) });
    return { code: r.valid ? 0 : 1, lines: [JSON.stringify(folder?.unreadable.length ? { ...r, unreadableKeyFiles: folder.unreadable } : r)] };
  } finally {
    await store.close();
  }
}

/** `--name value` options, and the database they name (--db, else CELLBATCH_DB, else the default). */
function options(argv: string[]) {
  const opt = (name: string) => (argv.indexOf(name) >= 0 ? argv[argv.indexOf(name) + 1] : undefined);
  const all = (name: string) => argv.flatMap((a, i) => (a === name && argv[i + 1] !== undefined ? [argv[i + 1]] : []));
  return { opt, all, db: opt('--db') ?? process.env.CELLBATCH_DB ?? './data/cellbatch.db' };
}

/** The person behind a backup or restore (ALCOA attributable): --user, else the OS account of the same name. */
const operatorOf = (opt: (name: string) => string | undefined): Operator => ({ username: opt('--user') ?? osUser(), reason: opt('--reason') });

export function runCli(argv: string[]): { code: number; lines: string[] } {
  const [cmd, sub, arg] = argv;
  if (cmd === 'process' && sub === 'check' && arg) return processCheck(arg);
  return { code: 2, lines: [USAGE] };
}

/** runCli, plus the commands that use a database (the store is asynchronous); the command line runs through this. */
export async function runCliAsync(argv: string[]): Promise<{ code: number; lines: string[] }> {
  const [cmd, file] = argv;
  if (cmd === 'pg-setup') return pgSetup(argv);
  if (cmd === 'migrate-store') return migrateStoreCommand(argv);
  if ((cmd === 'backup' || cmd === 'restore') && databaseUrl(argv)) {
    return { code: 1, lines: [`the record is in PostgreSQL: ${cmd} it with pg_dump/pg_restore (the signed checkpoints are in the dump; keep the key folder apart) (docs/deployment.md "Backup and restore")`] };
  }
  if (cmd === 'restore' && file && !file.startsWith('--')) {
    const { opt, db } = options(argv);
    try {
      const report = await restoreDatabase(file, db, { keyDir: opt('--keys') ?? process.env.CELLBATCH_KEY_DIR ?? defaultKeyDir(db), force: argv.includes('--force'), by: operatorOf(opt) });
      return { code: 0, lines: [JSON.stringify({ restored: path.resolve(db), from: path.resolve(file), ...report })] };
    } catch (e) {
      return { code: 1, lines: [JSON.stringify({ error: (e as Error).message, ...((e as { report?: object }).report ?? {}) })] };
    }
  }
  if (cmd === 'verify') {
    const { opt, all, db } = options(argv);
    return verifyDatabase(db, opt('--keys') ?? process.env.CELLBATCH_KEY_DIR ?? defaultKeyDir(db), all('--key'), databaseUrl(argv), opt('--log'));
  }
  if ((cmd === 'unlock' || cmd === 'reset-password') && file && !file.startsWith('--')) return breakGlass(cmd, file, argv);
  if (cmd === 'backup' && file && !file.startsWith('--')) {
    const { opt, db } = options(argv);
    try {
      const r = await backupDatabase(db, file, { keyDir: opt('--keys') ?? process.env.CELLBATCH_KEY_DIR ?? defaultKeyDir(db), by: operatorOf(opt) });
      return { code: 0, lines: [JSON.stringify({ backup: r.target, ...r.report })] };
    } catch (e) {
      return { code: 1, lines: [JSON.stringify({ error: (e as Error).message, ...((e as { report?: object }).report ?? {}) })] };
    }
  }
  return runCli(argv);
}

/** `unlock` / `reset-password`: for whoever holds the server when no administrator can log in. */
async function breakGlass(cmd: 'unlock' | 'reset-password', username: string, argv: string[]): Promise<{ code: number; lines: string[] }> {
  const { opt, db } = options(argv);
  const reason = opt('--reason');
  if (!reason?.trim()) return { code: 2, lines: [`${cmd} needs --reason TEXT (it goes into the audit trail)`, USAGE] };
  const url = databaseUrl(argv);
  if (!url && !fs.existsSync(db)) return { code: 1, lines: [`${db}: no such database`] };
  const store: Store = url ? await openPostgresStore(url, { poolSize: 2 }) : openSqliteStore(db);
  try {
    if (cmd === 'unlock') {
      const done = await unlockFromConsole(store, username, reason, osUser());
      return { code: 0, lines: [done ? `${username} unlocked (audited as account.unlocked by ${osUser()})` : `${username} was not locked; nothing changed`] };
    }
    const password = await resetPasswordFromConsole(store, username, reason, osUser());
    return { code: 0, lines: [`temporary password for ${username}: ${password}`, '(shown once; it must be changed at the next login; the account\'s sessions have ended and it is unlocked)'] };
  } catch (e) {
    if (e instanceof BreakGlassError) return { code: 1, lines: [e.message] };
    throw e;
  } finally {
    await store.close();
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/').split('/').pop()!)) {
  const { code, lines } = await runCliAsync(process.argv.slice(2));
  for (const l of lines) (code === 0 ? console.log : console.error)(l);
  process.exit(code);
}
