// What every screen needs before anyone logs in: whether this is a training installation (the UI's
// permanent TRAINING banner) and the process clock's now (the simulated clock in training mode), which
// the terminal uses for "due" and "overdue" and for the "now" of a time field. No record is read.
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AppContext } from '../context.js';
import { json } from '../../schemas/responses.js';

export const SiteSchema = z.object({
  training: z.boolean().describe('Training mode: simulated clock, every record marked TRAINING'),
  now: z.string().describe("The process clock's now (ISO-8601 UTC): simulated in training mode"),
  timeZone: z.string().describe("The site's time zone (CELLBATCH_TZ): expiry and calibration dates are days there"),
}).meta({ id: 'Site' });

const routes: FastifyPluginAsyncZod<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.get('/site', {
    config: { public: true },
    schema: { tags: ['health'], operationId: 'getSite', summary: 'Training mode, process clock and time zone (no authentication)', security: [], response: { 200: json(SiteSchema, 'The site') } },
  }, async () => ({ training: ctx.config.training, now: ctx.clock.now().toISOString(), timeZone: ctx.config.timeZone }));
};
export default routes;
