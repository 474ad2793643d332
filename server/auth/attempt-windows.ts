// The per-minute limits of login (60 per address) and POST /me/password (30) count their attempts in
// the database (issue 10; issue 15 item 3: "login rate limits live in the database"): with several app
// servers behind a load balancer an address gets the limit once, not once per server, as a count kept
// in each process's memory would give it. A @fastify/rate-limit store over Store.countAttempt; the
// plugin keeps its headers (x-ratelimit-*, Retry-After) and its 429.
import type { FastifyRateLimitOptions, FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { AppContext } from '../context.js';

/** The counters of one route (its URL is part of the key: each route has its own window per address). */
class AttemptWindows implements FastifyRateLimitStore {
  constructor(private readonly ctx: AppContext, private readonly route: string) {}

  incr(address: string, done: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number) {
    // Wall-clock time, as sessions and lockouts (a training clock's offset never shortens a window).
    const now = this.ctx.clock.wall();
    this.ctx.store.countAttempt(`${this.route} ${address}`, now.toISOString(), new Date(now.getTime() + timeWindow).toISOString())
      .then((w) => done(null, { current: w.hits, ttl: Math.max(0, Date.parse(w.windowEndsAt) - now.getTime()) }), (e: Error) => done(e));
  }

  child(routeOptions: Parameters<FastifyRateLimitStore['child']>[0]): FastifyRateLimitStore {
    // The plugin hands its merged route parameters, with the route itself under routeInfo.
    const route = (routeOptions as { routeInfo?: { url?: string } }).routeInfo?.url ?? routeOptions.url ?? this.route;
    return new AttemptWindows(this.ctx, route);
  }
}

/** The store class @fastify/rate-limit instantiates (it passes its options, which are not needed here). */
export function attemptWindows(ctx: AppContext): FastifyRateLimitStoreCtor {
  return class extends AttemptWindows {
    constructor(_options: FastifyRateLimitOptions) {
      super(ctx, '');
    }
  };
}
