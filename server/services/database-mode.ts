// A database is training or GMP for its whole life (21 CFR 11.10(e); ALCOA consistent): the mode is
// bound when the database is created and checked at every start, so that a GMP record can never take
// entries on a simulated clock, nor a training record pass for a GMP one.
import type { Clock } from '../clock.js';
import type { Store } from '../store/store.js';
import { writeAudit } from './audit.js';
import { storedOffset } from './training-clock.js';

export type DatabaseMode = 'training' | 'gmp';
const KEY = 'database.mode';

/** The mode a database already holds: its setting, else (a database older than the setting) what its record shows. */
export async function recordedMode(store: Store): Promise<DatabaseMode | undefined> {
  const stored = await store.getSetting(KEY);
  if (stored === 'training' || stored === 'gmp') return stored;
  const first = await store.firstEntryTraining();
  if (first !== undefined) return first ? 'training' : 'gmp';
  if (await storedOffset(store) !== 0) return 'training';
  return undefined;
}

/** Binds a new database to `training`, or refuses to open one bound to the other mode. */
export async function bindMode(store: Store, clock: Clock, training: boolean) {
  const wanted: DatabaseMode = training ? 'training' : 'gmp';
  const mode = await recordedMode(store);
  if (mode && mode !== wanted) {
    throw new Error(mode === 'gmp'
      ? `${store.location} is a GMP database: it cannot be started in training mode (unset CELLBATCH_TRAINING, or use a separate training database)`
      : `${store.location} is a training database: it can never become a GMP database (set CELLBATCH_TRAINING=1, or start GMP work on a new database)`);
  }
  if (await store.getSetting(KEY) === wanted) return;
  await store.transaction(async () => {
    await store.putSetting(KEY, wanted);
    await writeAudit(store, clock, { userId: null, action: 'database.mode-bound', entity: 'database', after: { mode: wanted } });
  });
}
