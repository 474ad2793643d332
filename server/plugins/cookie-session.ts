// Browser sessions (21 CFR 11.10(d)): the login token also travels in an httpOnly, SameSite=Strict
// cookie, and a request authenticated by that cookie must prove it came from our own page with a CSRF
// token (@fastify/csrf-protection, cookie mode: the secret sits in an httpOnly cookie, the token is
// handed out in the login body and comes back in the x-csrf-token header). API clients keep using
// Authorization: Bearer, which a browser never sends on its own, so they need no CSRF token.
// Registered by the auth plugin (server/plugins/auth.ts), which decides which requests are checked.
// The CSRF token is bound to its session (csrf's userInfo: a hash of the session token), so that a token
// obtained for one session (cookie tossing from a sibling subdomain, a token read before a re-login) is
// refused with another. The HMAC key lives in memory: after a restart the page asks GET /auth/csrf again.
import { createHash, randomBytes } from 'node:crypto';
import fp from 'fastify-plugin';
import cookie from '@fastify/cookie';
import csrfProtection from '@fastify/csrf-protection';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { forbidden } from '../errors.js';

export const SESSION_COOKIE = 'cellbatch_session';
/** Holds the CSRF secret (httpOnly); the token derived from it is what the page sends back. */
export const CSRF_COOKIE = 'cellbatch_csrf';
export const CSRF_HEADER = 'x-csrf-token';

declare module 'fastify' {
  interface FastifyInstance { secureCookies: boolean }
}

const BASE = { path: '/', sameSite: 'strict', httpOnly: true } as const;
/**
 * Cookies are Secure whenever the request came over https: the socket's own TLS, or X-Forwarded-Proto
 * from a proxy that trustProxy (CELLBATCH_TRUST_PROXY) believes; always with CELLBATCH_SECURE_COOKIES=1.
 */
const cookieOptions = (request: FastifyRequest) => ({ ...BASE, secure: request.server.secureCookies || request.protocol === 'https' });

/** What a CSRF token is bound to: the session it was issued for (a hash, never the token itself). */
const sessionBinding = (sessionToken: string | null | undefined) => createHash('sha256').update(`csrf:${sessionToken ?? ''}`).digest('base64url');

const headerToken = (request: FastifyRequest): string | undefined => {
  const v = request.headers[CSRF_HEADER];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
};

/** Methods that change nothing and so need no CSRF token. */
export const isSafeMethod = (method: string) => method === 'GET' || method === 'HEAD' || method === 'OPTIONS';

/** The session token from the cookie, if the request carries one. */
export const cookieToken = (request: FastifyRequest): string | null => request.cookies[SESSION_COOKIE] || null;

/**
 * After a successful login: sets the session cookie and a fresh CSRF secret, and returns the CSRF
 * token for the response body. A CSRF secret left from an earlier session is never reused.
 */
export function startCookieSession(request: FastifyRequest, reply: FastifyReply, token: string): string {
  const options = cookieOptions(request);
  reply.setCookie(SESSION_COOKIE, token, options);
  // generateCsrf reuses the secret the request brought; forget it so that every login gets a new one.
  delete request.cookies[CSRF_COOKIE];
  return reply.generateCsrf({ ...options, userInfo: sessionBinding(token) });
}

/** A CSRF token for the secret the browser already holds (or a new secret), e.g. after a page reload. */
export const csrfToken = (request: FastifyRequest, reply: FastifyReply): string =>
  reply.generateCsrf({ ...cookieOptions(request), userInfo: sessionBinding(cookieToken(request)) });

/** Logout: tells the browser to drop both cookies (same Path as when they were set). */
export function endCookieSession(request: FastifyRequest, reply: FastifyReply) {
  const options = cookieOptions(request);
  reply.clearCookie(SESSION_COOKIE, options);
  reply.clearCookie(CSRF_COOKIE, options);
}

/**
 * Throws 403 problem+json unless the request carries a valid CSRF token in x-csrf-token:
 * 'csrf-token-missing' (no header, or no secret cookie) or 'csrf-token-invalid'.
 * Verification is the library's own `csrfProtection` hook; it reports failure by `reply.send(error)`,
 * which we catch on a stand-in reply so the refusal gets our problem codes rather than FST_CSRF_*.
 */
export function assertCsrf(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply): void {
  if (!headerToken(request)) {
    throw forbidden('csrf-token-missing', `a request authenticated by the session cookie must carry the CSRF token from login in the ${CSRF_HEADER} header`);
  }
  let passed = false;
  let failure: { code?: string } | undefined;
  const probe: FastifyReply = Object.create(reply, {
    send: { value: (err: { code?: string }) => { failure = err; return probe; } },
  });
  app.csrfProtection(request, probe, () => { passed = true; });
  if (passed) return;
  if (failure?.code === 'FST_CSRF_MISSING_SECRET') {
    throw forbidden('csrf-token-missing', 'the CSRF cookie is missing; log in again');
  }
  throw forbidden('csrf-token-invalid', `the ${CSRF_HEADER} header does not match this browser session's CSRF token`);
}

export default fp<{ secureCookies?: boolean }>(async (app, opts) => {
  app.decorate('secureCookies', !!opts.secureCookies);
  // Cookie parsing runs at onRequest, so it must come before the authentication hook.
  await app.register(cookie);
  await app.register(csrfProtection, {
    cookieKey: CSRF_COOKIE,
    cookieOpts: BASE,
    getToken: headerToken,
    getUserInfo: (request) => sessionBinding(cookieToken(request)),
    csrfOpts: { hmacKey: randomBytes(32) },
  });
}, { name: 'cellbatch-cookie-session' });
