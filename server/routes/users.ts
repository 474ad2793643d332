// Accounts (admin): create, list, change roles or deactivate (never delete), unlock.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AppContext } from '../context.js';
import { CreateUserBody, IdParams, PageQuery, PatchUserBody, ReasonBody, ResetPasswordBody } from '../../schemas/api.js';
import { errors, json, UserPage, UserSchema } from '../../schemas/responses.js';
import { createUser, resetPassword, unlockUser, updateUser, userView } from '../services/accounts.js';
import { currentUser } from '../plugins/auth.js';
import { assertMay } from '../permissions.js';

const routes: FastifyPluginAsyncZod<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.post('/users', { schema: { tags: ['users'], operationId: 'createUser', summary: 'Create a user (admin); the password is temporary', body: CreateUserBody, response: { 201: json(UserSchema, 'The user created'), ...errors(400, 401, 403, 409, 415, 429) } } }, async (req, reply) => {
    const actor = currentUser(req);
    assertMay(actor, 'users.manage', 'creating users');
    return reply.code(201).send(await createUser(ctx, actor, req.body));
  });
  app.get('/users', { schema: { tags: ['users'], operationId: 'listUsers', summary: 'List users (admin, qa, inspector)', querystring: PageQuery, response: { 200: json(UserPage, 'A page of users'), ...errors(400, 401, 403) } } }, async (req) => {
    assertMay(currentUser(req), 'users.read');
    const page = await ctx.store.listUsers(req.query.limit, req.query.cursor);
    return { items: page.items.map(userView), ...(page.nextCursor && { nextCursor: page.nextCursor }) };
  });
  app.patch('/users/:id', { schema: { tags: ['users'], operationId: 'updateUser', summary: 'Change roles or deactivate a user (admin), with a reason', params: IdParams, body: PatchUserBody, response: { 200: json(UserSchema, 'The user after the change'), ...errors(400, 401, 403, 404, 409, 415) } } }, async (req) => {
    return updateUser(ctx, currentUser(req), req.params.id, req.body);
  });
  app.post('/users/:id/unlock', { schema: { tags: ['users'], operationId: 'unlockUser', summary: 'Unlock a locked account (admin), with a reason', params: IdParams, body: ReasonBody, response: { 200: json(UserSchema, 'The user, unlocked'), ...errors(400, 401, 403, 404, 415) } } }, async (req) => {
    return unlockUser(ctx, currentUser(req), req.params.id, req.body.reason);
  });
  app.post('/users/:id/password', { schema: { tags: ['users'], operationId: 'resetPassword', summary: 'Reset a password (admin), with a reason: the user must change it at next login', params: IdParams, body: ResetPasswordBody, response: { 200: json(UserSchema, 'The user, with a temporary password'), ...errors(400, 401, 403, 404, 415, 429) } } }, async (req) =>
    resetPassword(ctx, currentUser(req), req.params.id, req.body.password, req.body.reason));
};
export default routes;
