// Opens the embedded SQLite database: WAL with synchronous=FULL so that an acknowledged step survives
// a power cut (DESIGN.md "Non-negotiables"), then applies the committed migrations.
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tables from '../tables.js';

export type Db = BetterSQLite3Database<typeof tables>;

const MIGRATIONS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'migrations');

/**
 * The record holds password hashes and patient identifiers: its files are the service account's alone
 * (0600, folders it creates 0700), whatever the umask (issue 10). SQLite gives the -wal and -shm files
 * the database file's own mode, so creating that file 0600 before SQLite opens it covers all three.
 */
export function privateFile(file: string) {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  tighten(file);
}

/** Takes group and other permissions away from a file made before (or by a copy that kept a wider mode). */
export function tighten(...files: string[]) {
  for (const f of files) {
    try {
      const mode = fs.statSync(f).mode & 0o777;
      if (mode & 0o077) fs.chmodSync(f, mode & 0o700);
    } catch {
      // absent (no WAL yet) or not ours: nothing to tighten
    }
  }
}

export function openDatabase(file: string, opts: { readonly?: boolean } = {}): { sqlite: Database.Database; db: Db } {
  if (opts.readonly) {
    // An existing record read as it is (StoreOptions.readonly): no file made, no mode changed, no migration.
    const sqlite = new Database(file, { readonly: true, fileMustExist: true });
    sqlite.pragma('busy_timeout = 5000');
    return { sqlite, db: drizzle(sqlite, { schema: tables }) };
  }
  if (file !== ':memory:') {
    privateFile(file);
    tighten(`${file}-wal`, `${file}-shm`);
  }
  const sqlite = new Database(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = drizzle(sqlite, { schema: tables });
  migrate(db, { migrationsFolder: MIGRATIONS });
  return { sqlite, db };
}
