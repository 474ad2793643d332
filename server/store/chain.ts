// Hash chains: each append-only row carries the SHA-256 of its bytes, which begin with the previous
// row's hash, so an edit, a deletion or a reordering breaks the chain at the first row touched
// (21 CFR 11.10(a)).
//
// The bytes of a row are the JSON array [prev_hash, column 1, column 2, ...] of its stored values, in
// the column order of CHAINED below: text as text, integers as integers, NULL as null. SQLite renders
// exactly these bytes itself with json_array(), so verification reads one string per row instead of
// decoding the row into JavaScript; rowBytes() is the definition, and a row the database renders
// otherwise is judged by rowBytes() before anything is reported (see verify.ts).
import { createHash, hash } from 'node:crypto';

export const GENESIS = '0'.repeat(64);

/** Why a signature fails when it names another entry than the one it was made for (21 CFR 11.70). */
export const MOVED_SIGNATURE = 'the signature does not belong to the entry it names';

/** The hashed columns of each chained table, in the order they enter the bytes. */
export const CHAINED = {
  entries: ['seq', 'id', 'batch_id', 'batch_seq', 'kind', 'step_id', 'payload', 'recorded_at', 'actor_id', 'training'],
  signatures: ['seq', 'id', 'entry_id', 'entry_hash', 'entry_seq', 'user_id', 'username', 'printed_name', 'meaning', 'signed_at'],
  audit_log: ['seq', 'at', 'user_id', 'action', 'entity', 'entity_id', 'batch_id', 'before', 'after', 'reason'],
} as const;

export type Cell = string | number | null;

export const rowBytes = (prevHash: string, cells: readonly Cell[]): string => JSON.stringify([prevHash, ...cells]);
export const rowHash = (prevHash: string, cells: readonly Cell[]): string => sha256(rowBytes(prevHash, cells));

/**
 * Text as the database will store it: a lone UTF-16 surrogate cannot be stored as UTF-8 and would come
 * back as U+FFFD, so it is replaced before the row is hashed, and the hash covers what is stored.
 */
export const storable = (s: string): string => s.toWellFormed();

/** JSON with object keys sorted at every depth: the same data always gives the same bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value as Record<string, unknown>)
        .sort()
        .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** The hashed form of rows written before migration 0003: the previous hash, then the row as canonical JSON. */
export function legacyChainHash(prevHash: string, row: Record<string, unknown>): string {
  return createHash('sha256').update(prevHash).update(canonicalJson(row)).digest('hex');
}

export const sha256 = (data: string | Buffer): string => hash('sha256', data, 'hex');
