// One mechanism bounds every kind of password work (issue 10, docs/security.md): a pool that runs at
// most `size` jobs at once, queues at most `maxWaiting` in arrival order, and refuses the rest at
// once (429 with Retry-After) instead of holding them in memory. Three bounds are made of it:
// - the argon2 work of the whole process (auth/passwords.ts: one more at once than the thread pool has threads);
// - each account, one check at a time (21 CFR 11.300(d): the lockout cannot be raced; services/accounts.ts);
// - each client address, a small share of the first (plugins/password-limits.ts), so that one address
//   cannot fill the process's queue and make everybody else wait for a 429.
import type { AppError } from '../errors.js';

export class BoundedPool {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  /** `refuse`: the error a job beyond the bound is rejected with (a 429 with Retry-After). */
  constructor(readonly size: number, readonly maxWaiting: number, private readonly refuse: () => AppError) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await work();
    } finally {
      release();
    }
  }

  /**
   * A slot, held until the returned function is called (once: a second call frees nothing). Rejects
   * with the refusal when the queue is full. Every promise made here is returned to the caller, so a
   * refusal always reaches someone who awaits it (no unhandled rejection).
   */
  async acquire(): Promise<() => void> {
    if (this.running >= this.size) {
      if (this.waiting.length >= this.maxWaiting) throw this.refuse();
      await new Promise<void>((resolve) => this.waiting.push(resolve)); // the slot is handed over, see below
    } else {
      this.running++;
    }
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    };
  }

  get load() {
    return { running: this.running, waiting: this.waiting.length };
  }

  get idle() {
    return this.running === 0 && this.waiting.length === 0;
  }
}

/** A BoundedPool per key (an account, an address), made when first needed and dropped when idle. */
export class KeyedPools {
  private readonly pools = new Map<string, BoundedPool>();

  constructor(readonly size: number, readonly maxWaiting: number, private readonly refuse: (key: string) => AppError) {}

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const release = await this.acquire(key);
    try {
      return await work();
    } finally {
      release();
    }
  }

  /** A slot of `key`'s pool, held until the returned function is called (for work that spans a request's hooks). */
  async acquire(key: string): Promise<() => void> {
    let pool = this.pools.get(key);
    if (!pool) this.pools.set(key, (pool = new BoundedPool(this.size, this.maxWaiting, () => this.refuse(key))));
    const dropIfIdle = (p: BoundedPool) => {
      if (p.idle && this.pools.get(key) === p) this.pools.delete(key);
    };
    let release: () => void;
    try {
      release = await pool.acquire();
    } catch (e) {
      dropIfIdle(pool);
      throw e;
    }
    return () => {
      release();
      dropIfIdle(pool);
    };
  }

  /** Keys with work running or waiting (the map never outgrows what is in flight). */
  get inFlight() {
    return this.pools.size;
  }
}
