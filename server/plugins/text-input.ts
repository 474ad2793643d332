// Text a record cannot hold as sent: the NUL character (U+0000). PostgreSQL refuses it in text, so the
// PostgreSQL store turned it into a 400 naming only `body` as the query reached the database, while the
// SQLite store kept it: the same request was 201 on one store and 400 on the other. It is refused here,
// for both stores, before the schema is looked at, naming the field that holds it (API.md: every 400
// names its field; 21 CFR 11.10(a), Annex 11 §5: invalid input is refused, not stored).
import type { FastifyRequest } from 'fastify';
import { badRequest } from '../errors.js';
import { PATH_SEGMENT } from './problem.js';
const MESSAGE = 'text may not contain the NUL character (U+0000)';

/** The dotted path of the first string holding U+0000 in `value`, or undefined; `at` is where `value` is. */
function nulAt(value: unknown, at: string, depth = 0): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? at : undefined;
  if (value === null || typeof value !== 'object' || depth > 64) return undefined;
  for (const [k, v] of Array.isArray(value) ? value.entries() : Object.entries(value)) {
    const key = String(k);
    // A key that cannot be a segment (or holds NUL itself) is named by the object that holds it.
    if (key.includes('\u0000')) return at;
    const found = nulAt(v, PATH_SEGMENT.test(key) ? (at ? `${at}.${key}` : key) : at, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** preValidation: 400 on the first field (body, then querystring, then params) holding U+0000. */
export async function refuseNulText(request: FastifyRequest) {
  const places: [unknown, string][] = [[request.body, ''], [request.query, 'querystring'], [request.params, 'params']];
  for (const [value, root] of places) {
    const field = nulAt(value, root);
    if (field !== undefined) throw badRequest(`The request is not valid: ${field || 'body'}: ${MESSAGE}`, [{ field: field || 'body', message: MESSAGE }]);
  }
}
