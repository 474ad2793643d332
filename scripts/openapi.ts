// `npm run openapi [file]`: writes the OpenAPI description (the one GET /openapi.json serves) to a
// file, default openapi.json at the repository root, without listening: the app is built on an
// in-memory database in training mode, so that the training-only route is described too (a server
// in GMP mode answers it 404 and leaves it out of its own GET /openapi.json), and asked for its
// description. The file is generated, not committed (.gitignore): the
// routes' zod schemas are the source. CI lints it (.ci/run: redocly, spectral).
import fs from 'node:fs';
import path from 'node:path';
import { buildApp } from '../server/app.js';

const out = path.resolve(process.argv[2] ?? 'openapi.json');
const { app } = await buildApp({ dbFile: ':memory:', training: true, logger: false });
try {
  await app.ready();
  fs.writeFileSync(out, `${JSON.stringify(app.swagger(), null, 2)}\n`);
  console.log(`OpenAPI description written to ${path.relative(process.cwd(), out) || out}`);
} finally {
  await app.close();
}
