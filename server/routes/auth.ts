// Login, logout, the current user and password change.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AppContext } from '../context.js';
import { LoginBody, PasswordBody } from '../../schemas/api.js';
import { CsrfReply, errors, json, LoginReply, noContent, UserSchema } from '../../schemas/responses.js';
import { changePassword, login, logout, userView } from '../services/accounts.js';
import { currentUser } from '../plugins/auth.js';
import { CSRF_COOKIE, csrfToken, endCookieSession, SESSION_COOKIE, startCookieSession } from '../plugins/cookie-session.js';

const routes: FastifyPluginAsyncZod<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.post('/auth/login', {
    config: { public: true, checksPassword: true, rateLimit: { max: 60, timeWindow: '1 minute' } },
    schema: {
      tags: ['auth'],
      operationId: 'login',
      summary: 'Log in; returns a bearer token',
      security: [],
      description: 'Also sets the httpOnly session cookie for the browser and returns `csrfToken`, which a cookie-authenticated request that changes anything must send in the `x-csrf-token` header.',
      body: LoginBody,
      response: { 200: json(LoginReply, 'The session: a bearer token and the user'), ...errors(400, 401, 415, 423, 429) },
    },
  }, async (req, reply) => {
    const session = await login(ctx, req.body.username, req.body.password);
    return { ...session, csrfToken: startCookieSession(req, reply, session.token) };
  });

  app.post('/auth/logout', { config: { allowPasswordChange: true }, schema: { tags: ['auth'], operationId: 'logout', summary: 'Log out (revokes the token, clears the session cookie)', response: { 204: noContent('Logged out'), ...errors(401, 403) } } }, async (req, reply) => {
    await logout(ctx, req.token!, currentUser(req));
    // The browser drops its cookies; an API client that never had them gets the same reply as before.
    if (req.cookies[SESSION_COOKIE] !== undefined || req.cookies[CSRF_COOKIE] !== undefined) endCookieSession(req, reply);
    return reply.code(204).send();
  });

  app.get('/auth/csrf', {
    config: { allowPasswordChange: true },
    schema: { tags: ['auth'], operationId: 'getCsrfToken', summary: 'A CSRF token for the browser session (e.g. after a page reload)', response: { 200: json(CsrfReply, 'A fresh CSRF token'), ...errors(401) } },
  }, async (req, reply) => {
    currentUser(req);
    return { csrfToken: csrfToken(req, reply) };
  });

  app.get('/me', { schema: { tags: ['auth'], operationId: 'getMe', summary: 'The logged-in user', response: { 200: json(UserSchema, 'The user of the session'), ...errors(401, 403) } } }, async (req) => userView(currentUser(req)));

  app.post('/me/password', {
    // Each call checks the current password (argon2) and counts toward lockout: limited per address like login.
    config: { allowPasswordChange: true, checksPassword: true, rateLimit: { max: 30, timeWindow: '1 minute' } },
    schema: { tags: ['auth'], operationId: 'changeMyPassword', summary: 'Change my password (this token stays valid; the other sessions end)', body: PasswordBody, response: { 204: noContent('Password changed'), ...errors(400, 401, 403, 415, 423, 429) } },
  }, async (req, reply) => {
    await changePassword(ctx, currentUser(req), req.body.currentPassword, req.body.newPassword, req.token!);
    return reply.code(204).send();
  });
};
export default routes;
