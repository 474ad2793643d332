// Backup and restore (R4): `cellbatch backup` copies the live database with SQLite's online backup
// while the server writes, its signed checkpoints inside it (the checkpoints table), verifies the copy
// and audits it; `cellbatch restore` refuses a backup whose chains do not verify, never overwrites a
// database unless forced (and then keeps the old one aside), audits the restore in the restored
// database, and still restores a backup made when the checkpoints were kept in a file log beside it.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../../server/app.js';
import { runCliAsync } from '../../../server/cli.js';
import { checkpointLogFile, verifyRecord } from '../../../server/services/integrity.js';
import { rebuildProjection } from '../../../server/services/projection.js';
import { backupDatabase, restoreDatabase } from '../../../server/store/sqlite/backup.js';
import { checkpointHash, publicKeysIn, type Checkpoint } from '../../../server/store/checkpoints.js';
import type { Store } from '../../../server/store/store.js';
import { call, createBatch, din, harness, HOUR, sign, type Harness, sqliteOf } from '../../helpers.js';

let h: Harness;
let dbFile: string;
let keyDir: string;
let out: string;

const iso = (ms: number) => new Date(ms).toISOString();
/** The person each backup and restore names (ALCOA attributable): an active qa account of the database. */
const BY = { username: 'qa1' };
const RESTORE_BY = { username: 'qa1', reason: 'server replaced after a disk failure' };

beforeEach(async () => {
  // Checkpoints every few rows, so that the backup carries signed checkpoints and the server signs
  // new ones while the backup runs.
  h = await harness({ checkpointEvery: 5 });
  dbFile = path.join(h.dir, 'cellbatch.db');
  keyDir = path.join(h.dir, 'keys');
  out = fs.mkdtempSync(path.join(os.tmpdir(), 'cellbatch-backup-'));
});
afterEach(async () => {
  await h.close();
  fs.rmSync(out, { recursive: true, force: true });
});

/** Records the CAR-T apheresis receipt as op1, in spec and in its window. */
async function recordReceipt(b: { id: string; version: number }, seq: number) {
  const now = h.ctx.clock.now().getTime();
  const r = await call(h, 'op1', 'POST', `/batches/${b.id}/steps/apheresis-receipt`, {
    values: { bagScan: din(seq).keyed, collectionEnd: iso(now - 10 * HOUR), receivedAt: iso(now - 2 * HOUR), transportTemperature: 6, volume: 180 },
    signature: sign('op1'),
    expectedVersion: b.version,
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.batch as { id: string; version: number };
}

const auditCount = (store: Store, action: string) =>
  (sqliteOf(store).prepare('select count(*) as n from audit_log where action = ?').get(action) as { n: number }).n;

const auditCountIn = (file: string, action: string) => {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('select count(*) as n from audit_log where action = ?').get(action) as { n: number }).n;
  } finally {
    db.close();
  }
};

/** A batch as the API shows it: what a restore must give back unchanged. */
async function readBatch(hh: Pick<Harness, 'app' | 'tokens'>, id: string) {
  const r = await hh.app.inject({ method: 'GET', url: `/api/v1/batches/${id}`, headers: { authorization: `Bearer ${h.tokens.qa1}` } });
  return { status: r.statusCode, body: r.json() as { id: string; status: string; version: number; entries: { id: string; seq: number }[] } };
}

/** A backup with a few batches in it (two with a recorded step). */
async function seededBackup(name = 'seed.db') {
  const a = await createBatch(h, 'car-t', 1);
  await recordReceipt(a, 1);
  await createBatch(h, 'car-t', 2);
  const target = path.join(out, name);
  await backupDatabase(dbFile, target, { keyDir, by: BY, now: () => h.wall.now });
  return target;
}

/** The checkpoints a backup file holds. */
const checkpointsIn = (file: string) => {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('select n, at, reason, heads, key_id as keyId, prev, signature from checkpoints order by n').all() as (Omit<Checkpoint, 'heads'> & { heads: string })[])
      .map((r) => ({ ...r, heads: JSON.parse(r.heads) as Checkpoint['heads'] }));
  } finally {
    db.close();
  }
};

/**
 * A backup as made before the checkpoints moved into the database: the same file with its checkpoints
 * in a log beside it (one JSON line each), its table empty.
 */
function asOldBackup(backup: string, name = 'old.db') {
  const copy = path.join(out, name);
  fs.copyFileSync(backup, copy);
  const log = checkpointsIn(copy);
  fs.writeFileSync(checkpointLogFile(copy), log.map((c) => `${JSON.stringify(c)}\n`).join(''));
  const db = new Database(copy);
  db.exec('DROP TRIGGER checkpoints_no_delete');
  db.exec('DELETE FROM checkpoints');
  db.close();
  return { copy, log };
}

/** A copy of a backup whose entry 2 was edited behind the triggers' back. */
function tamperedCopy(backup: string) {
  const copy = path.join(out, 'tampered.db');
  fs.copyFileSync(backup, copy);
  if (fs.existsSync(checkpointLogFile(backup))) fs.copyFileSync(checkpointLogFile(backup), checkpointLogFile(copy));
  const db = new Database(copy);
  db.exec('DROP TRIGGER entries_no_update');
  db.prepare('UPDATE entries SET payload = ? WHERE seq = 2').run(JSON.stringify({ edited: true }));
  db.close();
  return copy;
}

describe('cellbatch backup', () => {
  it('backs up under concurrent writes, and the restored database verifies and reads the same', async () => {
    const first = await createBatch(h, 'car-t', 1);
    await recordReceipt(first, 1);
    const second = await createBatch(h, 'car-t', 2);
    await recordReceipt(second, 2);
    const third = await createBatch(h, 'car-t', 3);
    const before = new Map<string, Awaited<ReturnType<typeof readBatch>>['body']>();
    for (const id of await h.ctx.store.allBatchIds()) before.set(id, (await readBatch(h, id)).body);
    expect(before.size).toBe(3);
    expect(auditCount(h.ctx.store, 'backup.created')).toBe(0);

    const target = path.join(out, 'nightly', 'cellbatch-backup.db');
    const [backup] = await Promise.all([
      backupDatabase(dbFile, target, { keyDir, by: BY, now: () => h.wall.now }),
      createBatch(h, 'car-t', 10), createBatch(h, 'car-t', 11), createBatch(h, 'car-t', 12), createBatch(h, 'car-t', 13),
      recordReceipt(third, 3),
    ]);
    expect(backup.report.valid).toBe(true);
    expect(backup.target).toBe(target);
    expect(fs.existsSync(target)).toBe(true);
    // The signed checkpoints are in the copy itself, every one naming rows it holds; no log beside it.
    expect(checkpointsIn(target).length).toBeGreaterThan(0);
    expect(fs.existsSync(checkpointLogFile(target))).toBe(false);

    // The backup adds exactly one audit row to the live database.
    expect(auditCount(h.ctx.store, 'backup.created')).toBe(1);
    // (the step recorded during the backup may be audited after it: the row is looked up by action)
    const row = (await h.ctx.store.listAudit({ action: 'backup.created' }, 10)).items[0];
    expect(row).toMatchObject({ action: 'backup.created', entity: 'database', userId: (await h.ctx.store.findUserByUsername('qa1'))!.id });
    expect(JSON.parse(row.after!)).toMatchObject({ target, valid: true, checked: backup.report.checked, username: 'qa1', printedName: 'Test QA1', by: expect.any(String) });
    expect((await verifyRecord(h.ctx.store, { publicKeys: publicKeysIn(keyDir), mark: h.ctx.integrity!.signer.mark() })).valid).toBe(true);

    // The live record after the backup: what every batch in the backup must be a prefix of.
    const live = new Map<string, Awaited<ReturnType<typeof readBatch>>['body']>();
    for (const id of await h.ctx.store.allBatchIds()) live.set(id, (await readBatch(h, id)).body);
    expect(live.size).toBe(7);

    const restored = path.join(out, 'restored', 'cellbatch.db');
    const report = await restoreDatabase(target, restored, { keyDir, by: RESTORE_BY, now: () => h.wall.now });
    expect(report.valid).toBe(true);
    expect(report.checkpoints).toBeGreaterThan(0);
    expect(auditCountIn(restored, 'backup.restored')).toBe(1);
    expect(auditCountIn(restored, 'backup.created')).toBe(0);

    const r = await buildApp({ dbFile: restored, training: true, now: () => h.wall.now, keyDir });
    try {
      const rs = r.ctx.store;
      // The mark beside the key now names the restored record's last checkpoint.
      expect((await verifyRecord(rs, { publicKeys: publicKeysIn(keyDir), mark: r.ctx.integrity!.signer.mark() })).valid).toBe(true);
      const last = (await rs.lastAudit())!;
      expect(last).toMatchObject({ action: 'backup.restored', entity: 'database', userId: (await h.ctx.store.findUserByUsername('qa1'))!.id, reason: RESTORE_BY.reason });
      expect(JSON.parse(last.after!)).toMatchObject({ from: path.resolve(target), checked: report.checked });

      const ids = await rs.allBatchIds();
      // Every batch that existed before the backup started is there, with the same entries up to the
      // version it had then (or later, for the one written while the backup ran).
      for (const [id, b] of before) {
        expect(ids).toContain(id);
        const got = await readBatch({ app: r.app, tokens: h.tokens }, id);
        expect(got.status).toBe(200);
        expect(got.body.version).toBeGreaterThanOrEqual(b.version);
        expect(got.body.entries.slice(0, b.entries.length)).toEqual(b.entries);
      }
      // Every batch in the backup reads, and is the live batch at backup time or later: its entries a
      // prefix of the live ones.
      for (const id of ids) {
        const got = await readBatch({ app: r.app, tokens: h.tokens }, id);
        expect(got.status).toBe(200);
        const now = live.get(id)!;
        expect(now).toBeDefined();
        expect(got.body.version).toBeLessThanOrEqual(now.version);
        expect(got.body.entries).toEqual(now.entries.slice(0, got.body.entries.length));
        if (got.body.version === now.version) expect(got.body.status).toBe(now.status);
        const p = (await rebuildProjection(r.ctx, id))!;
        expect(p.cached).toEqual(p.rebuilt);
      }
    } finally {
      await r.app.close();
    }
  });

  it('refuses to back up a database whose checkpoints are still in its file log (its server not started since the upgrade)', async () => {
    const db = sqliteOf(h.ctx.store);
    const log = checkpointsIn(dbFile);
    fs.writeFileSync(checkpointLogFile(dbFile), log.map((c) => `${JSON.stringify(c)}\n`).join(''));
    const trigger = db.prepare("select sql from sqlite_master where name = 'checkpoints_no_delete'").pluck().get() as string;
    db.exec('DROP TRIGGER checkpoints_no_delete; DELETE FROM checkpoints;');
    db.exec(trigger);
    const target = path.join(out, 'too-early.db');
    await expect(backupDatabase(dbFile, target, { keyDir, by: BY, now: () => h.wall.now })).rejects.toThrow(/still in .*checkpoints\.jsonl; start the server once/);
    expect(fs.existsSync(target)).toBe(false);
  });

  it('refuses a target that exists, and writes no audit row', async () => {
    const target = path.join(out, 'exists.db');
    fs.writeFileSync(target, 'not a backup');
    await expect(backupDatabase(dbFile, target, { keyDir, by: BY, now: () => h.wall.now })).rejects.toThrow(/already exists/);
    expect(fs.readFileSync(target, 'utf8')).toBe('not a backup');
    expect(auditCount(h.ctx.store, 'backup.created')).toBe(0);
  });
});

describe('cellbatch restore', () => {
  it('refuses a backup whose chain was edited, naming table and row, and writes nothing at the destination', async () => {
    const copy = tamperedCopy(await seededBackup());
    const dest = path.join(out, 'fresh', 'cellbatch.db');
    let error: (Error & { report?: { firstInvalid?: { table: string; seq: number } } }) | undefined;
    try {
      await restoreDatabase(copy, dest, { keyDir, by: RESTORE_BY, now: () => h.wall.now });
    } catch (e) {
      error = e as Error;
    }
    expect(error?.message).toMatch(/table entries, seq 2/);
    expect(error?.report?.firstInvalid).toMatchObject({ table: 'entries', seq: 2 });
    expect(fs.existsSync(dest)).toBe(false);
    expect(fs.existsSync(checkpointLogFile(dest))).toBe(false);
    expect(fs.existsSync(path.dirname(dest)) ? fs.readdirSync(path.dirname(dest)) : []).toEqual([]);
  });

  it('refuses to overwrite an existing database without force; with force keeps the old one aside', async () => {
    const backup = await seededBackup();
    const dest = path.join(out, 'site', 'cellbatch.db');
    await restoreDatabase(backup, dest, { keyDir, by: RESTORE_BY, now: () => h.wall.now });

    await expect(restoreDatabase(backup, dest, { keyDir, by: RESTORE_BY, now: () => h.wall.now })).rejects.toThrow(/already exists/);
    // The database stays in place; the refused restore is its one new audit row.
    expect(auditCountIn(dest, 'backup.restored')).toBe(1);
    expect(auditCountIn(dest, 'backup.restore-refused')).toBe(1);

    const report = await restoreDatabase(backup, dest, { keyDir, by: RESTORE_BY, force: true, now: () => h.wall.now });
    expect(report.valid).toBe(true);
    const aside = fs.readdirSync(path.dirname(dest)).filter((f) => /^cellbatch\.db\.before-restore-[^.]+$/.test(f));
    expect(aside).toHaveLength(1);
    const kept = path.join(path.dirname(dest), aside[0]);
    expect(fs.existsSync(kept)).toBe(true);
    expect(checkpointsIn(kept).length).toBeGreaterThan(0);
    // The database kept aside is the first restore, whole: it still holds its own restore row.
    expect(auditCountIn(kept, 'backup.restored')).toBe(1);
    expect(auditCountIn(dest, 'backup.restored')).toBe(1);
  });
});

describe('a backup made when the checkpoints were kept in a file log beside it', () => {
  it('is checked against that log and restored with it; the server imports the log at its next start', async () => {
    const { copy, log } = asOldBackup(await seededBackup());
    const dest = path.join(out, 'from-old', 'cellbatch.db');
    const report = await restoreDatabase(copy, dest, { keyDir, by: RESTORE_BY, now: () => h.wall.now });
    expect(report).toMatchObject({ valid: true, checkpoints: log.length });
    expect(fs.readFileSync(checkpointLogFile(dest), 'utf8')).toBe(fs.readFileSync(checkpointLogFile(copy), 'utf8'));
    expect(JSON.parse(fs.readFileSync(path.join(keyDir, 'checkpoint-latest.json'), 'utf8'))).toEqual({ n: log.at(-1)!.n, hash: checkpointHash(log.at(-1)!) });
    const r = await buildApp({ dbFile: dest, training: true, now: () => h.wall.now, keyDir });
    try {
      expect((await r.ctx.store.checkpoints()).slice(0, log.length)).toEqual(log);
      expect((await r.ctx.store.listAudit({ action: 'checkpoints.imported' }, 10)).items).toHaveLength(1);
      expect(r.ctx.recordCheck.report).toMatchObject({ valid: true });
    } finally {
      await r.app.close();
    }
  });

  it('is refused, saying why, when its log is not beside it', async () => {
    const { copy } = asOldBackup(await seededBackup());
    fs.rmSync(checkpointLogFile(copy));
    const dest = path.join(out, 'no-log', 'cellbatch.db');
    await expect(restoreDatabase(copy, dest, { keyDir, by: RESTORE_BY, now: () => h.wall.now }))
      .rejects.toThrow(/holds no signed checkpoints, and no checkpoint log lies beside it/);
    expect(fs.existsSync(dest)).toBe(false);
  });
});

describe('the command line', () => {
  it('backs up with exit 0 and refuses to restore a tampered backup with exit 1', async () => {
    // The harness's record starts with its users' audit rows; give it entries to tamper with. (The
    // command line runs on the system clock, later than the test's: the server writes nothing after it.)
    await createBatch(h, 'car-t', 1);
    await createBatch(h, 'car-t', 2);
    const target = path.join(out, 'cli-backup.db');
    const b = await runCliAsync(['backup', target, '--db', dbFile, '--keys', keyDir, '--user', 'qa1']);
    expect(b.code, b.lines.join('\n')).toBe(0);
    expect(b.lines).toHaveLength(1);
    expect(JSON.parse(b.lines[0])).toMatchObject({ backup: target, valid: true });
    expect(auditCount(h.ctx.store, 'backup.created')).toBe(1);

    const second = path.join(out, 'cli-second.db');
    expect((await runCliAsync(['backup', second, '--db', dbFile, '--keys', keyDir, '--user', 'admin'])).code).toBe(0);

    const fresh = path.join(out, 'cli-restored', 'cellbatch.db');
    const r = await runCliAsync(['restore', tamperedCopy(second), '--db', fresh, '--keys', keyDir, '--user', 'qa1', '--reason', 'drill']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.lines[0])).toMatchObject({ valid: false, firstInvalid: { table: 'entries', seq: 2 } });
    expect(fs.existsSync(fresh)).toBe(false);

    const ok = await runCliAsync(['restore', second, '--db', fresh, '--keys', keyDir, '--user', 'qa1', '--reason', 'drill']);
    expect(ok.code, ok.lines.join('\n')).toBe(0);
    expect(auditCountIn(fresh, 'backup.restored')).toBe(1);
  });
});

describe('R6 [11.10(e)]: every backup and restore names a person; refusals are audited where a database exists', () => {
  const actions = (file: string) => {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      return db.prepare("select action, user_id as userId, reason, after from audit_log where action like 'backup.%' order by seq").all() as { action: string; userId: string | null; reason: string | null; after: string }[];
    } finally {
      db.close();
    }
  };

  it('audits a backup and a restore with the user id, username and printed name of the person, and the OS account beside them', async () => {
    const target = path.join(out, 'named.db');
    await backupDatabase(dbFile, target, { keyDir, by: { username: 'admin', reason: 'before the upgrade' }, now: () => h.wall.now });
    const [row] = actions(dbFile);
    expect(row).toMatchObject({ action: 'backup.created', userId: (await h.ctx.store.findUserByUsername('admin'))!.id, reason: 'before the upgrade' });
    expect(JSON.parse(row.after)).toMatchObject({ username: 'admin', printedName: 'Test ADMIN', by: expect.any(String) });
    const dest = path.join(out, 'named-restore', 'cellbatch.db');
    await restoreDatabase(target, dest, { keyDir, by: RESTORE_BY, now: () => h.wall.now });
    const restored = actions(dest).filter((r) => r.action === 'backup.restored');
    expect(restored).toEqual([expect.objectContaining({ userId: (await h.ctx.store.findUserByUsername('qa1'))!.id, reason: RESTORE_BY.reason })]);
    expect(JSON.parse(restored[0].after)).toMatchObject({ username: 'qa1', printedName: 'Test QA1' });
  });

  it('refuses a backup by an unknown account or one without admin or qa, and audits the refusal in the live database', async () => {
    for (const username of ['nobody', 'op1']) {
      const target = path.join(out, `by-${username}.db`);
      await expect(backupDatabase(dbFile, target, { keyDir, by: { username }, now: () => h.wall.now })).rejects.toThrow(username === 'op1' ? /needs one of: admin, qa/ : /not an active account/);
      expect(fs.existsSync(target)).toBe(false);
    }
    const rows = actions(dbFile);
    expect(rows.map((r) => [r.action, r.userId])).toEqual([['backup.refused', null], ['backup.refused', (await h.ctx.store.findUserByUsername('op1'))!.id]]);
    expect(auditCount(h.ctx.store, 'backup.created')).toBe(0);
  });

  it('refuses a restore without a reason or by an operator, audited in the database it would have replaced, which stays in place', async () => {
    const backup = await seededBackup();
    const dest = path.join(out, 'site2', 'cellbatch.db');
    await restoreDatabase(backup, dest, { keyDir, by: RESTORE_BY, now: () => h.wall.now });
    const bytes = fs.readFileSync(dest);
    await expect(restoreDatabase(backup, dest, { keyDir, force: true, by: { username: 'qa1' }, now: () => h.wall.now })).rejects.toThrow(/--reason/);
    await expect(restoreDatabase(backup, dest, { keyDir, force: true, by: { username: 'op1', reason: 'try' }, now: () => h.wall.now })).rejects.toThrow(/needs one of: admin, qa/);
    const refused = actions(dest).filter((r) => r.action === 'backup.restore-refused');
    expect(refused.map((r) => [r.userId, r.reason])).toEqual([
      [(await h.ctx.store.findUserByUsername('qa1'))!.id, null],
      [(await h.ctx.store.findUserByUsername('op1'))!.id, 'try'],
    ]);
    expect(JSON.parse(refused[1].after)).toMatchObject({ from: backup, username: 'op1', error: expect.stringMatching(/needs one of/) });
    expect(fs.readdirSync(path.dirname(dest)).filter((f) => f.includes('before-restore'))).toEqual([]);
    expect(actions(dest).filter((r) => r.action === 'backup.restored')).toHaveLength(1);
    expect(fs.readFileSync(dest).length).toBeGreaterThanOrEqual(bytes.length);
  });

  it('the command line takes the person from --user and refuses a restore without --reason (exit 1)', async () => {
    const target = path.join(out, 'cli-named.db');
    expect((await runCliAsync(['backup', target, '--db', dbFile, '--keys', keyDir, '--user', 'qa2'])).code).toBe(0);
    expect(actions(dbFile).map((r) => [r.action, r.userId])).toEqual([['backup.created', (await h.ctx.store.findUserByUsername('qa2'))!.id]]);
    const fresh = path.join(out, 'cli-named', 'cellbatch.db');
    const r = await runCliAsync(['restore', target, '--db', fresh, '--keys', keyDir, '--user', 'qa2']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.lines[0]).error).toMatch(/--reason/);
    expect(fs.existsSync(fresh)).toBe(false);
  });
});
