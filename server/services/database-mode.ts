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
export function recordedMode(store: Store): DatabaseMode | undefined {
  const stored = store.getSetting(KEY);
  if (stored === 'training' || stored === 'gmp') return stored;
  const first = store.sqlite.prepare('select training from entries order by seq limit 1').pluck().get() as number | undefined;
  if (first !== undefined) return first ? 'training' : 'gmp';
  if (storedOffset(store) !== 0) return 'training';
  return undefined;
}

/** Binds a new database to `training`, or refuses to open one bound to the other mode. */
export function bindMode(store: Store, clock: Clock, training: boolean) {
  const wanted: DatabaseMode = training ? 'training' : 'gmp';
  const mode = recordedMode(store);
  if (mode && mode !== wanted) {
    throw new Error(mode === 'gmp'
      ? `${store.file} is a GMP database: it cannot be started in training mode (unset CELLBATCH_TRAINING, or use a separate training database)`
      : `${store.file} is a training database: it can never become a GMP database (set CELLBATCH_TRAINING=1, or start GMP work on a new database)`);
  }
  if (store.getSetting(KEY) === wanted) return;
  store.transaction(() => {
    store.putSetting(KEY, wanted);
    writeAudit(store, clock, { userId: null, action: 'database.mode-bound', entity: 'database', after: { mode: wanted } });
  });
}
