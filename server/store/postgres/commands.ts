// The PostgreSQL commands of the command line (server/cli.ts):
//   cellbatch pg-setup --owner-url URL --app-role ROLE     migrations as the owner, then the app role's grants
//   cellbatch migrate-store --from FILE --to URL [--keys DIR]   move a SQLite record to PostgreSQL, verified
import fs from 'node:fs';
import path from 'node:path';
import { createPool, migratePostgres, redactUrl } from './database.js';
import { grantAppRole } from './roles.js';
import { migrateStore } from './migrate-store.js';
import { publicKeysIn, readMark } from '../checkpoints.js';

type Result = { code: number; lines: string[] };
const opt = (argv: string[], name: string) => (argv.indexOf(name) >= 0 ? argv[argv.indexOf(name) + 1] : undefined);

export const PG_USAGE = `  cellbatch pg-setup --owner-url URL [--app-role ROLE]   PostgreSQL: apply the migrations as the owner of the tables, grant the app role its rights (docs/deployment.md)
  cellbatch migrate-store --from FILE --to URL [--keys DIR]   move a SQLite record into an empty PostgreSQL database and verify every chain and checkpoint there`;

export async function pgSetup(argv: string[]): Promise<Result> {
  const url = opt(argv, '--owner-url');
  const role = opt(argv, '--app-role');
  if (!url) return { code: 2, lines: ['pg-setup needs --owner-url postgres://OWNER@HOST/DATABASE', PG_USAGE] };
  const pool = createPool(url, 1);
  try {
    await migratePostgres(pool, url);
    if (role) await grantAppRole(pool, role);
    return { code: 0, lines: [JSON.stringify({ migrated: redactUrl(url), ...(role && { appRole: role }) })] };
  } catch (e) {
    return { code: 1, lines: [JSON.stringify({ error: (e as Error).message })] };
  } finally {
    await pool.end();
  }
}

export async function migrateStoreCommand(argv: string[]): Promise<Result> {
  const from = opt(argv, '--from');
  const to = opt(argv, '--to');
  if (!from || !to) return { code: 2, lines: ['migrate-store needs --from FILE --to postgres://…', PG_USAGE] };
  if (!fs.existsSync(from)) return { code: 1, lines: [`${from}: no such database`] };
  const keyDir = opt(argv, '--keys') ?? process.env.CELLBATCH_KEY_DIR ?? path.join(path.dirname(path.resolve(from)), 'keys');
  try {
    const mark = readMark(path.join(keyDir, 'checkpoint-latest.json'));
    const report = await migrateStore(from, to, { mark, publicKeys: publicKeysIn(keyDir) });
    return { code: report.verification.valid ? 0 : 1, lines: [JSON.stringify(report)] };
  } catch (e) {
    return { code: 1, lines: [JSON.stringify({ error: (e as Error).message })] };
  }
}
