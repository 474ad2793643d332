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

const LEAVES = new Set(['string', 'number', 'boolean', 'bigint', 'null', 'undefined', 'void', 'literal', 'enum', 'unknown', 'any', 'date', 'never', 'nan', 'template_literal']);

/**
 * Whether parsing a value through the schema gives exactly what encoding it gives: nothing in it runs
 * one way only (a codec, transform, pipe, default, prefault or catch) — only shapes, types and checks.
 * Unknown kinds of schema answer no.
 */
export function parsesAsItEncodes(schema: z.ZodType, seen = new Set<z.ZodType>()): boolean {
  if (seen.has(schema)) return true; // a recursive schema, already being looked at
  seen.add(schema);
  const def = schema._zod.def as unknown as Record<string, unknown> & { type: string };
  const all = (schemas: unknown[]) => schemas.every((x) => x === undefined || parsesAsItEncodes(x as z.ZodType, seen));
  switch (def.type) {
    case 'object': return all([...Object.values(def.shape as Record<string, unknown>), def.catchall]);
    case 'array': return all([def.element]);
    case 'optional': case 'nullable': case 'readonly': case 'nonoptional': return all([def.innerType]);
    case 'union': return all(def.options as unknown[]);
    case 'record': return all([def.keyType, def.valueType]);
    case 'tuple': return all([...(def.items as unknown[]), def.rest]);
    case 'intersection': return all([def.left, def.right]);
    case 'lazy': return all([(def.getter as () => unknown)()]);
    default: return LEAVES.has(def.type);
  }
}

export function replySerializerCompiler(opts: { strict: boolean }): FastifySerializerCompiler<unknown> {
  return ({ schema, method, url, httpStatus }) => {
    const zodSchema = zodSchemaOf(schema);
    const route = `${method} ${url} ${httpStatus}`;
    // zod's parse costs about two thirds of its encode (the 238 KiB page of GET /batches, with
    // JSON.stringify: 2.9 against 4.3 ms of CPU, docs/performance.md); where both give the same, the
    // reply is parsed. Strict replies (the
    // tests) encode as well and refuse any difference, so every reply of the suite proves them equal.
    const parse = parsesAsItEncodes(zodSchema);
    return (data) => {
      const r = parse ? zodSchema.safeParse(data) : z.safeEncode(zodSchema, data);
      if (!r.success) throw new ReplyDriftError(route, r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })));
      const json = JSON.stringify(r.data);
      if (opts.strict) {
        const dropped = droppedFields(data, r.data);
        if (dropped.length) throw new ReplyDriftError(route, dropped.map((path) => ({ path, message: 'not in the response schema' })));
        if (parse) {
          const encoded = z.safeEncode(zodSchema, data);
          if (!encoded.success || JSON.stringify(encoded.data) !== json) throw new ReplyDriftError(route, [{ path: '', message: 'parsing and encoding the reply differ' }]);
        }
      }
      return json;
    };
  };
}
