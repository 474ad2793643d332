// One record, two databases: the PostgreSQL schema (server/store/postgres/tables.ts) defines the same
// tables, columns, nullability, keys and indexes as SQLite's (server/store/tables.ts), and each column
// holds the same kind of value, so that a row reads back alike and hashes to the same bytes (chain.ts)
// whichever database rendered it. The two dialects keep one schema file each; this test binds them.
import { describe, expect, it } from 'vitest';
import { getTableConfig as sqliteConfig, type SQLiteTable } from 'drizzle-orm/sqlite-core';
import { getTableConfig as pgConfig, type PgTable } from 'drizzle-orm/pg-core';
import * as lite from '../../../server/store/tables.js';
import * as pgt from '../../../server/store/postgres/tables.js';

/** SQLite's storage class → what PostgreSQL must store for the same values. */
const KIND: Record<string, string> = { SQLiteText: 'text', SQLiteTextJson: 'json-text', SQLiteInteger: 'integer', SQLiteBoolean: 'boolean', SQLiteBlobBuffer: 'bytes' };
const PG_KIND: Record<string, string> = { 'text COLLATE "C"': 'text', integer: 'integer', serial: 'integer', boolean: 'boolean', bytea: 'bytes' };

function describeSqlite(table: SQLiteTable) {
  const c = sqliteConfig(table);
  return {
    name: c.name,
    columns: Object.fromEntries(c.columns.map((col) => [col.name, { kind: KIND[col.columnType] ?? col.columnType, notNull: col.notNull, primary: col.primary }])),
    indexes: c.indexes.map((i) => `${i.config.unique ? 'unique ' : ''}${i.config.name}(${i.config.columns.map((x) => (x as { name: string }).name).join(',')})`).sort(),
    primaryKeys: c.primaryKeys.map((k) => k.columns.map((x) => x.name).join(',')),
  };
}

function describePg(table: PgTable) {
  const c = pgConfig(table);
  return {
    name: c.name,
    columns: Object.fromEntries(c.columns.map((col) => {
      const type = col.getSQLType();
      // SQLite's JSON-mode text is text with a JSON parse on read here too (jsonText).
      const json = col.columnType === 'PgCustomColumn' && type === 'text COLLATE "C"' && (col as unknown as { mapFromDriverValue(v: string): unknown }).mapFromDriverValue('[1]') instanceof Array;
      return [col.name, { kind: json ? 'json-text' : PG_KIND[type] ?? type, notNull: col.notNull, primary: col.primary }];
    })),
    indexes: c.indexes.map((i) => `${i.config.unique ? 'unique ' : ''}${i.config.name}(${i.config.columns.map((x) => (x as { name: string }).name).join(',')})`).sort(),
    primaryKeys: c.primaryKeys.map((k) => k.columns.map((x) => x.name).join(',')),
  };
}

const tablesOf = <T>(mod: Record<string, unknown>, is: (v: unknown) => v is T) => Object.entries(mod).filter(([, v]) => is(v)).sort(([a], [b]) => a.localeCompare(b));
const isTable = (v: unknown): v is object => typeof v === 'object' && v !== null && Symbol.for('drizzle:IsDrizzleTable') in v;

describe('the PostgreSQL schema mirrors the SQLite schema', () => {
  const sqliteTables = tablesOf(lite, isTable);
  const pgTables = tablesOf(pgt, isTable);

  it('has the same tables under the same names', () => {
    expect(pgTables.map(([k]) => k)).toEqual(sqliteTables.map(([k]) => k));
    expect(sqliteTables.length).toBeGreaterThanOrEqual(14);
  });

  it.each(sqliteTables.map(([k]) => k))('%s: same columns, kinds, nullability, keys and indexes', (key) => {
    const a = describeSqlite((lite as Record<string, unknown>)[key] as SQLiteTable);
    const b = describePg((pgt as Record<string, unknown>)[key] as PgTable);
    expect(b).toEqual(a);
  });
});
