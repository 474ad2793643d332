// Password hashing: argon2id at OWASP's recommended parameters (19 MiB, 2 passes, 1 lane).
import argon2 from 'argon2';
import { AppError, tooManyRequests } from '../errors.js';
import { BoundedPool } from './bounded-pool.js';

const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/**
 * The bounded pool of argon2 work (issue 10): at most one hash more than the thread pool has threads
 * handed to it at once, and at most MAX_WAITING waiting; beyond that 429 server-busy with Retry-After.
 * A flood of password checks (unknown signer names cost a full hash, by design: no timing oracle) then
 * answers quickly instead of queueing without bound and pushing every other signature's latency up.
 */
const MAX_WAITING = 64;
/**
 * One pool per process, sized on the libuv thread pool argon2 runs on (server/node.env), plus one: that
 * one waits in libuv's own queue (holding no memory: a hash allocates its 19 MiB when it starts), so a
 * thread that finishes a hash starts the next at once, instead of idling until the main thread, busy
 * with a write, gets round to handing it the next one. Without it the two threads idled ~10 % of the
 * time under 20 signing terminals (docs/performance.md). Other thread-pool work (file reads) waits at
 * most one hash more.
 */
export const argon2Pool = new BoundedPool((Number(process.env.UV_THREADPOOL_SIZE) || 4) + 1, MAX_WAITING,
  () => tooManyRequests('server-busy', 'too many password checks are waiting; try again in a moment', 1));

export const hashPassword = (password: string) => argon2Pool.run(() => argon2.hash(password, OPTIONS));

let dummy: Promise<string> | undefined;
/**
 * A hash of nothing anyone knows: an unknown username is checked against it, at a real argon2 cost.
 * Made once; a refusal (a full pool: 429) is not kept, else every unknown username would be 429 for ever.
 */
export const dummyHash = () => (dummy ??= hashPassword(`no-such-user-${Math.random()}`).catch((e: unknown) => {
  dummy = undefined;
  throw e;
}));

/** False for a wrong password or an unreadable hash; a full pool is 429 (thrown). */
export async function checkPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2Pool.run(() => argon2.verify(hash, password));
  } catch (e) {
    if (e instanceof AppError) throw e;
    return false;
  }
}

const graphemes = new Intl.Segmenter('en', { granularity: 'grapheme' });
/** Characters as a reader counts them (grapheme clusters), up to `enough`: six emoji are 12 UTF-16 units but 6 characters. */
function charactersUpTo(text: string, enough: number): number {
  let n = 0;
  for (const _ of graphemes.segment(text)) if (++n >= enough) break;
  return n;
}

/** 21 CFR 11.300 password policy; returns what is wrong, in words, or null. */
export function passwordProblem(password: string, username: string): string | null {
  // "At least 12 characters" (API.md) counts characters, not UTF-16 units: '😀'.repeat(6) passed as 12.
  if (charactersUpTo(password, 12) < 12) return 'the password must be at least 12 characters long';
  if (password.length > 256) return 'the password must be at most 256 characters long';
  if (password.toLowerCase() === username.toLowerCase()) return 'the password must not be the username';
  return null;
}
