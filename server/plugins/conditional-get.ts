// Conditional GET (RFC 9110 §8.8.3, §13.1.2): a strong ETag computed from the bytes of the
// representation, and If-None-Match naming it answers 304 with no body. The tag is taken from what is
// sent, not from the batch's version: the representation also depends on the process clock (windows,
// overdue), the master record's status, the record's integrity as hashed at this read and the
// language, so a version-only tag could keep a terminal on an answer that is no longer true (an
// altered row, a window that closed). What a 304 saves is the transfer and the client's parse, not the
// server's replay.
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Whether an If-None-Match field names `tag` (weak comparison, §13.1.2: W/ ignored; * matches any). */
export function noneMatchNames(field: string | undefined, tag: string): boolean {
  if (!field) return false;
  if (field.trim() === '*') return true;
  return field.split(',').map((t) => t.trim().replace(/^W\//, '')).includes(tag);
}

/** An onSend hook for a GET whose 200 reply is JSON: sets the ETag, and answers 304 when the client has it. */
export async function conditionalGet(request: FastifyRequest, reply: FastifyReply, payload: unknown) {
  if (reply.statusCode !== 200 || typeof payload !== 'string') return payload;
  const tag = `"${createHash('sha256').update(payload).digest('base64url')}"`;
  // The bytes differ by language: a cache keeps one answer per Accept-Language.
  reply.header('etag', tag).header('vary', 'accept-language');
  if (!noneMatchNames(request.headers['if-none-match'], tag)) return payload;
  reply.code(304).removeHeader('content-type').removeHeader('content-length');
  return null;
}
