// The OpenAPI description is the contract (issue 9): every operation named, its success reply typed,
// every error it can answer declared as problem+json with the shared Problem schema; public operations
// need no token; the reusable schemas have stable names. And the router answers 405 with Allow for a
// known path asked with a method it does not serve.
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createBatch, harness, sign, type Harness } from '../../helpers.js';
import { EntryPayloads } from '../../../schemas/entries.js';
import { EXPORT_FORMAT } from '../../../schemas/export.js';
import { receiptValues } from '../refusals/support.js';

let h: Harness;
let doc: Record<string, any>;
beforeAll(async () => {
  h = await harness();
  doc = (await call(h, null, 'GET', '/openapi.json')).body;
});
afterAll(async () => h.close());

const operations = () => Object.entries(doc.paths as Record<string, Record<string, any>>)
  .flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, op })));

describe('every operation is described', () => {
  it('has a unique camelCase operationId, a summary and declared tags', () => {
    const ids = operations().map(({ op }) => op.operationId);
    expect(ids.every((id) => typeof id === 'string' && /^[a-z][a-zA-Z]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    const tags = new Set((doc.tags as { name: string; description: string }[]).map((t) => t.name));
    expect((doc.tags as { description: string }[]).every((t) => t.description.length > 0)).toBe(true);
    for (const { key, op } of operations()) {
      expect(op.summary, key).toBeTruthy();
      for (const t of op.tags) expect(tags.has(t), `${key}: tag ${t}`).toBe(true);
    }
  });

  it('declares its success status with a schema, or 204 without a body', () => {
    for (const { key, op } of operations()) {
      const ok = Object.keys(op.responses).filter((s) => s.startsWith('2'));
      expect(ok.length, key).toBe(1);
      const r = op.responses[ok[0]];
      expect(r.description, key).not.toBe('Default Response');
      if (ok[0] === '204') expect(r.content, key).toBeUndefined();
      else expect(Object.values(r.content ?? {}).every((c: any) => c.schema && Object.keys(c.schema).length > 0), key).toBe(true);
    }
  });

  it('declares its errors as application/problem+json with the shared Problem schema', () => {
    for (const { key, op } of operations()) {
      const public_ = Array.isArray(op.security) && op.security.length === 0;
      const errors = Object.keys(op.responses).filter((s) => /^[45]/.test(s));
      if (!public_) expect(errors, key).toEqual(expect.arrayContaining(['401']));
      for (const s of errors) expect(op.responses[s].content, `${key} ${s}`).toEqual({ 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } });
      // A body that can be wrong can be refused with 400.
      if (op.requestBody) expect(errors, key).toEqual(expect.arrayContaining(['400', '415']));
    }
  });

  it('marks exactly the public operations with security: []', () => {
    const public_ = operations().filter(({ op }) => Array.isArray(op.security) && op.security.length === 0).map(({ key }) => key).sort();
    expect(public_).toEqual(['GET /api/v1/site', 'GET /healthz', 'POST /api/v1/auth/login']);
    expect(doc.security).toEqual([{ bearer: [] }]);
  });

  it('names its reusable schemas and says who publishes it under which licence', () => {
    for (const name of ['Batch', 'BatchSummary', 'Entry', 'StoredSignature', 'Deviation', 'User', 'Lot', 'Equipment', 'Problem', 'BatchSummaryPage', 'UserPage', 'LotPage', 'EquipmentPage', 'DeviationPage', 'AuditItemPage']) {
      expect(doc.components.schemas[name], name).toBeDefined();
    }
    expect(doc.info.license).toEqual({ name: 'Apache 2.0', identifier: 'Apache-2.0' });
    expect(doc.info.contact.url).toMatch(/^https:/);
    expect(doc.servers.length).toBeGreaterThan(0);
  });

  it('gives the login and record-step bodies an example', async () => {
    const example = (key: string) => {
      const [method, path] = key.split(' ');
      return doc.paths[path][method.toLowerCase()].requestBody.content['application/json'].example;
    };
    expect(example('POST /api/v1/auth/login')).toEqual({ username: expect.any(String), password: expect.any(String) });
    expect(example('POST /api/v1/batches/{id}/steps/{stepId}')).toMatchObject({ signature: expect.any(Object), expectedVersion: expect.any(Number) });
  });
});

describe('the request side and the leftovers of issue 9', () => {
  const bodyOf = (op: any) => op.requestBody?.content?.['application/json']?.schema;

  it('gives every signed request one Signature component, whose meaning each route still checks', async () => {
    const signed = operations().filter(({ op }) => bodyOf(op)?.properties?.signature);
    expect(signed.length).toBeGreaterThanOrEqual(10);
    for (const { key, op } of signed) expect(bodyOf(op).properties.signature, key).toEqual({ $ref: '#/components/schemas/Signature' });
    expect(doc.components.schemas.Signature).toMatchObject({ type: 'object', required: ['username', 'password'], additionalProperties: false });
    expect(doc.components.schemas.SignatureInput).toBeUndefined();
    const b = await createBatch(h, 'car-t', 7);
    const wrong = await call(h, 'op1', 'POST', `/batches/${b.id}/steps/apheresis-receipt`, { values: receiptValues(h, 7), signature: { ...sign('op1'), meaning: 'approved' }, expectedVersion: b.version });
    expect(wrong.status).toBe(400);
    expect(wrong.body.errors).toEqual([expect.objectContaining({ field: 'signature.meaning', message: 'the meaning of this signature is "performed"' })]);
  });

  it('declares Entry.kind as the enum of the entry kinds', () => {
    expect(doc.components.schemas.Entry.properties.kind.enum).toEqual(Object.keys(EntryPayloads));
  });

  it('gives create-batch an example that the server accepts as it stands', async () => {
    const examples = doc.paths['/api/v1/batches'].post.requestBody.content['application/json'].examples;
    const [example] = Object.values<any>(examples);
    const r = await call(h, 'op1', 'POST', '/batches', example.value);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  });

  it('declares the other errors (500, 503) once, as every operation\'s default problem+json response', () => {
    for (const { key, op } of operations()) expect(op.responses.default, key).toEqual({ $ref: '#/components/responses/Error' });
    expect(doc.components.responses.Error.content).toEqual({ 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } });
  });

  it('names the JSON export\'s schema (BatchRecordExport), the published format', () => {
    const op = doc.paths['/api/v1/batches/{id}/export'].get;
    expect(op.responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/BatchRecordExport' });
    const schema = doc.components.schemas.BatchRecordExport;
    expect(schema.properties.format.const).toBe(EXPORT_FORMAT);
    expect(schema.required).toEqual(expect.arrayContaining(['format', 'batch', 'entries', 'chains', 'checkpoints', 'publicKeys']));
  });
});

describe('405 for a known path asked with a method it does not serve', () => {
  it('answers 405 problem+json with Allow, and 404 for an unknown path', async () => {
    for (const [method, url, allow] of [
      ['DELETE', '/api/v1/batches/some-id', 'GET, HEAD'],
      ['PUT', '/api/v1/batches', 'GET, HEAD, POST'],
      ['GET', '/api/v1/users/u1/unlock', 'POST'],
      ['POST', '/healthz', 'GET, HEAD'],
    ] as const) {
      const r = await h.app.inject({ method, url, headers: { authorization: `Bearer ${h.tokens.qa1}` } });
      expect(r.statusCode, `${method} ${url}`).toBe(405);
      expect(r.headers.allow).toBe(allow);
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(r.json()).toMatchObject({ status: 405, title: 'Method not allowed', type: 'https://cellbatch.org/problems/method-not-allowed' });
    }
    const unknown = await h.app.inject({ method: 'DELETE', url: '/api/v1/nothing-here', headers: { authorization: `Bearer ${h.tokens.qa1}` } });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.headers.allow).toBeUndefined();
  });

  it('answers 404, not 405, for an id longer than any id on a path that serves the method (API.md: 404 unknown id)', async () => {
    const long = 'x'.repeat(500);
    for (const [method, url] of [['GET', `/api/v1/batches/${long}`], ['POST', `/api/v1/batches/${long}/steps/apheresis-receipt`], ['GET', `/api/v1/batches/${long}/record.pdf`], ['POST', `/api/v1/deviations/${long}/close`]] as const) {
      const r = await h.app.inject({ method, url, headers: { authorization: `Bearer ${h.tokens.qa1}` }, ...(method === 'POST' && { payload: {} }) });
      expect(r.statusCode, `${method} ${url.slice(0, 40)}`).toBe(404);
      expect(r.headers.allow).toBeUndefined();
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(r.json()).toMatchObject({ status: 404, type: 'https://cellbatch.org/problems/not-found' });
    }
    // Another method on that path is still 405.
    expect((await h.app.inject({ method: 'DELETE', url: `/api/v1/batches/${long}`, headers: { authorization: `Bearer ${h.tokens.qa1}` } })).statusCode).toBe(405);
  });

  it('answers 405 without a token too: the path and its methods are public in the description', async () => {
    const r = await h.app.inject({ method: 'DELETE', url: '/api/v1/batches/some-id' });
    expect(r.statusCode).toBe(405);
    expect(r.headers.allow).toBe('GET, HEAD');
  });
});

describe("refusals Node's HTTP parser makes before any route", () => {
  const raw = async (request: string) => {
    if (!h.app.server.listening) await h.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = h.app.server.address() as AddressInfo;
    return new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.end(request));
      let data = '';
      socket.on('data', (d) => { data += d; }).on('close', () => resolve(data)).on('error', reject);
    });
  };

  it('answers headers over the limit with 431 problem+json', async () => {
    const res = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(res).toMatch(/^HTTP\/1\.1 431 /);
    expect(res).toMatch(/Content-Type: application\/problem\+json/);
    expect(JSON.parse(res.slice(res.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 431, type: 'https://cellbatch.org/problems/header-fields-too-large' });
  });

  it('answers a malformed request line with 400 problem+json naming the request', async () => {
    const res = await raw('GET /healthz NOT-HTTP\r\n\r\n');
    expect(res).toMatch(/^HTTP\/1\.1 400 /);
    expect(res).toMatch(/Content-Type: application\/problem\+json/);
    expect(JSON.parse(res.slice(res.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 400, errors: [{ field: 'request', message: expect.any(String) }] });
  });
});
