// One password check at a time per account (21 CFR 11.300(d)). The lockout state lives in the
// database, but a check awaits argon2 between reading it and counting the outcome: two checks of the
// same account in flight could each read "4 failures, not locked" and a right password could pass
// after the fifth wrong one. Serialising the read-check-count per username (case-insensitive, as
// usernames are unique) makes every check see the outcome of the one before it. The queue is bounded:
// a flood naming one account is answered 429 rather than held in memory (docs/security.md).
import { tooManyRequests } from '../errors.js';

export class PerUserQueue {
  private readonly queues = new Map<string, { tail: Promise<unknown>; size: number }>();

  /** `maxWaiting`: checks of one account allowed to queue behind the one running. */
  constructor(private readonly maxWaiting: number) {}

  run<T>(username: string, fn: () => Promise<T>): Promise<T> {
    const key = username.toLowerCase();
    const q = this.queues.get(key) ?? { tail: Promise.resolve(), size: 0 };
    if (q.size > this.maxWaiting) {
      return Promise.reject(tooManyRequests('too-many-attempts', `too many password checks for ${username} at once; try again in a moment`, 1));
    }
    q.size++;
    this.queues.set(key, q);
    const result = q.tail.then(fn, fn);
    q.tail = result.then(() => undefined, () => undefined).finally(() => {
      if (--q.size === 0 && this.queues.get(key) === q) this.queues.delete(key);
    });
    return result;
  }

  /** Accounts with a check running or waiting (the map never outgrows what is in flight). */
  get inFlight() {
    return this.queues.size;
  }
}
