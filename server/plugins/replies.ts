// Every reply body goes out through its route's zod response schema (schemas/responses.ts): the
// schema that documents a reply in GET /openapi.json is the one that shapes it. A reply that does
// not fit its schema is a defect of the server, never of the client: a 500 whose detail leaks
// nothing (server/plugins/problem.ts), logged with the issues.
//
// Strict replies (CELLBATCH_STRICT_REPLIES=1, set for the tests in vitest.config.ts) also refuse a
// field the schema would drop, so that a view and its description cannot drift apart unnoticed.
// In service a field the schema does not know is dropped instead: clients see only what is described.
import type { FastifySerializerCompiler } from 'fastify/types/schema.js';
import { z } from 'zod';

export class ReplyDriftError extends Error {
  readonly statusCode = 500;
  readonly code = 'FST_ERR_RESPONSE_SERIALIZATION';

  constructor(readonly route: string, readonly issues: { path: string; message: string }[]) {
    super(`the reply of ${route} does not match its schema: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`);
  }
}

function zodSchemaOf(schema: unknown): z.ZodType {
  if (schema instanceof z.ZodType) return schema;
  const inner = (schema as { properties?: unknown } | null)?.properties;
  if (inner instanceof z.ZodType) return inner;
  throw new Error(`a response schema must be a zod schema: ${JSON.stringify(schema)}`);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

/** Paths of the fields present in `sent` that the encoded reply lost. */
export function droppedFields(sent: unknown, encoded: unknown, path = ''): string[] {
  if (Array.isArray(sent) && Array.isArray(encoded)) return sent.flatMap((v, i) => droppedFields(v, encoded[i], `${path}[${i}]`));
  if (!isPlainObject(sent) || !isPlainObject(encoded)) return [];
  return Object.entries(sent).flatMap(([k, v]) => {
    if (v === undefined) return [];
    const at = path ? `${path}.${k}` : k;
    return k in encoded ? droppedFields(v, encoded[k], at) : [at];
  });
}

export function replySerializerCompiler(opts: { strict: boolean }): FastifySerializerCompiler<unknown> {
  return ({ schema, method, url, httpStatus }) => {
    const zodSchema = zodSchemaOf(schema);
    const route = `${method} ${url} ${httpStatus}`;
    return (data) => {
      const r = z.safeEncode(zodSchema, data);
      if (!r.success) throw new ReplyDriftError(route, r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })));
      if (opts.strict) {
        const dropped = droppedFields(data, r.data);
        if (dropped.length) throw new ReplyDriftError(route, dropped.map((path) => ({ path, message: 'not in the response schema' })));
      }
      return JSON.stringify(r.data);
    };
  };
}
