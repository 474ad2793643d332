// The hashes of the record, implemented from the published description (docs/export-format.md,
// "Checking an export without the server") rather than taken from the server's code: the verifier is
// a second, independent reading of the format, and the tests hold it to records the server made.
import { createHash, createPublicKey, verify as verifySignature } from 'node:crypto';

export const GENESIS = '0'.repeat(64);

export type Cell = string | number | null;
export type Table = 'entries' | 'signatures' | 'audit_log';
export const TABLES: Table[] = ['entries', 'signatures', 'audit_log'];

export const sha256Hex = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

/** JSON with object keys sorted at every depth (undefined members left out, as JSON.stringify does). */
export function canonicalJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => [k, sort(o[k])]));
    }
    return v;
  };
  return JSON.stringify(sort(value));
}

const camel = (column: string) => column.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * The row as rows written before migration 0003 hashed it: an object of its columns with camelCase
 * keys, the entry's payload parsed and its training flag a boolean; a signature without entry_seq
 * (the column came later).
 */
function legacyObject(table: Table, columns: string[], cells: Cell[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  columns.forEach((c, i) => {
    if (table === 'signatures' && c === 'entry_seq') return;
    let v: unknown = cells[i];
    if (table === 'entries' && c === 'payload' && typeof v === 'string') v = JSON.parse(v);
    if (table === 'entries' && c === 'training') v = v === 1;
    o[camel(c)] = v;
  });
  return o;
}

/** The hash a chained row must carry, in the form it was written in. */
export function expectedRowHash(table: Table, columns: string[], row: { prevHash: string; cells: Cell[]; form: string }): string {
  if (row.form === 'legacy') return createHash('sha256').update(row.prevHash).update(canonicalJson(legacyObject(table, columns, row.cells))).digest('hex');
  return sha256Hex(JSON.stringify([row.prevHash, ...row.cells]));
}

export interface SignedCheckpoint {
  n: number; at: string; reason: string; heads: Record<Table, { seq: number; hash: string }>; keyId: string; prev: string; signature: string;
}

/** What a checkpoint's Ed25519 signature covers: the canonical JSON of everything but the signature. */
const signedPart = (c: SignedCheckpoint) => canonicalJson({ n: c.n, at: c.at, reason: c.reason, heads: c.heads, keyId: c.keyId, prev: c.prev });

/** The hash the next checkpoint names as `prev`: SHA-256 of the canonical JSON of the whole checkpoint. */
export const checkpointHash = (c: SignedCheckpoint) => sha256Hex(canonicalJson(c));

export const checkpointSignatureValid = (c: SignedCheckpoint, publicKeyPem: string) => signatureValid(signedPart(c), c.signature, publicKeyPem);

/** An Ed25519 signature (base64) of the text's UTF-8 bytes by the key. */
export function signatureValid(text: string, signature: string, publicKeyPem: string): boolean {
  try {
    return verifySignature(null, Buffer.from(text), createPublicKey(publicKeyPem), Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** A key's id as the server names it: the first 16 hex characters of the SHA-256 of the public key (SPKI DER). */
export function keyIdOf(publicKeyPem: string): { id: string; type: string | undefined } {
  const key = createPublicKey(publicKeyPem);
  return { id: sha256Hex(key.export({ type: 'spki', format: 'der' })).slice(0, 16), type: key.asymmetricKeyType };
}
