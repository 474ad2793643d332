// Login, logout, the current user and password change.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AppContext } from '../context.js';
import { LoginBody, PasswordBody } from '../../schemas/api.js';
import { changePassword, login, logout, userView } from '../services/accounts.js';
import { currentUser } from '../plugins/auth.js';

const routes: FastifyPluginAsyncZod<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.post('/auth/login', {
    config: { public: true, rateLimit: { max: 60, timeWindow: '1 minute' } },
    schema: { tags: ['auth'], summary: 'Log in; returns a bearer token', body: LoginBody },
  }, async (req) => login(ctx, req.body.username, req.body.password));

  app.post('/auth/logout', { config: { allowPasswordChange: true }, schema: { tags: ['auth'], summary: 'Log out (revokes the token)' } }, async (req, reply) => {
    logout(ctx, req.token!, currentUser(req));
    return reply.code(204).send();
  });

  app.get('/me', { schema: { tags: ['auth'], summary: 'The logged-in user' } }, async (req) => userView(currentUser(req)));

  app.post('/me/password', {
    config: { allowPasswordChange: true },
    schema: { tags: ['auth'], summary: 'Change my password (the token stays valid)', body: PasswordBody },
  }, async (req, reply) => {
    await changePassword(ctx, currentUser(req), req.body.currentPassword, req.body.newPassword);
    return reply.code(204).send();
  });
};
export default routes;
