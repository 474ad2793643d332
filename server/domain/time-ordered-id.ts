// Ids that sort in the order they were made (UUID version 7, RFC 9562 §5.7): the lists page by id
// (keyset paging, stable under inserts), so an id that sorts by creation makes "oldest first" true of
// GET /batches and of what is listed per batch, without a second sort key.
import { randomBytes } from 'node:crypto';

let lastMs = -1;
let counter = 0;

/**
 * A UUIDv7: 48 bits of Unix milliseconds, then a 12-bit counter (rand_a, RFC 9562 §6.2 method 1) that
 * keeps ids made in the same millisecond in order, then 62 random bits. A clock stepped back keeps the
 * last millisecond, so the ids of one process never go backwards.
 */
export function timeOrderedId(nowMs = Date.now()): string {
  if (nowMs > lastMs) { lastMs = nowMs; counter = randomBytes(1)[0]; } // a random start leaves room for 3,800 ids in the millisecond
  else if (++counter > 0xfff) { lastMs += 1; counter = 0; }
  const b = randomBytes(16);
  b.writeUIntBE(lastMs, 0, 6);
  b[6] = 0x70 | (counter >> 8);
  b[7] = counter & 0xff;
  b[8] = 0x80 | (b[8] & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
