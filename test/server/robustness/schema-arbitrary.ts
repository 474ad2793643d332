// A small JSON-schema → fast-check converter for the request schemas the server publishes in
// GET /openapi.json: object (properties, required, additionalProperties, propertyNames), string
// (minLength, maxLength, pattern, enum, format date-time / date), number / integer (minimum,
// maximum, exclusive bounds), boolean, null, array (items, minItems, maxItems), const, enum, anyOf,
// oneOf, allOf (merged), type lists and local $ref. Unknown or empty schemas give any JSON value.
//
// `hints` lets a caller bias a named property towards values that reach deeper into the server (real
// usernames, ids, DINs): a hint is mixed in with the schema's own values, never replaces them.
import fc from 'fast-check';

export type JsonSchema = Record<string, any>;
export type Hints = Record<string, fc.Arbitrary<unknown> | undefined>;

export interface ConvertOptions {
  /** The OpenAPI document, for `#/...` references. */
  root?: JsonSchema;
  /** Arbitraries by property name, mixed in with the schema's own (`hintWeight` : 1, default 3 : 1). */
  hints?: Hints;
  hintWeight?: number;
  /** How many characters past minLength a generated string may run when maxLength is large. */
  stringSlack?: number;
  /** Extra keys an object with open additionalProperties may get. */
  maxExtraKeys?: number;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

function resolve(schema: JsonSchema, root: JsonSchema | undefined): JsonSchema {
  let s = schema;
  for (let i = 0; i < 20 && s && typeof s.$ref === 'string'; i++) {
    const ref: string = s.$ref;
    if (!ref.startsWith('#/') || !root) return {};
    s = ref.slice(2).split('/').reduce<any>((node, part) => node?.[part.replace(/~1/g, '/').replace(/~0/g, '~')], root) ?? {};
  }
  return s ?? {};
}

/** allOf: properties and required merged, other keywords from the first schema that has them. */
function mergeAllOf(schema: JsonSchema, root: JsonSchema | undefined): JsonSchema {
  const parts = (schema.allOf as JsonSchema[]).map((p) => resolve(p, root));
  const merged: JsonSchema = { ...schema };
  delete merged.allOf;
  for (const p of parts) {
    for (const [k, v] of Object.entries(p)) {
      if (k === 'properties') merged.properties = { ...(merged.properties ?? {}), ...v };
      else if (k === 'required') merged.required = [...new Set([...(merged.required ?? []), ...v])];
      else if (!(k in merged)) merged[k] = v;
    }
  }
  return merged;
}

function stringArb(s: JsonSchema, slack: number): fc.Arbitrary<string> {
  const min = typeof s.minLength === 'number' ? s.minLength : 0;
  const max = typeof s.maxLength === 'number' ? s.maxLength : min + slack;
  if (s.format === 'date-time') {
    return fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString());
  }
  if (s.format === 'date') {
    return fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
  }
  if (typeof s.pattern === 'string') {
    try {
      const matching = fc.stringMatching(new RegExp(s.pattern), { size: 'small' });
      // A pattern is a hint, not a promise: plain strings of the right length come along too.
      return fc.oneof({ arbitrary: matching, weight: 3 }, { arbitrary: fc.string({ minLength: min, maxLength: Math.min(max, min + slack) }), weight: 1 });
    } catch {
      // a pattern fast-check cannot read: just strings
    }
  }
  const constraints = { minLength: min, maxLength: Math.max(min, Math.min(max, min + slack)) };
  // Mostly readable text; now and then any code point, lone surrogates included.
  return fc.oneof({ arbitrary: fc.string(constraints), weight: 3 }, { arbitrary: fc.string({ ...constraints, unit: 'grapheme' }), weight: 1 }, { arbitrary: fc.string({ ...constraints, unit: 'binary' }), weight: 1 });
}

function numberArb(s: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const exclusiveMin = typeof s.exclusiveMinimum === 'number' ? s.exclusiveMinimum : undefined;
  const exclusiveMax = typeof s.exclusiveMaximum === 'number' ? s.exclusiveMaximum : undefined;
  const min: number | undefined = typeof s.minimum === 'number' ? s.minimum : exclusiveMin;
  const max: number | undefined = typeof s.maximum === 'number' ? s.maximum : exclusiveMax;
  if (integer) {
    const lo = Math.max(INT32_MIN, Math.ceil(min ?? INT32_MIN) + (exclusiveMin !== undefined && s.minimum === undefined && Number.isInteger(exclusiveMin) ? 1 : 0));
    const hi = Math.min(INT32_MAX, Math.floor(max ?? INT32_MAX) - (exclusiveMax !== undefined && s.maximum === undefined && Number.isInteger(exclusiveMax) ? 1 : 0));
    return lo <= hi ? fc.integer({ min: lo, max: hi }) : fc.constant(lo);
  }
  return fc.double({
    min: min ?? -1e12, max: max ?? 1e12, noNaN: true, noDefaultInfinity: true,
    minExcluded: exclusiveMin !== undefined && s.minimum === undefined, maxExcluded: exclusiveMax !== undefined && s.maximum === undefined,
  }).map((x) => (Object.is(x, -0) ? 0 : x));
}

/** An arbitrary of values that (mostly) satisfy `schema`. */
export function arbitraryFromSchema(schema: JsonSchema | boolean | undefined, opts: ConvertOptions = {}, name?: string): fc.Arbitrary<unknown> {
  const own = schemaOnly(schema, opts);
  const hint = name !== undefined ? opts.hints?.[name] : undefined;
  return hint ? fc.oneof({ arbitrary: hint, weight: opts.hintWeight ?? 3 }, { arbitrary: own, weight: 1 }) : own;
}

function schemaOnly(raw: JsonSchema | boolean | undefined, opts: ConvertOptions): fc.Arbitrary<unknown> {
  if (raw === false) return fc.constant(undefined);
  if (raw === undefined || raw === true) return fc.jsonValue({ maxDepth: 2 });
  let s = resolve(raw, opts.root);
  if (Array.isArray(s.allOf)) s = mergeAllOf(s, opts.root);
  const slack = opts.stringSlack ?? 24;
  if ('const' in s) return fc.constant(s.const);
  if (Array.isArray(s.enum) && s.enum.length > 0) return fc.constantFrom(...(s.enum as unknown[]));
  const alternatives = (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined;
  if (Array.isArray(alternatives) && alternatives.length > 0) {
    const rest = { ...s };
    delete rest.anyOf;
    delete rest.oneOf;
    return fc.oneof(...alternatives.map((a) => schemaOnly({ ...rest, ...resolve(a, opts.root) }, opts)));
  }
  if (Array.isArray(s.type)) {
    const types = s.type as string[];
    if (types.length === 0) return fc.jsonValue({ maxDepth: 2 });
    return fc.oneof(...types.map((t) => schemaOnly({ ...s, type: t }, opts)));
  }
  const type: string | undefined = s.type ?? (s.properties ? 'object' : s.items ? 'array' : undefined);
  switch (type) {
    case 'string': return stringArb(s, slack);
    case 'integer': return numberArb(s, true);
    case 'number': return numberArb(s, false);
    case 'boolean': return fc.boolean();
    case 'null': return fc.constant(null);
    case 'array': {
      const minItems = typeof s.minItems === 'number' ? s.minItems : 0;
      const maxItems = Math.min(typeof s.maxItems === 'number' ? s.maxItems : minItems + 5, minItems + 5);
      return fc.array(schemaOnly(s.items ?? true, opts), { minLength: minItems, maxLength: Math.max(minItems, maxItems) });
    }
    case 'object': {
      const properties: Record<string, JsonSchema> = s.properties ?? {};
      const required = new Set<string>(Array.isArray(s.required) ? s.required : []);
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, v] of Object.entries(properties)) model[k] = arbitraryFromSchema(v, opts, k);
      const known = fc.record(model, { requiredKeys: Object.keys(model).filter((k) => required.has(k)) });
      const additional = s.additionalProperties;
      if (additional === false || (additional === undefined && Object.keys(properties).length > 0)) return known;
      const keyArb = s.propertyNames ? (schemaOnly(s.propertyNames, opts) as fc.Arbitrary<string>).filter((k) => typeof k === 'string') : fc.string({ maxLength: 16 });
      const extra = fc.dictionary(keyArb.filter((k) => !(k in properties) && k !== '__proto__'), schemaOnly(additional ?? true, opts), { maxKeys: opts.maxExtraKeys ?? 4 });
      return fc.tuple(known, extra).map(([a, b]) => ({ ...b, ...a }));
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** Every top-level property name of an object schema, and whether it is required (for the fuzzer's mutations). */
export function objectShape(raw: JsonSchema | undefined, root?: JsonSchema): { properties: Record<string, JsonSchema>; required: string[] } | undefined {
  if (!raw) return undefined;
  let s = resolve(raw, root);
  if (Array.isArray(s.allOf)) s = mergeAllOf(s, root);
  if (s.type !== 'object' && !s.properties) return undefined;
  return { properties: s.properties ?? {}, required: Array.isArray(s.required) ? s.required : [] };
}
