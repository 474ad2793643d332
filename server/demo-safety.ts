// What `npm run demo` may delete: only a database it made itself (issue 10), on either store. A record
// that lacks the demo's mark, holds a single batch or entry not marked TRAINING, or cannot be read as a
// cellbatch database is a GMP record (or someone else's) and is refused, whatever its name. The check
// reads through the store's interface opened read-only (StoreOptions.readonly): it never migrates,
// creates or re-permissions what it looks at.
import fs from 'node:fs';
import pg from 'pg';
import { checkpointLogFile } from './services/integrity.js';
import { openStore } from './store/open.js';
import { isPostgresUrl, redactUrl } from './store/postgres/database.js';

/** The settings row the demo writes into its own database. */
export const DEMO_MARK = 'demo.database';

/** The demo's own key folder, beside its database: it is thrown away with it. */
export const demoKeyDir = (dbFile: string) => `${dbFile}.keys`;

/** A PostgreSQL database that holds no table of cellbatch (nor any other) yet: nothing to delete. */
async function emptyPostgres(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ n: number }>(`select count(*)::int as n from pg_tables where schemaname not in ('pg_catalog', 'information_schema')`);
    return r.rows[0].n === 0;
  } finally {
    await client.end();
  }
}

/** Why the record at `location` (a SQLite file or a postgres:// address) must not be deleted, or null when it is a demo database (or absent). */
export async function notADemoDatabase(location: string): Promise<string | null> {
  try {
    if (isPostgresUrl(location) ? await emptyPostgres(location) : !fs.existsSync(location)) return null;
    const store = await openStore(location, { readonly: true });
    try {
      if ((await store.getSetting(DEMO_MARK)) !== '1') return 'it was not made by the demo';
      const gmp = await store.countNotTraining();
      if (gmp > 0) return `it holds ${gmp} batch(es) or entries that are not marked TRAINING`;
      return null;
    } finally {
      await store.close();
    }
  } catch (e) {
    return `it cannot be read as a cellbatch database (${(e as Error).message})`;
  }
}

/**
 * Deletes the demo's record with its key folder beside `dbFile` (and an older demo's checkpoint log); refuses anything
 * else. The record is the SQLite file `dbFile` with its WAL, or, with `databaseUrl`, every table of
 * that PostgreSQL database (its schemas dropped and `public` made again: the role must own them).
 */
export async function removeDemoDatabase(dbFile: string, databaseUrl?: string): Promise<void> {
  const location = databaseUrl ?? dbFile;
  const problem = await notADemoDatabase(location);
  if (problem) {
    const where = databaseUrl ? redactUrl(databaseUrl) : dbFile;
    const setting = databaseUrl ? 'CELLBATCH_DEMO_DATABASE_URL to a database' : 'CELLBATCH_DEMO_DB to a file';
    throw new Error(`npm run demo refuses to delete ${where}: ${problem}. The demo never touches a GMP record; set ${setting} of its own.`);
  }
  if (databaseUrl) {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      await client.query('drop schema if exists drizzle cascade; drop schema public cascade; create schema public');
    } finally {
      await client.end();
    }
  } else {
    for (const f of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`]) fs.rmSync(f, { force: true });
  }
  fs.rmSync(checkpointLogFile(dbFile), { force: true });
  fs.rmSync(demoKeyDir(dbFile), { recursive: true, force: true });
}
