// The OpenAPI 3.1 description (GET /openapi.json, /docs, `npm run openapi`): generated from the
// routes' zod schemas by @fastify/swagger and fastify-type-provider-zod. Reusable schemas are the
// ones registered with an id (schemas/responses.ts); what no operation references is left out, so
// the components list only what a client meets.
import type { FastifyInstance } from 'fastify';
import swagger, { type FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { API_DESCRIPTION } from './openapi-description.js';

export const TAGS = [
  { name: 'health', description: 'Liveness of the service (no authentication)' },
  { name: 'auth', description: 'Log in and out, the current user, own password (21 CFR 11.300)' },
  { name: 'users', description: 'Accounts, administered by `admin`: never deleted, deactivated with a reason' },
  { name: 'processes', description: 'Process definitions (master batch records) offered for new batches' },
  { name: 'materials', description: 'Material lots: registration and status (quarantine, release by QA)' },
  { name: 'equipment', description: 'Equipment and its calibration' },
  { name: 'batches', description: 'Batch records: start, steps, verifications, corrections, termination, deviations' },
  { name: 'deviations', description: 'Deviations through their lifecycle: opened, investigated, reclassified, closed (qa)' },
  { name: 'qa', description: "QA's review by exception, disposition, certificate of analysis, containers; each user's pending work" },
  { name: 'records', description: "A batch's record for regulators: the JSON export and the PDF/A-3b executed batch record" },
  { name: 'audit', description: 'The audit trail, chain verification and account reviews (qa, inspector, admin)' },
  { name: 'training', description: 'Training mode only: the simulated clock' },
];

type Doc = Record<string, any>;

/** Drops components.schemas no operation reaches (the library publishes each registered schema for input and output). */
export function pruneUnusedSchemas(doc: Doc): Doc {
  const schemas: Doc = doc.components?.schemas ?? {};
  const used = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/')) {
        const name = v.slice('#/components/schemas/'.length);
        if (!used.has(name)) { used.add(name); visit(schemas[name]); }
      } else visit(v);
    }
  };
  visit(doc.paths);
  return { ...doc, components: { ...doc.components, schemas: Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(name)).sort(([a], [b]) => a.localeCompare(b))) } };
}

/**
 * A request-side component keeps its own name (Signature, not SignatureInput): the library suffixes the
 * input form of every registered schema, which only matters where a response uses the same id.
 */
export function unsuffixInputs(doc: Doc): Doc {
  const schemas: Doc = doc.components?.schemas ?? {};
  const renamed = new Map(Object.keys(schemas).filter((n) => n.endsWith('Input') && !(n.slice(0, -5) in schemas)).map((n) => [n, n.slice(0, -5)]));
  if (!renamed.size) return doc;
  const rewrite = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (!node || typeof node !== 'object') return node;
    return Object.fromEntries(Object.entries(node).map(([k, v]) => {
      if (k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/')) {
        const name = v.slice('#/components/schemas/'.length);
        return [k, `#/components/schemas/${renamed.get(name) ?? name}`];
      }
      return [k, rewrite(v)];
    }));
  };
  const out = rewrite(doc) as Doc;
  out.components.schemas = Object.fromEntries(Object.entries(out.components.schemas as Doc).map(([n, v]) => [renamed.get(n) ?? n, v]).sort(([a], [b]) => a.localeCompare(b)));
  return out;
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options']);

/**
 * The statuses no operation lists one by one — 500 (a fault of ours, logged; nothing a client sends
 * causes it) and 503 (a write while the record is being verified or disagrees with its last signed
 * checkpoint, or while the clock reads earlier than the record; and on the two lists served only from
 * read-model rows while an upgraded database's rows are filled after start) — are declared once, as every
 * operation's `default` response: a problem+json like every other error.
 */
export function withDefaultError(doc: Doc): Doc {
  const paths = Object.fromEntries(Object.entries(doc.paths ?? {}).map(([url, item]) => [url, Object.fromEntries(Object.entries(item as Doc).map(([method, op]) =>
    [method, METHODS.has(method) && op && typeof op === 'object' ? { ...op, responses: { ...(op as Doc).responses, default: { $ref: '#/components/responses/Error' } } } : op]))]));
  const Error = {
    description: 'Any other error: 500 internal-error (logged; nothing a client sends causes it); 503 on writes: record-verifying (Retry-After), record-tail-altered, clock-went-back; 503 read-model-filling (Retry-After) on GET /deviations and GET /me/pending while the lists of an upgraded database are rebuilt after start',
    content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
  };
  return { ...doc, paths, components: { ...doc.components, responses: { ...doc.components?.responses, Error } } };
}

export const swaggerOptions: FastifyDynamicSwaggerOptions = {
  openapi: {
    openapi: '3.1.0',
    info: {
      title: 'cellbatch',
      version: '1.0.0',
      description: API_DESCRIPTION,
      contact: { name: 'cellbatch maintainers', url: 'https://cellbatch.org' },
      license: { name: 'Apache 2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: '/', description: 'This server (every API path is under /api/v1)' }],
    tags: TAGS,
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'The token from POST /api/v1/auth/login' } } },
    security: [{ bearer: [] }],
  },
  transform: jsonSchemaTransform,
  transformObject: (documentObject) => unsuffixInputs(pruneUnusedSchemas(withDefaultError(jsonSchemaTransformObject(documentObject) as Doc))) as ReturnType<typeof jsonSchemaTransformObject>,
};

export async function registerOpenApi(app: FastifyInstance) {
  await app.register(swagger, swaggerOptions);
}
