// Replies go out through their zod response schemas (server/plugins/replies.ts), written by a
// serializer compiled from each: a reply that drifts from its description (a declared field missing,
// a value that cannot be written as its type) is a 500 that leaks nothing, never a client error;
// strict replies (the tests) also check every value through zod and refuse a field the schema does
// not declare, while the service drops it.
import Fastify from 'fastify';
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import problem from '../../../server/plugins/problem.js';
import { parsesAsItEncodes, replySerializerCompiler } from '../../../server/plugins/replies.js';
import { BatchPage, BatchSchema, errors, json, ProcessSchema } from '../../../schemas/responses.js';
import { call, harness, type Harness } from '../../helpers.js';

const Thing = z.object({ id: z.string(), count: z.number().int() });

async function tiny(strict: boolean, body: unknown) {
  const logged: unknown[] = [];
  const app = Fastify({ logger: { level: 'error', stream: { write: (line: string) => logged.push(JSON.parse(line)) } } }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(replySerializerCompiler({ strict }));
  await app.register(problem);
  app.get('/thing', { schema: { response: { 200: json(Thing, 'A thing'), ...errors(404) } } }, async () => body as never);
  app.get('/missing', { schema: { response: { 200: json(Thing, 'A thing'), ...errors(404) } } }, async (_req, reply) => reply.code(404).type('application/problem+json').send({ type: 't', title: 'Not found', status: 404, detail: 'none', secret: 'x' } as never));
  const res = await app.inject({ method: 'GET', url: '/thing' });
  const missing = await app.inject({ method: 'GET', url: '/missing' });
  await app.close();
  return { res, missing, logged };
}

describe('a reply is shaped by its response schema', () => {
  it('sends a reply that fits its schema as it is', async () => {
    const { res } = await tiny(true, { id: 'a', count: 2 });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id: 'a', count: 2 });
  });

  it('answers 500 problem+json, naming nothing internal, when a reply misses a declared field or has the wrong type', async () => {
    for (const body of [{ id: 'a' }, { id: 'a', count: 'two' }]) {
      const { res, logged } = await tiny(false, body);
      expect(res.statusCode).toBe(500);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ status: 500, type: 'https://cellbatch.org/problems/internal-error' });
      expect(res.json().detail).toMatch(/may have been recorded/);
      expect(res.body).not.toMatch(/count|schema/);
      expect(JSON.stringify(logged)).toMatch(/count/); // the operator's log says what drifted
    }
  });

  it('refuses (500) a field the schema does not declare with strict replies, and drops it without', async () => {
    const strict = await tiny(true, { id: 'a', count: 2, extra: true });
    expect(strict.res.statusCode).toBe(500);
    expect(JSON.stringify(strict.logged)).toMatch(/extra: not in the response schema/);
    const lenient = await tiny(false, { id: 'a', count: 2, extra: true });
    expect(lenient.res.statusCode).toBe(200);
    expect(lenient.res.json()).toEqual({ id: 'a', count: 2 });
  });

  it('serializes problem replies through the shared Problem schema (keys it does not declare are dropped)', async () => {
    const { missing } = await tiny(false, { id: 'a', count: 2 });
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(missing.json()).toEqual({ type: 't', title: 'Not found', status: 404, detail: 'none' });
  });
});

describe('how a reply is turned into JSON', () => {
  it('parses a reply whose schema runs both ways alike, and encodes one where something runs one way only', () => {
    // Parsing is cheaper than encoding; strict replies (every test) encode too and refuse a difference.
    for (const schema of [Thing, BatchPage, BatchSchema]) expect(parsesAsItEncodes(schema)).toBe(true);
    expect(parsesAsItEncodes(ProcessSchema), 'a definition fills its defaults when parsed').toBe(false);
    expect(parsesAsItEncodes(z.object({ a: z.string().default('x') }))).toBe(false);
    expect(parsesAsItEncodes(z.object({ a: z.array(z.string().transform((v) => v.length)) }))).toBe(false);
    expect(parsesAsItEncodes(z.union([z.null(), z.codec(z.string(), z.number(), { decode: Number, encode: String })]))).toBe(false);
    expect(parsesAsItEncodes(z.object({ a: z.string().pipe(z.string()) }))).toBe(false);
  });

  it('writes a reply with the serializer compiled from its schema, required fields first, and strict replies send those same bytes', async () => {
    const Pair = z.object({ note: z.string().optional(), id: z.string() });
    const bodies: string[] = [];
    for (const strict of [true, false]) {
      const app = Fastify().withTypeProvider<ZodTypeProvider>();
      app.setSerializerCompiler(replySerializerCompiler({ strict }));
      app.get('/pair', { schema: { response: { 200: json(Pair, 'A pair') } } }, async () => ({ note: 'n', id: 'p' }));
      bodies.push((await app.inject({ method: 'GET', url: '/pair' })).body);
      await app.close();
    }
    expect(bodies).toEqual(['{"id":"p","note":"n"}', '{"id":"p","note":"n"}']);
  });

  it('sends the same bytes either way for a plain schema, with and without strict replies', async () => {
    for (const strict of [true, false]) {
      const { res } = await tiny(strict, { id: 'a', count: 2 });
      expect(res.body).toBe(JSON.stringify(z.encode(Thing, { id: 'a', count: 2 })));
    }
  });
});

describe('the service replies through its schemas', () => {
  let h: Harness;
  beforeAll(async () => { h = await harness(); });
  afterAll(async () => h.close());

  it('runs the tests with strict replies', () => {
    expect(process.env.CELLBATCH_STRICT_REPLIES).toBe('1');
  });

  it('answers a refused request with a Problem that fits the schema it declares', async () => {
    const r = await call(h, 'op1', 'POST', '/batches', { processId: 'car-t' });
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(Object.keys(r.body).sort()).toEqual(['detail', 'errors', 'status', 'title', 'type']);
    expect(r.body.errors[0]).toEqual({ field: expect.any(String), message: expect.any(String) });
  });
});
