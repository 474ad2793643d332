// GET /batches/{id} answers a strong ETag from its bytes, and If-None-Match naming it 304 with no body
// (RFC 9110 §13.1.2): the terminal's refresh every 20 s then carries no batch while nothing shown has
// changed. Any change to what is shown (a new entry, another language) is a new tag.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createBatch, harness, recordReceipt, type Harness } from '../helpers.js';

let h: Harness;
beforeAll(async () => { h = await harness(); });
afterAll(async () => { await h.close(); });

async function get(id: string, headers: Record<string, string> = {}, user = 'op1') {
  return h.app.inject({ method: 'GET', url: `/api/v1/batches/${id}`, headers: { authorization: `Bearer ${h.tokens[user]}`, ...headers } });
}

describe('GET /batches/{id} with an ETag', () => {
  it('answers 304 with no body while the tag sent is the current one, in any of the forms RFC 9110 allows', async () => {
    const b = await createBatch(h, 'car-t', 81);
    const first = await get(b.id);
    expect(first.statusCode).toBe(200);
    const tag = first.headers.etag as string;
    expect(tag).toMatch(/^"[A-Za-z0-9_-]{43}"$/);
    expect(first.headers.vary).toMatch(/accept-language/i);
    expect((await get(b.id)).headers.etag).toBe(tag);   // the same bytes, the same tag
    for (const sent of [tag, `W/${tag}`, `"other", ${tag}`, '*']) {
      const again = await get(b.id, { 'if-none-match': sent });
      expect(again.statusCode, sent).toBe(304);
      expect(again.body).toBe('');
      expect(again.headers.etag).toBe(tag);
      expect(again.headers['content-type']).toBeUndefined();
    }
    expect((await get(b.id, { 'if-none-match': '"not-this-one"' })).statusCode).toBe(200);
  });

  it('gives a new tag when the batch changes, or is asked for in another language', async () => {
    const b = await createBatch(h, 'car-t', 82);
    const tag = (await get(b.id)).headers.etag as string;
    const vi = await get(b.id, { 'if-none-match': tag, 'accept-language': 'vi' });
    expect(vi.statusCode).toBe(200);
    expect(vi.headers.etag).not.toBe(tag);
    await recordReceipt(h, b, 82);
    const after = await get(b.id, { 'if-none-match': tag });
    expect(after.statusCode).toBe(200);
    expect(after.json().entries.some((e: { stepId?: string }) => e.stepId === 'apheresis-receipt')).toBe(true);
    expect(after.headers.etag).not.toBe(tag);
    // Another reader of the same batch gets the same bytes, so the same tag.
    expect((await get(b.id, { 'if-none-match': after.headers.etag as string }, 'qa1')).statusCode).toBe(304);
  });

  it('refuses an If-None-Match too long to be a tag, and answers refusals without a tag', async () => {
    const b = await createBatch(h, 'car-t', 83);
    const long = await get(b.id, { 'if-none-match': `"${'x'.repeat(1200)}"` });
    expect(long.statusCode).toBe(400);
    expect(long.headers['content-type']).toContain('application/problem+json');
    expect(long.json().errors[0].field).toBe('headers.if-none-match');
    const missing = await get('no-such-batch', { 'if-none-match': '*' });
    expect(missing.statusCode).toBe(404);
    expect(missing.headers.etag).toBeUndefined();
  });

  it('is declared in the OpenAPI description: the If-None-Match parameter and the 304', async () => {
    const op = (await call(h, null, 'GET', '/openapi.json')).body.paths['/api/v1/batches/{id}'].get;
    expect(op.parameters.find((p: { in: string; name: string }) => p.in === 'header' && p.name === 'if-none-match')).toBeDefined();
    expect(op.responses['304'].description).toMatch(/Not modified/);
    expect(op.responses['200'].description).toMatch(/ETag/);
  });
});
