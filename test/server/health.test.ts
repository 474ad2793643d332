import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call, harness, type Harness } from '../helpers.js';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => h.close());

describe('service surface', () => {
  it('answers /healthz without authentication', async () => {
    const r = await call(h, null, 'GET', '/healthz');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'ok', integrity: 'verified' }); // the harness waits for the verification at start
  });

  it('serves an OpenAPI 3.1 description generated from the route schemas', async () => {
    const r = await call(h, null, 'GET', '/openapi.json');
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe('3.1.0');
    expect(r.body.paths['/api/v1/batches/{id}/steps/{stepId}'].post.requestBody).toBeDefined();
  });

  it('refuses an unknown route with problem+json 404', async () => {
    const r = await call(h, 'op1', 'GET', '/nothing-here');
    expect(r.status).toBe(404);
    expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
  });
});

describe('interactive API docs', () => {
  it('serves /docs without authentication', async () => {
    const r = await h.app.inject({ method: 'GET', url: '/docs' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/text\/html/);
  });
});
