// Connects to PostgreSQL (CELLBATCH_DATABASE_URL) and brings its schema up to date with the committed
// migrations (server/store/migrations-pg), as server/store/database.ts does for SQLite.
//
// Two roles (docs/deployment.md "PostgreSQL: two roles"): the owner of the tables runs the migrations
// (`cellbatch pg-setup`), the application's role only reads and appends. A server connected as the
// application's role finds the migrations applied and does not try; one connected as the owner applies
// what is missing, under an advisory lock so that two servers starting together do not both migrate.
import pg from 'pg';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tables from './tables.js';
import { badRequest } from '../../errors.js';

export type PgDb = NodePgDatabase<typeof tables>;

export const PG_MIGRATIONS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'migrations-pg');

/** Advisory lock keys (pg_advisory_lock): any two numbers unlikely to be used by another application. */
export const LOCKS = { migrate: 0x63656c6c, write: 0x62617463 } as const;

/** Whether a setting names a PostgreSQL database rather than a SQLite file. */
export const isPostgresUrl = (s: string | undefined): s is string => !!s && /^postgres(ql)?:\/\//i.test(s);

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

/**
 * PostgreSQL cannot store U+0000 in text, where SQLite can: a value holding it is refused as input
 * (400) before it reaches the server, instead of failing there as an internal error.
 */
class CellbatchClient extends pg.Client {
  // pg's query() is heavily overloaded; the parameter values are checked, everything is passed on.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override query(...args: any[]): any {
    const config = args[0] as { values?: unknown[] } | string;
    const values = (typeof config === 'object' && config?.values) || (Array.isArray(args[1]) ? (args[1] as unknown[]) : undefined);
    if (values?.some((v) => typeof v === 'string' && v.includes('\u0000'))) {
      const e = badRequest('text may not contain the NUL character (U+0000)', [{ field: 'body', message: 'text may not contain the NUL character (U+0000)' }]);
      const cb = args.find((a) => typeof a === 'function') as ((err: Error) => void) | undefined;
      if (cb) return void process.nextTick(() => cb(e));
      return Promise.reject(e);
    }
    return (super.query as (...a: unknown[]) => unknown)(...args);
  }
}

export function createPool(url: string, max = 20, opts: { readonly?: boolean } = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url, max, Client: CellbatchClient,
    // 21 CFR 11.10(e), DESIGN.md "Non-negotiables": a reply follows a commit that is on disk (the
    // server's default; set here so that a site's lowered default cannot weaken it). A writer waits at
    // most this long for the write lock before the request fails rather than hanging. A read-only
    // store (StoreOptions.readonly) cannot write at all: every transaction of its sessions is read-only.
    options: `-c synchronous_commit=on -c lock_timeout=30000 -c idle_in_transaction_session_timeout=60000${opts.readonly ? ' -c default_transaction_read_only=on' : ''}`,
  });
  // An idle client that loses its connection (the server restarted) is dropped, not a crash.
  pool.on('error', () => {});
  return pool;
}

/** The migrations the journal lists, in order. */
function journal(): string[] {
  const j = JSON.parse(fs.readFileSync(path.join(PG_MIGRATIONS, 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string }[] };
  return j.entries.map((e) => e.tag);
}

/** How many migrations the database has applied (0 for a new database), as any role that can read it. */
async function applied(pool: pg.Pool): Promise<number> {
  const r = await pool.query<{ n: number }>(`select case when to_regclass('drizzle.__drizzle_migrations') is null then 0
    else (select count(*)::int from drizzle.__drizzle_migrations) end as n`);
  return r.rows[0].n;
}

/** Applies the migrations not yet applied. Throws a message saying what to do when the role may not. */
export async function migratePostgres(pool: pg.Pool, url: string): Promise<void> {
  const wanted = journal().length;
  let done: number;
  try {
    done = await applied(pool);
  } catch {
    done = 0;
  }
  if (done >= wanted) return;
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [LOCKS.migrate]);
    try {
      await migrate(drizzle(client, { schema: tables }), { migrationsFolder: PG_MIGRATIONS });
    } finally {
      await client.query('select pg_advisory_unlock($1)', [LOCKS.migrate]);
    }
  } catch (e) {
    if ((e as { cause?: { code?: string } }).cause?.code === '42501' || (e as { code?: string }).code === '42501') {
      throw new Error(`${redactUrl(url)}: the database needs ${wanted - done} migration(s) and this role may not apply them; run \`cellbatch pg-setup --owner-url URL --app-role ROLE\` as the owner of the tables (docs/deployment.md)`);
    }
    throw e;
  } finally {
    client.release();
  }
}

export function connect(pool: pg.Pool): PgDb {
  return drizzle(pool, { schema: tables });
}
