// A per-address share of the password work (issue 10; docs/security.md "limits"). Every route that
// checks a password — login, POST /me/password, and every route whose body carries a signature (found
// from its schema, so a signed route added later is covered from its first commit) — holds one of its
// client address's slots for its password work (a login or a signature gives it back once its password
// is checked, auth/password-slot.ts): a few at once per address, a bounded queue behind them, then
// 429 too-many-attempts with Retry-After. One address (an attacker, or a script gone wrong) can then
// hold no more than its share of the process's argon2 pool, and everybody else's signatures keep their
// latency. A count per time window would be met by a busy lab behind one address; a concurrency share
// is not (a signature is ~30 ms of argon2: four at once is over a hundred a second).
// The share bounds this process's own pool, so it lives in the process: with several app servers
// behind a load balancer, each bounds its own (docs/security.md).
import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import { KeyedPools } from '../auth/bounded-pool.js';
import { inPasswordSlot } from '../auth/password-slot.js';
import { tooManyRequests } from '../errors.js';

declare module 'fastify' {
  interface FastifyContextConfig { checksPassword?: boolean }
  interface FastifyRequest { passwordSlot: (() => void) | null }
}

/** Password checks one address may have running at once, and waiting behind them. */
export const PER_ADDRESS = { atOnce: 2, waiting: 30 } as const;

const hasSignature = (body: unknown) => !!(body as { shape?: { signature?: unknown } } | undefined)?.shape?.signature;

export default fp(async (app) => {
  const addresses = new KeyedPools(PER_ADDRESS.atOnce, PER_ADDRESS.waiting,
    (address) => tooManyRequests('too-many-attempts', `too many password checks from ${address} at once; try again in a moment`, 1));
  app.decorateRequest('passwordSlot', null);
  app.addHook('onRoute', (route) => {
    if (hasSignature(route.schema?.body)) route.config = { ...route.config, checksPassword: true };
  });
  // After authentication and validation: a refused or malformed request never takes a slot.
  // Callback style, so that the handler runs inside the slot's scope and a login or signature can give
  // the slot back once its password is checked (auth/password-slot.ts).
  app.addHook('preHandler', (request, reply, done) => {
    if (!request.routeOptions.config?.checksPassword) return done();
    addresses.acquire(request.ip).then((release) => {
      request.passwordSlot = release;
      // A client that went away while this request waited for its slot gets no response: onRequestAbort
      // has already run (with no slot to free) and onResponse may never run. The response's close does
      // (it comes after the finish too; releasing twice frees one slot), or at once if it is gone already.
      if (reply.raw.destroyed) release();
      else reply.raw.once('close', release);
      inPasswordSlot(release, done);
    }, done);
  });
  const release = async (request: FastifyRequest) => {
    request.passwordSlot?.();
    request.passwordSlot = null;
  };
  app.addHook('onResponse', release);
  app.addHook('onRequestAbort', release);
});
