// PostgreSQL for the tests: CELLBATCH_TEST_DATABASE_URL names a server on which the tests may create
// databases (npm run test:pg starts one: scripts/pg-test-cluster.mjs). Each harness gets a database of
// its own, dropped when it closes.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

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

/** A new, empty database on the test server: its URL, and a function that drops it. */
export async function createTestDatabase(server = TEST_DATABASE_URL): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  if (!server) throw new Error('CELLBATCH_TEST_DATABASE_URL is not set (npm run test:pg sets it)');
  const name = `cellbatch_test_${randomBytes(6).toString('hex')}`;
  await admin(server, (c) => c.query(`create database ${name}`));
  return {
    url: withDatabase(server, name), name,
    drop: () => admin(server, (c) => c.query(`drop database if exists ${name} with (force)`)).then(() => undefined),
  };
}
