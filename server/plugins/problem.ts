// One error handler: everything becomes application/problem+json {type, title, status, detail,
// errors?}. Client mistakes get their 4xx with the field and why; a 5xx never leaks its message.
import fp from 'fastify-plugin';
import type { FastifyError, FastifyReply } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError, TITLES, type FieldProblem } from '../errors.js';

export function sendProblem(reply: FastifyReply, status: number, code: string, detail: string, errors?: FieldProblem[]) {
  return reply.code(status).type('application/problem+json').send({
    type: `https://cellbatch.org/problems/${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    ...(errors && { errors }),
  });
}

interface ZodIssueLike { instancePath: string; message: string; keyword: string; params?: { keys?: string[] } }

function fieldErrors(context: string | undefined, issues: ZodIssueLike[]): FieldProblem[] {
  const prefix = context === 'body' || !context ? '' : `${context}.`;
  return issues.flatMap((i) => {
    const path = i.instancePath.replace(/^\//, '').split('/').filter(Boolean).join('.');
    if (i.keyword === 'unrecognized_keys' && i.params?.keys) {
      return i.params.keys.map((k) => ({ field: `${prefix}${path ? `${path}.` : ''}${k}`, message: 'unknown field' }));
    }
    return [{ field: `${prefix}${path}` || context || 'body', message: i.message }];
  });
}

export default fp(async (app) => {
  app.setErrorHandler((err: FastifyError & { validationContext?: string }, request, reply) => {
    if (err instanceof AppError) return sendProblem(reply, err.status, err.code, err.detail, err.errors ?? (err.status === 400 ? [] : undefined));
    if (hasZodFastifySchemaValidationErrors(err)) {
      const errors = fieldErrors(err.validationContext, err.validation as unknown as ZodIssueLike[]);
      return sendProblem(reply, 400, 'invalid-input', `The request ${err.validationContext ?? 'body'} is not valid: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, errors);
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const errors = status === 400 ? [{ field: 'body', message: err.message }] : undefined;
      return sendProblem(reply, status, String(err.code ?? 'bad-request').toLowerCase(), err.message, errors);
    }
    request.log.error({ err, url: request.url, method: request.method }, 'unhandled error');
    return sendProblem(reply, 500, 'internal-error', 'The server could not complete the request; nothing was recorded. The incident is logged.');
  });
  app.setNotFoundHandler((request, reply) => sendProblem(reply, 404, 'not-found', `no route ${request.method} ${request.url.split('?')[0]}`));
});
