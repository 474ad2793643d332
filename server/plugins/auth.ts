// Authentication on every route but login, health and the API description (R5, 21 CFR 11.10(d)).
// Runs at onRequest, before the body is validated: 401 wins over 400 (API.md "Which error wins").
import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { forbidden, unauthorized } from '../errors.js';
import { sessionUser } from '../services/accounts.js';
import type { UserRow } from '../store/store.js';

declare module 'fastify' {
  interface FastifyRequest { user: UserRow | null; token: string | null }
  interface FastifyContextConfig { public?: boolean; allowPasswordChange?: boolean }
}

export function currentUser(request: FastifyRequest): UserRow {
  if (!request.user) throw unauthorized('log in first');
  return request.user;
}

export default fp<{ ctx: AppContext }>(async (app, { ctx }) => {
  app.decorateRequest('user', null);
  app.decorateRequest('token', null);
  app.addHook('onRequest', async (request) => {
    const config = request.routeOptions.config ?? {};
    const url = request.routeOptions.url;
    // Unknown routes fall through to 404; the interactive API docs (/docs) are public like /openapi.json.
    if (config.public || !url || url === '/docs' || url.startsWith('/docs/')) return;
    const header = request.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : null;
    if (!token) throw unauthorized('an Authorization: Bearer token is required; log in at POST /api/v1/auth/login');
    const user = sessionUser(ctx, token);
    request.user = user;
    request.token = token;
    // A temporary password must be changed before anything else (21 CFR 11.300).
    if (user.mustChangePassword && !config.allowPasswordChange) {
      throw forbidden('password-change-required', 'change your temporary password first: POST /api/v1/me/password');
    }
  });
});
