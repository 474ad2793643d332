// Accounts (admin): create, list, change roles or deactivate (never delete), unlock.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AppContext } from '../context.js';
import { CreateUserBody, IdParams, PageQuery, PatchUserBody, ReasonBody, ResetPasswordBody } from '../../schemas/api.js';
import { createUser, resetPassword, unlockUser, updateUser, userView } from '../services/accounts.js';
import { currentUser } from '../plugins/auth.js';
import { assertMay } from '../permissions.js';

const routes: FastifyPluginAsyncZod<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.post('/users', { schema: { tags: ['users'], summary: 'Create a user (admin); the password is temporary', body: CreateUserBody } }, async (req, reply) => {
    const actor = currentUser(req);
    assertMay(actor, 'users.manage', 'creating users');
    return reply.code(201).send(await createUser(ctx, actor, req.body));
  });
  app.get('/users', { schema: { tags: ['users'], summary: 'List users', querystring: PageQuery } }, async (req) => {
    assertMay(currentUser(req), 'users.read');
    const page = ctx.store.listUsers(req.query.limit, req.query.cursor);
    return { items: page.items.map(userView), ...(page.nextCursor && { nextCursor: page.nextCursor }) };
  });
  app.patch('/users/:id', { schema: { tags: ['users'], summary: 'Change roles or deactivate a user (admin), with a reason', params: IdParams, body: PatchUserBody } }, async (req) => {
    return updateUser(ctx, currentUser(req), req.params.id, req.body);
  });
  app.post('/users/:id/unlock', { schema: { tags: ['users'], summary: 'Unlock a locked account (admin), with a reason', params: IdParams, body: ReasonBody } }, async (req) => {
    return unlockUser(ctx, currentUser(req), req.params.id, req.body.reason);
  });
  app.post('/users/:id/password', { schema: { tags: ['users'], summary: 'Reset a password (admin), with a reason: the user must change it at next login', params: IdParams, body: ResetPasswordBody } }, async (req) =>
    resetPassword(ctx, currentUser(req), req.params.id, req.body.password, req.body.reason));
};
export default routes;
