// One error handler: everything becomes application/problem+json {type, title, status, detail,
// errors?}. Client mistakes get their 4xx with the field and why; a 5xx never leaks its message.
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import fp from 'fastify-plugin';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError, TITLES, type FieldProblem } from '../errors.js';
import { ReplyDriftError } from './replies.js';
import { collectRoutes } from './allowed-methods.js';
import { localizedProblem, problemLanguage, validationMessageVi, vietnameseParticulars, type ProblemLanguage } from '../problem-texts.js';

export function sendProblem(reply: FastifyReply, status: number, code: string, detail: string, errors?: FieldProblem[]) {
  // Accept-Language: vi answers the title and the type's meaning in Vietnamese (server/problem-texts.ts).
  const lang = problemLanguage(reply.request);
  if (lang !== 'en') reply.header('content-language', lang);
  return reply.code(status).type('application/problem+json').send({
    type: `https://cellbatch.org/problems/${code}`,
    ...localizedProblem(lang, status, code, TITLES[status] ?? 'Error', detail),
    status,
    ...(errors && { errors }),
  });
}

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (headers over the limit: 431; a request
 * line or header that does not parse: 400; a request not received in time: 408) answer problem+json
 * like every other refusal. No route, no user: nothing to audit. (Fastify's default writes its own JSON.)
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Duplex) {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, detail] = err.code === 'HPE_HEADER_OVERFLOW'
    ? [431, 'header-fields-too-large', 'The request headers exceed the size the server accepts']
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'request-timeout', 'The request was not received in time']
      : [400, 'malformed-request', 'The request could not be parsed as HTTP'];
  const body = JSON.stringify({
    type: `https://cellbatch.org/problems/${code}`, title: TITLES[status] ?? 'Error', status, detail,
    ...(status === 400 && { errors: [{ field: 'request', message: detail }] }),
  });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/problem+json\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}

/** A key that is one segment of a dotted path as it stands (errors[].field; plugins/text-input.ts too). */
export const PATH_SEGMENT = /^[^.[\]/\s]+$/;

interface ZodIssueLike { instancePath: string; message: string; keyword: string; params?: { keys?: string[] } }

/** The value sent at an issue's path (body, querystring or params), for the Vietnamese "received …". */
function sentAt(request: FastifyRequest, context: string | undefined, segments: string[]): unknown {
  const root = context === 'querystring' ? request.query : context === 'params' ? request.params : context === 'headers' ? request.headers : request.body;
  return segments.reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), root);
}

function fieldErrors(request: FastifyRequest, lang: ProblemLanguage, context: string | undefined, issues: ZodIssueLike[]): FieldProblem[] {
  const prefix = context === 'body' || !context ? '' : `${context}.`;
  return issues.flatMap((i) => {
    const segments = i.instancePath.replace(/^\//, '').split('/').filter(Boolean);
    const path = segments.join('.');
    if (i.keyword === 'unrecognized_keys' && i.params?.keys) {
      const message = lang === 'vi' ? 'trường không được nhận dạng' : 'unknown field';
      // errors[].field is a dotted path (API.md): a key that cannot be one segment of it (empty, or holding
      // a dot, a bracket, a slash or a space: `?user[x]=1`, `{"a.b": 1}`) is named in the message, on the
      // object that holds it, instead of making a path that names something else.
      const holder = `${prefix}${path}`.replace(/\.$/, '') || context || 'body';
      return i.params.keys.map((k) => (PATH_SEGMENT.test(k)
        ? { field: `${prefix}${path ? `${path}.` : ''}${k}`, message }
        : { field: holder, message: `${message} ${JSON.stringify(k)}` }));
    }
    const message = lang === 'vi' ? validationMessageVi(i, sentAt(request, context, segments)) : i.message;
    return [{ field: `${prefix}${path}` || context || 'body', message }];
  });
}

export interface Refusal { status: number; code: string; detail: string; errors?: FieldProblem[] }

export interface ProblemOptions {
  /** Called for every refused write by a logged-in user whose refusal is not audited yet (21 CFR 11.10(e)). */
  onRefusal?: (request: FastifyRequest, refusal: Refusal) => Promise<void>;
}

export default fp<ProblemOptions>(async (app, { onRefusal }) => {
  /** `shown`: the detail and errors as the reader's language words them (the audit keeps the English). */
  const refuse = async (request: FastifyRequest, reply: FastifyReply, r: Refusal, audited = false, shown?: { detail: string; errors?: FieldProblem[] }) => {
    if (!audited && onRefusal && request.user && request.method !== 'GET' && request.method !== 'HEAD') {
      try {
        await onRefusal(request, r);
      } catch (e) {
        request.log.error({ err: e }, 'could not audit a refused attempt');
      }
    }
    return sendProblem(reply, r.status, r.code, shown?.detail ?? r.detail, shown?.errors ?? r.errors);
  };
  app.setErrorHandler(async (err: FastifyError & { validationContext?: string }, request, reply) => {
    // A refusal raised below the query builder (the PostgreSQL store refusing text it cannot store) comes wrapped.
    const cause = (err as { cause?: unknown }).cause;
    if (!(err instanceof AppError) && cause instanceof AppError) err = cause as unknown as typeof err;
    if (err instanceof AppError && err.retryAfter) reply.header('retry-after', String(err.retryAfter));
    if (err instanceof AppError) {
      const refusal = { status: err.status, code: err.code, detail: err.detail, errors: err.errors ?? (err.status === 400 ? [] : undefined) };
      return refuse(request, reply, refusal, err.audited, problemLanguage(request) === 'vi' ? vietnameseParticulars(err) : undefined);
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const issues = err.validation as unknown as ZodIssueLike[];
      const listed = (errors: FieldProblem[]) => errors.map((e) => `${e.field}: ${e.message}`).join('; ');
      const errors = fieldErrors(request, 'en', err.validationContext, issues);
      const refusal = { status: 400, code: 'invalid-input', detail: `The request ${err.validationContext ?? 'body'} is not valid: ${listed(errors)}`, errors };
      if (problemLanguage(request) === 'en') return refuse(request, reply, refusal);
      const shownErrors = fieldErrors(request, 'vi', err.validationContext, issues);
      return refuse(request, reply, refusal, false, { detail: listed(shownErrors), errors: shownErrors });
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const errors = status === 400 ? [{ field: 'body', message: err.message }] : undefined;
      return refuse(request, reply, { status, code: String(err.code ?? 'bad-request').toLowerCase(), detail: err.message, errors });
    }
    request.log.error({ err, url: request.url, method: request.method }, 'unhandled error');
    // A reply that does not fit its schema is formed after the command ran: what was recorded stands.
    if (err instanceof ReplyDriftError) return sendProblem(reply, 500, 'internal-error', 'The server could not form its reply; the request may have been recorded (read it back before repeating it). The incident is logged.');
    return sendProblem(reply, 500, 'internal-error', 'The server could not complete the request; nothing was recorded. The incident is logged.');
  });
  const allowed = collectRoutes(app);
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0];
    const methods = allowed(path);
    // A route that does serve this method and still ended here had a path parameter longer than the
    // router takes (maxParamLength, 100 characters, the longest id): no id that long exists, so the
    // answer is API.md's 404 for an unknown id, not a 405 that names the method the client sent.
    if (methods.includes(request.method)) return sendProblem(reply, 404, 'not-found', `${path} names nothing: no id is longer than 100 characters`);
    if (methods.length > 0) {
      return sendProblem(reply.header('allow', methods.join(', ')), 405, 'method-not-allowed', `${path} does not answer ${request.method}; it answers ${methods.join(', ')}`);
    }
    return sendProblem(reply, 404, 'not-found', `no route ${request.method} ${path}`);
  });
});
