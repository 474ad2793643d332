// What every service and command receives: the store, the one clock, the loaded processes, settings.
import type { Clock } from './clock.js';
import type { ProcessRegistry } from './processes/registry.js';
import type { Store } from './store/store.js';
import type { RecordCheck } from './services/record-check.js';
import type { Integrity } from './services/integrity.js';
import type { KeyedPools } from './auth/bounded-pool.js';
import type { ReadModelState } from './services/projection.js';

export interface Config {
  training: boolean;
  /** Idle session timeout, wall-clock minutes (Part 11: sessions end when left alone). */
  idleTimeoutMinutes: number;
  /** A session ends this many hours after login however active it is (absolute lifetime). */
  sessionMaxHours: number;
  /** Passwords expire after this many days (21 CFR 11.300(b)); 0 disables expiry. */
  passwordMaxAgeDays: number;
  /** The site's time zone: expiry and calibration dates are last valid days in it. */
  timeZone: string;
  /** The site's format of patient identifiers (medical record number or pseudonym), never a name: 21 CFR 1271.290(c). */
  patientIdPattern: RegExp;
}

export interface AppContext {
  store: Store;
  clock: Clock;
  processes: ProcessRegistry;
  config: Config;
  /** The key that signs the chain heads into the checkpoints table, its mark and the keys trusted (absent for an in-memory database). */
  integrity?: Integrity;
  /** The last full verification of the record (after start, on a schedule, at GET /audit/verify) and whether it takes writes. */
  recordCheck: RecordCheck;
  /** Password checks, one at a time per account (21 CFR 11.300(d): the lockout cannot be raced). */
  credentialQueue: KeyedPools;
  /** Whether the lists' read-model rows are all written (services/projection.ts: filled in the background after an upgrade). */
  readModel: ReadModelState;
}
