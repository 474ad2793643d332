// The UI's API types come from the server's own OpenAPI description (web/src/api/schema.d.ts,
// `npm run web:types`) and nowhere else (web/src/api/types.ts only names parts of it): this proves
// that the checked-in file is the current description's, that the UI type-checks against it, and that
// a shape change in the API — a field the UI reads, gone from the description — breaks the UI's type
// check (`tsc -p web`), not a user.
import path from 'node:path';
import fs from 'node:fs';
import ts from 'typescript';
import openapiTS, { astToString } from 'openapi-typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../server/app.js';
import { generateApiTypes, SCHEMA_FILE } from '../../scripts/api-types.js';

const WEB = path.resolve(import.meta.dirname, '../../web');
let description: { components: { schemas: Record<string, { properties: Record<string, unknown>; required?: string[] }> } };

let previous: ts.Program | undefined; // unchanged files are not parsed again

/** The errors `tsc -p web` reports when schema.d.ts holds `schema` instead of the file on disk. */
function webTypeErrors(schema: string): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(path.join(WEB, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })!;
  const host = ts.createCompilerHost(config.options);
  const read = host.readFile;
  host.readFile = (file) => (path.resolve(file) === SCHEMA_FILE ? schema : read(file));
  const program = ts.createProgram({ rootNames: config.fileNames, options: config.options, host, oldProgram: previous });
  previous = program;
  return ts.getPreEmitDiagnostics(program).map((d) => `${d.file ? path.relative(WEB, d.file.fileName) : ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

/** schema.d.ts generated from the description after `change`, as scripts/api-types.ts writes it. */
async function typesAfter(change: (doc: typeof description) => void) {
  const doc = structuredClone(description);
  change(doc);
  return astToString(await openapiTS(doc as Parameters<typeof openapiTS>[0]));
}

beforeAll(async () => {
  const { app } = await buildApp({ dbFile: ':memory:', training: true });
  await app.ready();
  description = JSON.parse(JSON.stringify(app.swagger()));
  await app.close();
});

describe('the web UI\'s API types', { timeout: 120_000 }, () => {
  it('are the current description\'s (npm run web:types after an API change)', async () => {
    expect(fs.readFileSync(SCHEMA_FILE, 'utf8') === await generateApiTypes(), 'web/src/api/schema.d.ts is stale: run npm run web:types').toBe(true);
  });

  it('type-check the UI against the description', () => {
    expect(webTypeErrors(fs.readFileSync(SCHEMA_FILE, 'utf8'))).toEqual([]);
  });

  it('break the UI\'s type check when a field the UI reads leaves the description', async () => {
    const schema = await typesAfter((doc) => {
      const batch = doc.components.schemas.BatchSummary;
      delete batch.properties.batchNumber;
      batch.required = batch.required?.filter((f) => f !== 'batchNumber');
    });
    const errors = webTypeErrors(schema);
    expect(errors.join('\n')).toMatch(/batch\/WorkList\.tsx: Property 'batchNumber' does not exist/);
  });

  it('break the UI\'s type check when a field the UI reads changes its type', async () => {
    const schema = await typesAfter((doc) => {
      doc.components.schemas.Lot.properties.status = { type: 'string', enum: ['approved', 'quarantined', 'rejected'] };
    });
    expect(webTypeErrors(schema).join('\n')).toMatch(/'"released"'/);
  });
});
