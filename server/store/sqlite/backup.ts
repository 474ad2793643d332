// Backup and restore of the record (R4: records survive backup and restore unchanged; nothing is
// deleted). A backup is taken with SQLite's online backup API, so it is safe beside a running server
// (WAL: readers and the writer carry on); the signed checkpoints are in the database's `checkpoints`
// table (issue 15 item 3), so the copy holds those its rows reach, from the same snapshot. A backup
// made before then kept a copy of the file log beside it (`<backup>.checkpoints.jsonl`): it is checked
// with that log and restored with it, and the server imports the log at its next start. A backup is
// verified before it is kept, and again before it is restored: a backup whose chains or checkpoints do
// not verify is never put in place. Both are audited.
//
// The checkpoints of a backup are checked without the mark kept in the key folder: the server may
// have signed newer checkpoints since, so the mark can be ahead of a backup. What the backup held is
// recorded instead in the live database's `backup.created` audit row.
//
// Every backup and restore names a person (ALCOA attributable; 21 CFR 11.10(e)): an active account
// holding admin or qa, given with --user (or the OS account of the same username), whose id is the
// audit row's user; the OS account is kept beside it in `after.by`. A restore needs a reason. A refused
// backup or restore is audited where a database exists to audit into (the live one; the one a
// restore would replace).
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SystemClock, TrainingClock, type Clock } from '../../clock.js';
import { recordedMode } from '../../services/database-mode.js';
import { storedOffset } from '../../services/training-clock.js';
import { writeAudit } from '../../services/audit.js';
import { checkpointLogFile, defaultKeyDir, verifyRecord } from '../../services/integrity.js';
import { CheckpointLog, checkpointHash, publicKeysIn, type Checkpoint, type Mark } from '../checkpoints.js';
import type { ChainReport, Store, UserRow } from '../store.js';
import { openSqliteStore } from './store.js';
import { may, PERMISSIONS } from '../../permissions.js';
import { privateFile, tighten } from './database.js';

/** A refusal: the backup does not verify (the report says where), or a file is in the way. */
export class BackupError extends Error {
  constructor(message: string, readonly report?: ChainReport) {
    super(message);
    this.name = 'BackupError';
  }
}

const SIDE_FILES = ['-wal', '-shm'] as const;

/** The person who runs a backup or a restore, and why (a restore needs a reason). */
export interface Operator { username: string; reason?: string }

/** The account behind `op` in the database the audit row goes into; refuses anyone else. */
async function operatorIn(store: Store, op: Operator, what: string): Promise<UserRow> {
  const u = await store.findUserByUsername(op.username);
  if (!u || !u.active) throw new BackupError(`${what} refused: ${op.username} is not an active account of ${store.location}; name the person with --user USERNAME`);
  if (!may(u, 'database.backup')) throw new BackupError(`${what} refused: ${op.username} (${u.roles.join(', ')}) may not; it needs one of: ${PERMISSIONS['database.backup'].roles.join(', ')}`);
  return u;
}

/** Audits a refused backup or restore into a database that exists (best effort: the refusal stands either way). */
async function auditRefusal(dbFile: string, action: 'backup.refused' | 'backup.restore-refused', op: Operator, error: Error, after: Record<string, unknown>, now?: () => number) {
  if (!fs.existsSync(dbFile)) return;
  try {
    const store = openSqliteStore(dbFile);
    try {
      const user = await store.findUserByUsername(op.username);
      const clock = await clockOf(store, now);
      await store.transaction(() => writeAudit(store, clock, {
        userId: user?.id ?? null, action, entity: 'database', reason: op.reason ?? null,
        after: { ...after, error: error.message, username: op.username, by: osUser() },
      }));
    } finally {
      await store.close();
    }
  } catch {
    // not a database this version can open: nothing to audit into
  }
}

/** The process clock of a database (its audit rows must never go back along its chain): simulated for a training one. */
async function clockOf(store: Store, now?: () => number): Promise<Clock> {
  return await recordedMode(store) === 'training' ? new TrainingClock(await storedOffset(store), now) : new SystemClock(now);
}

/** The OS account running the command: backups and restores are run by a person at the console. */
export function osUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? process.env.USERNAME ?? 'unknown';
  }
}

/** A file name part from the current time, safe on every file system. */
const stamp = () => new Date().toISOString().replace(/[:.]/g, '-');

const located = (r: ChainReport) =>
  r.firstInvalid ? `${r.firstInvalid.reason} (table ${r.firstInvalid.table}, seq ${r.firstInvalid.seq})` : 'it does not verify';

/**
 * Verifies a database file against its signed checkpoints (no mark: see the header): those of its
 * table, or, for a backup made before they moved into the database, those of the log beside it.
 */
async function verifyCopy(file: string, keyDir: string): Promise<ChainReport> {
  const store = openSqliteStore(file);
  try {
    const old = !(await store.lastCheckpoint()) && fs.existsSync(checkpointLogFile(file));
    return await verifyRecord(store, { publicKeys: publicKeysIn(keyDir), ...(old && { checkpoints: new CheckpointLog(checkpointLogFile(file)).read() }) });
  } finally {
    await store.close();
  }
}

/** Removes a copy this module made itself (never a record: a failed backup or a refused restore's scratch copy). */
function removeCopy(file: string) {
  for (const f of [file, ...SIDE_FILES.map((s) => file + s), checkpointLogFile(file)]) fs.rmSync(f, { force: true });
}

/**
 * Backs up the live database at `dbFile` to `target` with SQLite's online backup (safe while the
 * server runs), its signed checkpoints inside it, verifies the copy, and audits it in the live database.
 * Refuses an existing target; a copy that does not verify is removed and the backup throws.
 */
export async function backupDatabase(dbFile: string, target: string, opts: { keyDir?: string; by: Operator; now?: () => number }): Promise<{ target: string; report: ChainReport }> {
  try {
    return await backupAttributed(dbFile, target, opts);
  } catch (e) {
    if (e instanceof BackupError) await auditRefusal(dbFile, 'backup.refused', opts.by, e, { target: path.resolve(target) }, opts.now);
    throw e;
  }
}

async function backupAttributed(dbFile: string, target: string, opts: { keyDir?: string; by: Operator; now?: () => number }): Promise<{ target: string; report: ChainReport }> {
  const keyDir = opts.keyDir ?? defaultKeyDir(dbFile);
  const dest = path.resolve(target);
  if (!fs.existsSync(dbFile)) throw new BackupError(`${dbFile}: no such database`);
  if (path.resolve(dbFile) === dest) throw new BackupError(`${target}: a backup cannot replace the database it copies`);
  for (const f of [dest, ...SIDE_FILES.map((s) => dest + s)]) {
    if (fs.existsSync(f)) throw new BackupError(`${f} already exists: a backup never overwrites a file`);
  }
  fs.mkdirSync(path.dirname(dest), { recursive: true, mode: 0o700 });

  const store = openSqliteStore(dbFile);
  try {
    const operator = await operatorIn(store, opts.by, 'the backup');
    // Checkpoints still in the file log (the server has not started since they moved into the
    // database): a copy without them could not be checked.
    if (!(await store.lastCheckpoint()) && fs.existsSync(checkpointLogFile(dbFile))) {
      throw new BackupError(`${dbFile}: its signed checkpoints are still in ${checkpointLogFile(dbFile)}; start the server once (it imports them into the database), then back up`);
    }
    let report: ChainReport;
    try {
      // A backup holds what the database holds: 0600 from its first byte (issue 10).
      privateFile(dest);
      await store.sqlite.backup(dest);
      report = await verifyCopy(dest, keyDir);
    } catch (e) {
      removeCopy(dest);
      throw e;
    }
    if (!report.valid) {
      removeCopy(dest);
      throw new BackupError(`the backup of ${dbFile} does not verify, so it was not kept: ${located(report)}`, report);
    }
    const clock = await clockOf(store, opts.now);
    await store.transaction(() => writeAudit(store, clock, {
      userId: operator.id, action: 'backup.created', entity: 'database', reason: opts.by.reason ?? null,
      after: { target: dest, checked: report.checked, checkpoints: report.checkpoints ?? 0, valid: report.valid, username: operator.username, printedName: operator.fullName, by: osUser() },
    }));
    return { target: dest, report };
  } finally {
    await store.close();
  }
}

/** Folds the write-ahead log of a database that is not in use into its file (best effort). */
function foldWal(file: string) {
  if (!fs.existsSync(file + '-wal')) return;
  try {
    const db = new Database(file, { fileMustExist: true });
    try {
      db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      db.close();
    }
  } catch {
    // moved aside as it is, with its -wal beside it
  }
}

/** A free name beside `dbFile` for the database a forced restore replaces. */
function asideName(dbFile: string) {
  const base = `${dbFile}.before-restore-${stamp()}`;
  let name = base;
  for (let i = 1; [name, ...SIDE_FILES.map((s) => name + s), checkpointLogFile(name)].some((f) => fs.existsSync(f)); i++) name = `${base}-${i}`;
  return name;
}

/**
 * Restores `backupFile` (with the checkpoint log an older backup keeps beside it) to `dbFile`. Refuses a backup whose chains or signed
 * checkpoints do not verify, naming the first row that fails; refuses an existing database unless
 * `force`, and then keeps it (with its -wal, -shm and checkpoint log) as `<dbFile>.before-restore-<time>`:
 * nothing is deleted. Writes one `backup.restored` audit row into the restored database.
 * Stop the server on `dbFile` first.
 */
export async function restoreDatabase(backupFile: string, dbFile: string, opts: { keyDir?: string; force?: boolean; by: Operator; now?: () => number }): Promise<ChainReport> {
  // The database a refused restore would have replaced is audited before anything is moved.
  const existed = fs.existsSync(path.resolve(dbFile));
  try {
    return await restoreAttributed(backupFile, dbFile, opts);
  } catch (e) {
    if (existed && e instanceof BackupError) await auditRefusal(path.resolve(dbFile), 'backup.restore-refused', opts.by, e, { from: path.resolve(backupFile) }, opts.now);
    throw e;
  }
}

async function restoreAttributed(backupFile: string, dbFile: string, opts: { keyDir?: string; force?: boolean; by: Operator; now?: () => number }): Promise<ChainReport> {
  const keyDir = opts.keyDir ?? defaultKeyDir(dbFile);
  if (!opts.by.reason?.trim()) throw new BackupError('a restore replaces the record: give the reason with --reason TEXT');
  const from = path.resolve(backupFile);
  const dest = path.resolve(dbFile);
  if (!fs.existsSync(from)) throw new BackupError(`${backupFile}: no such backup`);
  if (from === dest) throw new BackupError(`${backupFile}: a backup cannot be restored onto itself`);
  const existing = [dest, ...SIDE_FILES.map((s) => dest + s), checkpointLogFile(dest)].filter((f) => fs.existsSync(f));
  if (existing.length && !opts.force) throw new BackupError(`${existing[0]} already exists: restore with --force to keep it aside and replace it`);

  // Verify a scratch copy beside the destination (the backup itself is only read), then move it in.
  fs.mkdirSync(path.dirname(dest), { recursive: true, mode: 0o700 });
  const scratch = `${dest}.restoring-${stamp()}-${process.pid}`;
  let report: ChainReport;
  try {
    fs.copyFileSync(from, scratch, fs.constants.COPYFILE_EXCL);
    if (fs.existsSync(from + '-wal')) fs.copyFileSync(from + '-wal', scratch + '-wal', fs.constants.COPYFILE_EXCL);
    if (fs.existsSync(checkpointLogFile(from))) fs.copyFileSync(checkpointLogFile(from), checkpointLogFile(scratch), fs.constants.COPYFILE_EXCL);
    tighten(scratch, scratch + '-wal', checkpointLogFile(scratch));
    report = await verifyCopy(scratch, keyDir);
  } catch (e) {
    removeCopy(scratch);
    throw e;
  }
  if (!report.valid) {
    removeCopy(scratch);
    throw new BackupError(`${backupFile} was not restored: the backup does not verify: ${located(report)}`, report);
  }
  if (!report.checkpoints && report.checked > 0) {
    removeCopy(scratch);
    throw new BackupError(`${backupFile}: the backup holds no signed checkpoints, and no checkpoint log lies beside it (${checkpointLogFile(from)}, as a backup made before they moved into the database has): its rows cannot be checked`);
  }
  // The restore's audit row goes into the restored record: the person must have an account there.
  let operator: UserRow;
  try {
    const restored = openSqliteStore(scratch);
    try {
      operator = await operatorIn(restored, opts.by, 'the restore');
    } finally {
      await restored.close();
    }
  } catch (e) {
    removeCopy(scratch);
    throw e;
  }

  if (existing.length) {
    foldWal(dest);
    const aside = asideName(dest);
    for (const [src, to] of [[dest, aside], ...SIDE_FILES.map((s) => [dest + s, aside + s]), [checkpointLogFile(dest), checkpointLogFile(aside)]]) {
      if (fs.existsSync(src)) fs.renameSync(src, to);
    }
  }
  for (const [src, to] of [[scratch, dest], ...SIDE_FILES.map((s) => [scratch + s, dest + s]), [checkpointLogFile(scratch), checkpointLogFile(dest)]]) {
    if (fs.existsSync(src)) fs.renameSync(src, to);
  }

  // The mark beside the key now follows the restored checkpoints: the restored record is the record.
  // The mark it replaces is kept in the audit row, so the step back stays visible. An older backup's
  // log is imported by the server's next start, which checks it against this mark (a mark of the log).
  const markFile = path.join(keyDir, 'checkpoint-latest.json');
  const previousMark = fs.existsSync(markFile) ? (JSON.parse(fs.readFileSync(markFile, 'utf8')) as unknown) : null;
  const store = openSqliteStore(dest);
  try {
    const inTable = await store.lastCheckpoint();
    const inLog = inTable ? undefined : new CheckpointLog(checkpointLogFile(dest)).read().at(-1);
    const restoredLast: Checkpoint | undefined = inTable ?? inLog;
    if (restoredLast) {
      const mark: Mark = { n: restoredLast.n, hash: checkpointHash(restoredLast), ...(inTable && { table: true as const }) };
      fs.writeFileSync(markFile, JSON.stringify(mark), { mode: 0o600 });
    }
    const clock = await clockOf(store, opts.now);
    await store.transaction(() => writeAudit(store, clock, {
      userId: operator.id, action: 'backup.restored', entity: 'database', reason: opts.by.reason!.trim(),
      after: { from, checked: report.checked, checkpoints: report.checkpoints ?? 0, username: operator.username, printedName: operator.fullName, by: osUser(), previousMark },
    }));
  } finally {
    await store.close();
  }
  return report;
}
