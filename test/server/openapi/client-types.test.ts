// Proof that a client can build on the description (issue 9): openapi-typescript generates types from
// it, and a small openapi-fetch client that logs in, starts a batch, records a step and reads the
// batch type-checks against them — while a call that reads a field the API does not have, or sends a
// body of the wrong shape, does not.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../../server/app.js';

const ROOT = path.resolve(__dirname, '../../..');
let dir: string;

const CLIENT = `
import createClient from 'openapi-fetch';
import type { paths } from './api';

export async function run(baseUrl: string) {
  const api = createClient<paths>({ baseUrl });
  const login = await api.POST('/api/v1/auth/login', { body: { username: 'op1', password: 'secret-password' } });
  if (!login.data) throw new Error(login.error?.detail);
  const token: string = login.data.token;
  const headers = { authorization: \`Bearer \${token}\` };
  const created = await api.POST('/api/v1/batches', { headers, body: { processId: 'car-t', din: 'W123426000001N', patient: { id: 'PT-1', weightKg: 70 } } });
  if (!created.data) throw new Error(created.error?.title);
  const batchId: string = created.data.id;
  const stepId: string = created.data.availableSteps[0].stepId;
  const step = await api.POST('/api/v1/batches/{id}/steps/{stepId}', {
    headers, params: { path: { id: batchId, stepId } },
    body: { values: { viability: 92 }, signature: { username: 'op1', password: 'secret-password' }, expectedVersion: created.data.version },
  });
  const verified: boolean | undefined = step.data?.entry.verified;
  const read = await api.GET('/api/v1/batches/{id}', { headers, params: { path: { id: batchId } } });
  const status: 'in_process' | 'qc_testing' | 'qa_review' | 'released' | 'rejected' | 'terminated' | undefined = read.data?.status;
  const errors: { field: string; message: string }[] | undefined = read.error?.errors;
  return { verified, status, errors, entries: read.data?.entries.length };
}
`;

const WRONG = {
  'a field the Batch does not have': CLIENT.replace('read.data?.entries.length', 'read.data?.patientName'),
  'a step body without its signature': CLIENT.replace("signature: { username: 'op1', password: 'secret-password' }, expectedVersion", 'expectedVersion'),
  'an operation that does not exist': CLIENT.replace("api.GET('/api/v1/batches/{id}'", "api.DELETE('/api/v1/batches/{id}'"),
};

function typeErrors(source: string): string[] {
  fs.writeFileSync(path.join(dir, 'client.ts'), source);
  const program = ts.createProgram([path.join(dir, 'client.ts')], {
    strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler,
    skipLibCheck: true, types: [], typeRoots: [path.join(ROOT, 'node_modules/@types')], baseUrl: ROOT,
    paths: { 'openapi-fetch': [path.join(ROOT, 'node_modules/openapi-fetch')] },
  });
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellbatch-client-'));
  const { app } = await buildApp({ dbFile: ':memory:', training: true });
  await app.ready();
  const doc = JSON.parse(JSON.stringify(app.swagger()));
  await app.close();
  fs.writeFileSync(path.join(dir, 'api.ts'), astToString(await openapiTS(doc)));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('a typed client generated from the description', () => {
  it('type-checks a client that logs in, starts a batch, records a step and reads the batch', () => {
    expect(typeErrors(CLIENT)).toEqual([]);
  });

  for (const [what, source] of Object.entries(WRONG)) {
    it(`refuses ${what}`, () => {
      const errors = typeErrors(source);
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.join('\n')).not.toMatch(/Cannot find module|file extensions/);
    });
  }
});
