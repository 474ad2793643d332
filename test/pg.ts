// PostgreSQL for the tests: CELLBATCH_TEST_DATABASE_URL names a server on which the tests may create
// databases (npm run test:pg starts one: scripts/pg-test-cluster.mjs). Each harness gets a database of
// its own, dropped when it closes, copied from a template that already holds the migrations (CREATE
// DATABASE … TEMPLATE is a file copy: faster than applying the migrations to every new database).
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { createPool, migratePostgres, PG_MIGRATIONS } from '../server/store/postgres/database.js';

/** The server the tests run on, when they run on PostgreSQL. */
export const TEST_DATABASE_URL = process.env.CELLBATCH_TEST_DATABASE_URL || undefined;

/** The same server, another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Runs SQL as the test server's (super)user, on a database of the test server. */
export async function admin<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

let template: Promise<string> | undefined;

/** A database holding the current migrations, named after them, made once (under a lock) and kept for later runs. */
function migratedTemplate(server: string): Promise<string> {
  template ??= (async () => {
    const files = fs.readdirSync(PG_MIGRATIONS, { recursive: true }).map(String).sort();
    const digest = createHash('sha256');
    for (const f of files) if (f.endsWith('.sql') || f.endsWith('.json')) digest.update(f).update(fs.readFileSync(path.join(PG_MIGRATIONS, f)));
    const name = `cellbatch_template_${digest.digest('hex').slice(0, 12)}`;
    await admin(server, async (c) => {
      await c.query('select pg_advisory_lock(4242)');
      try {
        if ((await c.query('select 1 from pg_database where datname = $1', [name])).rowCount) return;
        await c.query(`create database ${name}_new`);
        const url = withDatabase(server, `${name}_new`);
        const pool = createPool(url, 1);
        try {
          await migratePostgres(pool, url);
        } finally {
          await pool.end();
        }
        // Renamed only once complete: a run killed half-way leaves no half-migrated template behind.
        await c.query(`alter database ${name}_new rename to ${name}`);
      } finally {
        await c.query('select pg_advisory_unlock(4242)');
      }
    });
    return name;
  })();
  return template;
}

/**
 * A new database on the test server holding the migrations (`empty`: nothing at all; `template`: a copy
 * of that database, which nobody may be connected to): its URL, and a function that drops it.
 */
export async function createTestDatabase(server = TEST_DATABASE_URL, opts: { empty?: boolean; template?: string } = {}): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  if (!server) throw new Error('CELLBATCH_TEST_DATABASE_URL is not set (npm run test:pg sets it)');
  const source = opts.template ?? (opts.empty ? 'template0' : await migratedTemplate(server));
  const name = `cellbatch_test_${randomBytes(6).toString('hex')}`;
  await admin(server, (c) => c.query(`create database ${name} template ${source}`));
  return {
    url: withDatabase(server, name), name,
    drop: () => admin(server, (c) => c.query(`drop database if exists ${name} with (force)`)).then(() => undefined),
  };
}
