// Authentication on every route but login, health and the API description (R5, 21 CFR 11.10(d)).
// Runs at onRequest, before the body is validated: 401 wins over 400 (API.md "Which error wins").
// Two ways in: `Authorization: Bearer <token>` for API clients, exactly as before, or the httpOnly
// session cookie set at login for the browser. A cookie-authenticated request that changes anything
// (not GET/HEAD/OPTIONS) must also carry the CSRF token (403 csrf-token-missing / csrf-token-invalid);
// an Authorization header, when present, is the only credential looked at.
import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { forbidden, unauthorized } from '../errors.js';
import { sessionUser } from '../services/accounts.js';
import type { UserRow } from '../store/store.js';
import cookieSession, { assertCsrf, cookieToken, isSafeMethod } from './cookie-session.js';

declare module 'fastify' {
  interface FastifyRequest { user: UserRow | null; token: string | null; authVia: 'bearer' | 'cookie' | null }
  interface FastifyContextConfig { public?: boolean; allowPasswordChange?: boolean }
}

export function currentUser(request: FastifyRequest): UserRow {
  if (!request.user) throw unauthorized('log in first');
  return request.user;
}

export default fp<{ ctx: AppContext; secureCookies?: boolean }>(async (app, { ctx, secureCookies }) => {
  // Cookie parsing and the CSRF machinery first: their onRequest hook must run before ours.
  await app.register(cookieSession, { secureCookies });
  app.decorateRequest('user', null);
  app.decorateRequest('token', null);
  app.decorateRequest('authVia', null);
  app.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config ?? {};
    const url = request.routeOptions.url;
    // Unknown routes fall through to 404; the interactive API docs (/docs) are public like /openapi.json.
    if (config.public || !url || url === '/docs' || url.startsWith('/docs/')) return;
    const header = request.headers.authorization;
    let token: string | null;
    let via: 'bearer' | 'cookie';
    if (header !== undefined) {
      // The scheme is case-insensitive (RFC 9110 §11.1): `bearer`, `BEARER` and `Bearer` alike.
      const scheme = /^bearer[ \t]+/i.exec(header);
      token = scheme ? header.slice(scheme[0].length).trim() : null;
      via = 'bearer';
    } else {
      token = cookieToken(request);
      via = 'cookie';
    }
    if (!token) throw unauthorized('an Authorization: Bearer token is required; log in at POST /api/v1/auth/login');
    const user = await sessionUser(ctx, token);
    // A browser sends the cookie on its own, so a change needs proof that our page asked for it.
    if (via === 'cookie' && !isSafeMethod(request.method)) assertCsrf(app, request, reply);
    request.user = user;
    request.token = token;
    request.authVia = via;
    // A temporary password must be changed before anything else (21 CFR 11.300).
    if (user.mustChangePassword && !config.allowPasswordChange) {
      throw forbidden('password-change-required', 'change your temporary password first: POST /api/v1/me/password');
    }
  });
});
