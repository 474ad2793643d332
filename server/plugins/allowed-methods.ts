// Which methods a concrete path is served with: HTTP's answer to a known path asked with a method it
// does not serve is 405 with `Allow` (RFC 9110 §15.5.6), not 404. Fastify has no such answer built
// in; the routes are collected as they are added and their patterns matched against the path.
import type { FastifyInstance } from 'fastify';

interface Pattern { re: RegExp; methods: Set<string> }

const compile = (url: string) => new RegExp(`^${url.split('/').map((part) =>
  part === '*' ? '.*' : part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('/')}/?$`);

/** Call before the routes are added; the returned function lists the methods that serve a path. */
export function collectRoutes(app: FastifyInstance): (path: string) => string[] {
  const patterns = new Map<string, Pattern>();
  app.addHook('onRoute', (route) => {
    // The web UI's catch-all page route (GET /*) serves any path: it says nothing about the API's paths.
    if (route.url === '/*' || route.url.includes('(')) return;
    const p = patterns.get(route.url) ?? { re: compile(route.url), methods: new Set<string>() };
    for (const m of [route.method].flat()) p.methods.add(m.toUpperCase());
    patterns.set(route.url, p);
  });
  return (path) => {
    const methods = new Set<string>();
    for (const p of patterns.values()) if (p.re.test(path)) p.methods.forEach((m) => methods.add(m));
    return [...methods].sort();
  };
}
