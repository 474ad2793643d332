// The SQLite store (the embedded default): one file, one connection, the groups of store.ts each in a
// file of their own, and the transaction that ties the chains' bookkeeping to commit and rollback.
import type Database from 'better-sqlite3';
import type { Store, StoreOptions } from '../store.js';
import { AppError } from '../../errors.js';
import { sqliteBatches } from './batches.js';
import { SqliteChains } from './chains.js';
import { SqliteConnection } from './connection.js';
import { sqliteProcesses } from './processes.js';
import { sqliteRegistry } from './registry.js';
import { sqliteSettings } from './settings.js';
import { sqliteUsers } from './users.js';

/** A SQLite store; its file and raw handle are for SQLite's own tools (backup, the benchmarks' seeder, tests). */
export interface SqliteStore extends Store {
  readonly dialect: 'sqlite';
  readonly file: string;
  readonly sqlite: Database.Database;
  /** Runs synchronous statements on the raw handle once no transaction is open (connection.ts). */
  exclusive<T>(statements: (sqlite: Database.Database) => T): Promise<T>;
}

export function openSqliteStore(file: string, options: StoreOptions = {}): SqliteStore {
  const c = new SqliteConnection(file, { readonly: options.readonly });
  const chains = new SqliteChains(c, options);

  async function transaction<T>(fn: () => Promise<T>): Promise<T> {
    if (c.inTransaction) return fn();
    return c.exclusive(async () => {
      const before = chains.appendedSinceCheckpoint;
      let result: T;
      try {
        result = await c.transaction(fn);
      } catch (e) {
        // Rolled back: nothing was appended; a clock gone back is audited now, and the refusal says so.
        if (chains.afterRollback(before) && e instanceof AppError) e.audited = true;
        throw e;
      }
      chains.checkpointIfDue();
      return result;
    });
  }

  return {
    dialect: 'sqlite',
    file,
    location: file,
    sqlite: c.sqlite,
    ...sqliteUsers(c),
    ...sqliteRegistry(c),
    ...sqliteProcesses(c),
    ...sqliteBatches(c),
    ...chains.store(),
    ...sqliteSettings(c),
    transaction,
    exclusive: (statements) => c.run(() => statements(c.sqlite)),
    close: () => c.run(() => c.close()),
  };
}
