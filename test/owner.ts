// The record as its database's owner sees it, whichever database holds it: a test that reads a row
// behind the store, or tampers with one as an attacker with the database would, says what it does once
// and runs on SQLite and on PostgreSQL alike. On SQLite the owner holds the file (and can drop the
// append-only triggers and put them back); on PostgreSQL the owner (here the test cluster's superuser)
// connects with psql's rights and disables a table's triggers inside a transaction, as
// tampering.pg.test.ts does through psql (21 CFR 11.10(a): what the chains and checkpoints must catch).
//
// SQL is written once, with `?` placeholders (numbered for PostgreSQL) and what both dialects accept:
// count(*) cast as integer, replace() rather than json_set(), RETURNING for a new row's seq.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { admin, createTestDatabase, TEST_DATABASE_URL } from './pg.js';

/** Where a record lives, as buildApp takes it: the SQLite file (on PostgreSQL, where the checkpoint log is kept) and the PostgreSQL database. */
export interface RecordLocation { dbFile: string; databaseUrl?: string }

export interface OwnerSql {
  /** The rows of a query. */
  rows<T = Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<T[]>;
  /** The first column of the first row (undefined when there is none). */
  value<T = unknown>(sql: string, ...params: unknown[]): Promise<T | undefined>;
  /** A statement, the database's triggers in force. */
  run(sql: string, ...params: unknown[]): Promise<void>;
}

export interface Owner extends OwnerSql {
  readonly dialect: 'sqlite' | 'postgres';
  /** Statements with every trigger of `tables` out of the way (a forger holding the database), the triggers back in force afterwards. */
  behindTriggers<T>(tables: string | string[], edit: (db: OwnerSql) => Promise<T>): Promise<T>;
}

/** `?` → `$1`, `$2`…: the tests' SQL holds no literal question mark. */
const numbered = (sql: string) => { let i = 0; return sql.replace(/\?/g, () => `$${++i}`); };

function sqliteSql(db: Database.Database): OwnerSql {
  return {
    rows: async <T>(sql: string, ...params: unknown[]) => db.prepare(sql).all(...params) as T[],
    value: async <T>(sql: string, ...params: unknown[]) => {
      const row = db.prepare(sql).raw().get(...params) as unknown[] | undefined;
      return row?.[0] as T | undefined;
    },
    run: async (sql: string, ...params: unknown[]) => { db.prepare(sql).run(...params); },
  };
}

function pgSql(client: pg.Client): OwnerSql {
  return {
    rows: async <T>(sql: string, ...params: unknown[]) => (await client.query(numbered(sql), params)).rows as T[],
    value: async <T>(sql: string, ...params: unknown[]) => {
      const r = await client.query({ text: numbered(sql), values: params, rowMode: 'array' });
      return (r.rows[0] as unknown[] | undefined)?.[0] as T | undefined;
    },
    run: async (sql: string, ...params: unknown[]) => { await client.query(numbered(sql), params); },
  };
}

/** The owner of the record at `at`: each call opens its own connection and closes it. */
export function owner(at: RecordLocation): Owner {
  const url = at.databaseUrl;
  if (url) {
    const session = <T>(fn: (db: OwnerSql) => Promise<T>) => admin(url, (c) => fn(pgSql(c)));
    return {
      dialect: 'postgres',
      rows: (sql, ...params) => session((db) => db.rows(sql, ...params)),
      value: (sql, ...params) => session((db) => db.value(sql, ...params)),
      run: (sql, ...params) => session((db) => db.run(sql, ...params)),
      behindTriggers: (tables, edit) => admin(url, async (c) => {
        const names = [tables].flat();
        await c.query('begin');
        try {
          for (const t of names) await c.query(`alter table ${t} disable trigger user`);
          const result = await edit(pgSql(c));
          for (const t of names) await c.query(`alter table ${t} enable trigger user`);
          await c.query('commit');
          return result;
        } catch (e) {
          await c.query('rollback');
          throw e;
        }
      }),
    };
  }
  const session = async <T>(fn: (db: Database.Database) => Promise<T>) => {
    const db = new Database(at.dbFile);
    try {
      return await fn(db);
    } finally {
      db.close();
    }
  };
  return {
    dialect: 'sqlite',
    rows: (sql, ...params) => session((db) => sqliteSql(db).rows(sql, ...params)),
    value: (sql, ...params) => session((db) => sqliteSql(db).value(sql, ...params)),
    run: (sql, ...params) => session((db) => sqliteSql(db).run(sql, ...params)),
    behindTriggers: (tables, edit) => session(async (db) => {
      const names = [tables].flat();
      const triggers = db.prepare(`select name, sql from sqlite_master where type = 'trigger' and tbl_name in (${names.map(() => '?').join(', ')})`).all(...names) as { name: string; sql: string }[];
      if (triggers.length === 0) throw new Error(`no triggers on ${names.join(', ')}`);
      for (const t of triggers) db.exec(`DROP TRIGGER ${t.name}`);
      try {
        return await edit(sqliteSql(db));
      } finally {
        for (const t of triggers) db.exec(t.sql);
      }
    }),
  };
}

/**
 * A copy of a stopped server's record (its folder: the SQLite file or the checkpoint log, and the keys;
 * on PostgreSQL, its database too), so that each case tampers with its own. `drop` removes it.
 */
export async function copyRecord(from: RecordLocation & { dir: string }): Promise<RecordLocation & { dir: string; drop(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellbatch-copy-'));
  fs.cpSync(from.dir, dir, { recursive: true });
  const dbFile = path.join(dir, path.relative(from.dir, from.dbFile));
  if (!from.databaseUrl) return { dir, dbFile, drop: async () => fs.rmSync(dir, { recursive: true, force: true }) };
  const source = new URL(from.databaseUrl).pathname.slice(1);
  const database = await createTestDatabase(TEST_DATABASE_URL, { template: source });
  return {
    dir, dbFile, databaseUrl: database.url,
    drop: async () => { await database.drop(); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}

/** The command line's arguments that name the record (`--db FILE`, and `--database-url URL` on PostgreSQL). */
export const cliRecordArgs = (at: RecordLocation): string[] => ['--db', at.dbFile, ...(at.databaseUrl ? ['--database-url', at.databaseUrl] : [])];
