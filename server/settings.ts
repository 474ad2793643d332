// The server's settings, read from the environment and validated before anything starts. A value that
// cannot be read stops the start with a message naming the variable: a typo in CELLBATCH_IDLE_MINUTES
// must not quietly switch the idle timeout off (Number('15m') is NaN, and every comparison with NaN is
// false). README.md lists every setting; docs/deployment.md says how to set them for a server.
import fs from 'node:fs';
import path from 'node:path';

export interface Settings {
  /** The SQLite file; with `databaseUrl`, only where an earlier checkpoint log is looked for to import (`<dbFile>.checkpoints.jsonl`) and the default key folder beside it. */
  dbFile: string;
  /** CELLBATCH_DATABASE_URL: the record lives in PostgreSQL (postgres://…) instead of the SQLite file. */
  databaseUrl?: string;
  training: boolean;
  processesDir?: string;
  timeZone: string;
  /** CELLBATCH_PATIENT_ID_PATTERN (checked by the app at start). */
  patientIdPattern?: string;
  idleTimeoutMinutes: number;
  sessionMaxHours: number;
  passwordMaxAgeDays: number;
  keyDir?: string;
  /** Hours between full verifications of the record while the server runs (0: only at start and on demand). */
  verifyEveryHours: number;
  logger: boolean;
  port: number;
  /** Where to listen: loopback unless a site says otherwise (docs/deployment.md). */
  host: string;
  /** Fastify's trustProxy: which proxies' X-Forwarded-* headers to believe (client address, https). */
  trustProxy: boolean | string | number;
  /** Cookies always Secure (behind a TLS proxy whose X-Forwarded-Proto is not trusted, for instance). */
  secureCookies: boolean;
  tls?: { cert: string; key: string };
}

export class SettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`cellbatch cannot start; fix these settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

type Env = Record<string, string | undefined>;

/** Parses and checks every setting; throws SettingsError listing all problems at once. */
export function parseSettings(env: Env): Settings {
  const problems: string[] = [];
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw.trim()) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name}=${JSON.stringify(raw)}: must be a whole number from ${min} to ${max}`);
      return fallback;
    }
    return Number(raw);
  };
  const flag = (name: string, values: Record<string, boolean>, fallback: boolean): boolean => {
    values = { ...values, true: values[1], false: values[0] };
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!(raw in values)) {
      problems.push(`${name}=${JSON.stringify(raw)}: must be one of ${Object.keys(values).join(', ')}`);
      return fallback;
    }
    return values[raw];
  };
  const timeZone = env.CELLBATCH_TZ || 'UTC';
  try {
    new Intl.DateTimeFormat('en', { timeZone });
  } catch {
    problems.push(`CELLBATCH_TZ=${JSON.stringify(timeZone)}: not a time zone (an IANA name such as Europe/Paris or Asia/Ho_Chi_Minh)`);
  }
  const proxy = env.CELLBATCH_TRUST_PROXY;
  let trustProxy: Settings['trustProxy'] = false;
  if (proxy !== undefined && proxy !== '' && proxy !== '0' && proxy !== 'false') {
    // `true` trusts every hop (only behind a proxy that overwrites X-Forwarded-For); a number trusts that
    // many hops; otherwise addresses or CIDR ranges, comma-separated (Fastify's trustProxy).
    trustProxy = proxy === '1' || proxy === 'true' ? true : /^\d+$/.test(proxy) ? Number(proxy) : proxy;
    if (typeof trustProxy === 'string' && !/^[0-9a-fA-F.:/, ]+$/.test(trustProxy)) {
      problems.push(`CELLBATCH_TRUST_PROXY=${JSON.stringify(proxy)}: must be 1/true, a number of hops, or proxy addresses/CIDR ranges separated by commas`);
    }
  }
  const cert = env.CELLBATCH_TLS_CERT;
  const key = env.CELLBATCH_TLS_KEY;
  let tls: Settings['tls'];
  if (!!cert !== !!key) problems.push('CELLBATCH_TLS_CERT and CELLBATCH_TLS_KEY go together: set both (PEM files) or neither');
  else if (cert && key) {
    for (const [name, file] of [['CELLBATCH_TLS_CERT', cert], ['CELLBATCH_TLS_KEY', key]] as const) {
      if (!fs.existsSync(file)) problems.push(`${name}=${JSON.stringify(file)}: no such file`);
    }
    tls = { cert, key };
  }
  const databaseUrl = env.CELLBATCH_DATABASE_URL || undefined;
  if (databaseUrl !== undefined) {
    let ok = /^postgres(ql)?:\/\//i.test(databaseUrl);
    try {
      new URL(databaseUrl);
    } catch {
      ok = false;
    }
    // The value may hold a password: the message names the setting, never repeats it.
    if (!ok) problems.push('CELLBATCH_DATABASE_URL: must be a PostgreSQL URL, postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (unset it to keep the record in the SQLite file)');
  }
  const host = env.HOST || '127.0.0.1';
  if (/\s/.test(host)) problems.push(`HOST=${JSON.stringify(host)}: must be an address or host name (0.0.0.0 for every interface)`);
  const settings: Settings = {
    dbFile: env.CELLBATCH_DB || './data/cellbatch.db',
    databaseUrl,
    training: flag('CELLBATCH_TRAINING', { 1: true, 0: false }, false),
    processesDir: env.CELLBATCH_PROCESSES_DIR || undefined,
    timeZone,
    patientIdPattern: env.CELLBATCH_PATIENT_ID_PATTERN || undefined,
    idleTimeoutMinutes: int('CELLBATCH_IDLE_MINUTES', 15, 1, 24 * 60),
    sessionMaxHours: int('CELLBATCH_SESSION_HOURS', 12, 1, 7 * 24),
    passwordMaxAgeDays: int('CELLBATCH_PASSWORD_DAYS', 180, 0, 3650),
    keyDir: env.CELLBATCH_KEY_DIR || undefined,
    verifyEveryHours: int('CELLBATCH_VERIFY_EVERY_HOURS', 24, 0, 24 * 366),
    logger: flag('CELLBATCH_LOG', { 1: true, 0: false }, true),
    port: int('PORT', 3000, 0, 65535),
    host,
    trustProxy,
    secureCookies: flag('CELLBATCH_SECURE_COOKIES', { 1: true, 0: false }, false) || !!tls,
    tls,
  };
  if (problems.length) throw new SettingsError(problems);
  return settings;
}

/** True while the key folder is the database's folder or below it (start-up warns: docs/deployment.md). */
export function keyInsideDatabaseFolder(dbFile: string, keyDir: string): boolean {
  if (dbFile === ':memory:') return false;
  const rel = path.relative(path.dirname(path.resolve(dbFile)), path.resolve(keyDir));
  return !rel.startsWith('..') && !path.isAbsolute(rel);
}
