// What `npm run demo` may delete: only a database it made itself (issue 10). A file that is not a
// SQLite database, lacks the demo's mark, or holds a single batch or entry not marked TRAINING is a GMP
// record (or someone else's file) and is refused, whatever its name.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import { checkpointLogFile } from './services/integrity.js';

/** The settings row the demo writes into its own database. */
export const DEMO_MARK = 'demo.database';

/** The demo's own key folder, beside its database: it is thrown away with it. */
export const demoKeyDir = (dbFile: string) => `${dbFile}.keys`;

/** Why `file` must not be deleted, or null when it is a demo database (or absent). */
export function notADemoDatabase(file: string): string | null {
  if (!fs.existsSync(file)) return null;
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const mark = db.prepare('select value from settings where key = ?').get(DEMO_MARK) as { value: string } | undefined;
    if (mark?.value !== '1') return 'it was not made by the demo';
    const gmp = db.prepare('select (select count(*) from batches where training = 0) + (select count(*) from entries where training = 0) as n').get() as { n: number };
    if (gmp.n > 0) return `it holds ${gmp.n} batch(es) or entries that are not marked TRAINING`;
    return null;
  } catch (e) {
    return `it cannot be read as a cellbatch database (${(e as Error).message})`;
  } finally {
    db?.close();
  }
}

/** Deletes the demo database at `file` with its WAL, checkpoint log and key folder; refuses anything else. */
export function removeDemoDatabase(file: string) {
  const problem = notADemoDatabase(file);
  if (problem) {
    throw new Error(`npm run demo refuses to delete ${file}: ${problem}. The demo never touches a GMP record; set CELLBATCH_DEMO_DB to a file of its own.`);
  }
  for (const f of [file, `${file}-wal`, `${file}-shm`, checkpointLogFile(file)]) fs.rmSync(f, { force: true });
  fs.rmSync(demoKeyDir(file), { recursive: true, force: true });
}
