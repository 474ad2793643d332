// Every reply body goes out through its route's zod response schema (schemas/responses.ts): the
// schema that documents a reply in GET /openapi.json is the one that shapes it.
//
// Where parsing and encoding through the schema give the same (no transform, codec or default in it:
// every reply but a master record's), the reply is written by a serializer compiled from the schema's
// JSON Schema (fast-json-stringify, fastify's own): it writes the described fields, required ones
// first, and nothing else, so clients see only what is described. It does not check values again at
// run time: the views are typed by the schemas (their TypeScript types are the schemas' output
// types), and the strict replies below check every reply of the test suite. It writes a signed step's
// 5.9 KB reply in about half the time of zod's parse and JSON.stringify (issue 12 item 7;
// docs/design-decisions.md). Elsewhere the reply is encoded by zod. A reply that does not fit its
// schema is a 500 whose detail leaks nothing (server/plugins/problem.ts), logged with what drifted.
//
// Strict replies (CELLBATCH_STRICT_REPLIES=1, set for the tests in vitest.config.ts) parse every reply
// through zod too, refuse a field the schema would drop (so that a view and its description cannot
// drift apart unnoticed), refuse any difference between zod's JSON and the compiled serializer's, and
// send the compiled serializer's bytes: every reply of the suite proves the two agree, and the tests
// receive what a client in service does.
import { isDeepStrictEqual } from 'node:util';
import fastJson from 'fast-json-stringify';
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

const compiledOnce = new WeakMap<z.ZodType, ((data: unknown) => string) | null>();

/**
 * A serializer compiled from the schema's JSON Schema (its output side), or undefined where the
 * schema has no faithful JSON Schema (then zod writes the reply). Compiled when a reply first needs
 * it and kept per schema (routes share their error schemas): compiling all ~470 at start-up would
 * cost ~0.5 s.
 */
export function compiledSerializer(schema: z.ZodType): ((data: unknown) => string) | undefined {
  let compiled = compiledOnce.get(schema);
  if (compiled === undefined) {
    try {
      const json = z.toJSONSchema(schema, { io: 'output', target: 'draft-7', unrepresentable: 'throw', cycles: 'ref', reused: 'inline' });
      compiled = fastJson(json as Parameters<typeof fastJson>[0]) as (data: unknown) => string;
    } catch {
      compiled = null;
    }
    compiledOnce.set(schema, compiled);
  }
  return compiled ?? undefined;
}

export function replySerializerCompiler(opts: { strict: boolean }): FastifySerializerCompiler<unknown> {
  return ({ schema, method, url, httpStatus }) => {
    const zodSchema = zodSchemaOf(schema);
    const route = `${method} ${url} ${httpStatus}`;
    // Where parsing and encoding give the same, the compiled serializer writes the reply (zod's parse
    // where none compiles: it costs about two thirds of zod's encode, docs/performance.md).
    const parse = parsesAsItEncodes(zodSchema);
    const compiled = () => (parse ? compiledSerializer(zodSchema) : undefined);
    return (data) => {
      if (!opts.strict) {
        const write = compiled();
        if (write) {
          try {
            return write(data);
          } catch (e) { // a required field missing, or a value no JSON of its type can be made of
            const r = zodSchema.safeParse(data); // only to name what drifted, for the log
            throw new ReplyDriftError(route, r.success ? [{ path: '', message: (e as Error).message }] : r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })));
          }
        }
      }
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
        // The compiled serializer writes required fields before optional ones: the same JSON, another
        // key order. Its bytes are what the tests receive, as a client in service does.
        const write = compiled();
        if (write) {
          const written = write(data);
          if (!isDeepStrictEqual(JSON.parse(written), JSON.parse(json))) throw new ReplyDriftError(route, [{ path: '', message: 'the compiled serializer and zod write the reply differently' }]);
          return written;
        }
      }
      return json;
    };
  };
}
