// The web UI (web/, built by Vite into web/dist) served by the same server at `/`: one origin, so the
// browser's session cookie and CSRF token work without CORS. Files are served as built; any other
// GET outside the API answers index.html so that the page's own routes (/batches/…) survive a
// reload. Paths under /api/ never fall back to the page: they stay the API's problem+json 404.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fp from 'fastify-plugin';
import fastifyStatic from '@fastify/static';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** server/plugins (tsx) or dist/server/plugins (npm start): web/dist sits at the project root. */
const webRoot = () => [path.resolve(HERE, '../../web/dist'), path.resolve(HERE, '../../../web/dist')]
  .find((dir) => fs.existsSync(path.join(dir, 'index.html')));

export default fp(async (app) => {
  const WEB_ROOT = webRoot();
  if (!WEB_ROOT) {
    // Tests build the app without the UI; `npm start` builds it first (scripts/build.mjs).
    app.get('/', { config: { public: true }, schema: { hide: true } }, async (_req, reply) =>
      reply.code(503).type('text/plain').send('The web UI is not built: run `npm run build`.'));
    return;
  }
  await app.register(fastifyStatic, {
    root: WEB_ROOT, serve: false,
  });
  const page = { config: { public: true }, schema: { hide: true } } as const;
  // Hashed assets never change under their name; index.html always revalidates.
  app.get('/assets/*', page, async (req, reply) => reply.sendFile(`assets/${(req.params as { '*': string })['*']}`, { immutable: true, maxAge: 365 * 24 * 3600_000 }));
  app.get('/', page, async (_req, reply) => reply.header('cache-control', 'no-cache').sendFile('index.html', { cacheControl: false }));
  app.get('/*', page, async (req, reply) => {
    if (req.url.startsWith('/api/')) return reply.callNotFound();
    return reply.header('cache-control', 'no-cache').sendFile('index.html', { cacheControl: false });
  });
}, { name: 'cellbatch-web-ui' });
