// Training mode only: move the simulated clock. In GMP mode the route does not exist (404).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AppContext } from '../context.js';
import { ClockBody } from '../../schemas/api.js';
import { ClockReply, errors, json } from '../../schemas/responses.js';
import { currentUser } from '../plugins/auth.js';
import { moveTrainingClock } from '../services/training-clock.js';

const routes: FastifyPluginAsyncZod<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.post('/training/clock', {
    schema: {
      tags: ['training'], operationId: 'moveTrainingClock', summary: 'Advance or set the simulated clock (admin, supervisor); {advanceHours: 0} reads it', description: 'Training mode only: a server in GMP mode answers 404.', body: ClockBody,
      response: { 200: json(ClockReply, 'The simulated now after the move'), ...errors(400, 401, 403, 404, 409, 415) },
    },
  }, async (req) => moveTrainingClock(ctx, currentUser(req), req.body));
};
export default routes;
