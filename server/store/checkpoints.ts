// Signed checkpoints of the chain heads. A hash chain alone can be recomputed by whoever rewrites the
// database file, so the heads are also signed with an Ed25519 key kept outside the database
// (21 CFR 11.10(a); Annex 11 §7). The checkpoints live in the database's append-only `checkpoints`
// table, one chain for the whole site whichever app server signed (issue 15 item 3); the keys that may
// sign them are not in the database: each server trusts its own and those installed in its key folder.
// Verification compares the rows with the signed heads: an edit followed by recomputing every hash
// is still detected, located to the interval between two checkpoints.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { canonicalJson, sha256 } from './chain.js';

export type ChainTable = 'entries' | 'signatures' | 'audit_log';
export const CHAIN_TABLES: ChainTable[] = ['entries', 'signatures', 'audit_log'];

export interface Head { seq: number; hash: string }
export interface Checkpoint {
  n: number;
  at: string;
  reason: 'interval' | 'export' | 'shutdown' | 'start' | 'backup';
  heads: Record<ChainTable, Head>;
  keyId: string;
  prev: string;
  signature: string;
}

/**
 * The last checkpoint this server signed, kept beside its key (outside the database): the table must
 * still hold it, so a table cut short behind it is caught. `table` marks a mark written since the
 * checkpoints moved into the database; a mark without it named this server's old file log.
 */
export interface Mark { n: number; hash: string; table?: true }

/**
 * The checkpoints must still hold the one the mark names, unchanged. They may go on past it: a crash
 * between committing a checkpoint and moving the mark leaves the mark one behind and loses nothing,
 * and the other app servers sign after it.
 */
function markProblem(last: Checkpoint | undefined, named: Checkpoint | undefined, mark: Mark | 'unreadable' | undefined): string | null {
  if (mark === undefined) return null;
  if (mark === 'unreadable') return 'the checkpoint mark beside the key cannot be read: it was altered';
  if (!named) return `the signed checkpoints end at ${last?.n ?? 0}, but this server signed checkpoint ${mark.n}: they were cut short`;
  if (checkpointHash(named) !== mark.hash) return `checkpoint ${mark.n} differs from the one this server signed`;
  return null;
}

/** Write to a temporary file, fsync, rename: a crash leaves the old content or the new, never a torn file. */
function writeAtomically(file: string, data: string) {
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/** `createdAt`: when this server generated the key (checkpoint-ed25519.json beside it); unknown for a key put there by hand. */
export interface SigningKey { id: string; publicKeyPem: string; createdAt?: string; privateKey: KeyObject }

/** The key id: the first 16 hex characters of the SHA-256 of the public key (SPKI DER). */
const keyIdOf = (publicKey: KeyObject) => sha256(publicKey.export({ type: 'spki', format: 'der' })).slice(0, 16);

/** Loads the signing key from `dir`, generating it (private key file mode 0600) at first start. */
export function loadOrCreateKey(dir: string, now: () => Date): SigningKey {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const privateFile = path.join(dir, 'checkpoint-ed25519.key.pem');
  const metaFile = path.join(dir, 'checkpoint-ed25519.json');
  if (!fs.existsSync(privateFile)) {
    const { privateKey } = generateKeyPairSync('ed25519');
    fs.writeFileSync(privateFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    fs.writeFileSync(metaFile, JSON.stringify({ createdAt: now().toISOString() }), { mode: 0o600 });
    fs.writeFileSync(path.join(dir, 'checkpoint-ed25519.pub.pem'), createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }), { mode: 0o600 });
  }
  const privateKey = createPrivateKey(fs.readFileSync(privateFile));
  const publicKey = createPublicKey(privateKey);
  // Without the file the key's creation is unknown: the time of this start would claim a date nobody recorded.
  const createdAt = fs.existsSync(metaFile) ? (JSON.parse(fs.readFileSync(metaFile, 'utf8')) as { createdAt?: string }).createdAt : undefined;
  return { id: keyIdOf(publicKey), publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), ...(createdAt !== undefined && { createdAt }), privateKey };
}

const signedPart = (c: Omit<Checkpoint, 'signature'>) => canonicalJson({ n: c.n, at: c.at, reason: c.reason, heads: c.heads, keyId: c.keyId, prev: c.prev });
export const checkpointHash = (c: Checkpoint) => sha256(canonicalJson(c));

/** The stored form of a checkpoint (the `checkpoints` table, issue 15 item 3): heads as canonical JSON. */
export interface CheckpointRow { n: number; at: string; reason: string; heads: string; keyId: string; prev: string; signature: string }
export const checkpointRow = (c: Checkpoint): CheckpointRow => ({ n: c.n, at: c.at, reason: c.reason, heads: canonicalJson(c.heads), keyId: c.keyId, prev: c.prev, signature: c.signature });
export const checkpointOf = (r: CheckpointRow): Checkpoint => ({
  n: r.n, at: r.at, reason: r.reason as Checkpoint['reason'], heads: JSON.parse(r.heads) as Checkpoint['heads'], keyId: r.keyId, prev: r.prev, signature: r.signature,
});

/**
 * What an app server signs checkpoints with: its key and the mark beside it. The stores call `next`
 * under the write lock with the last checkpoint of the table (whoever signed it) and insert what it
 * returns, then `remember` it once committed; so every server's checkpoints form one chain.
 */
export class CheckpointSigner {
  /**
   * @param key the signing key (only the server signs; verifiers need only public keys)
   * @param markFile the last checkpoint this server signed, kept beside the key: a table cut short is caught
   */
  constructor(readonly key: SigningKey, readonly markFile?: string) {}

  /** Why no checkpoint can be signed, once found: the table is behind, or differs from, the mark beside the key. */
  damaged: string | null = null;

  /** The mark kept beside the key. `unreadable` is itself a finding. */
  mark(): Mark | 'unreadable' | undefined {
    return this.markFile ? readMark(this.markFile) : undefined;
  }

  /**
   * The checkpoint to insert after `last` (`named`: the table's row of the mark's number). Returns `last`
   * itself when the heads have not moved (an interval or a start has nothing new to sign), undefined
   * (and sets `damaged`) when the table is behind or differs from the mark: extending it would hide the cut.
   */
  next(last: Checkpoint | undefined, named: Checkpoint | undefined, heads: Record<ChainTable, Head>, reason: Checkpoint['reason'], at: Date): Checkpoint | undefined {
    const problem = markProblem(last, named, this.mark());
    if (problem) {
      this.damaged = problem;
      return undefined;
    }
    if (last && sameHeads(last.heads, heads) && (reason === 'interval' || reason === 'start')) return last;
    const body = { n: (last?.n ?? 0) + 1, at: at.toISOString(), reason, heads, keyId: this.key.id, prev: last ? checkpointHash(last) : '' };
    return { ...body, signature: sign(null, Buffer.from(signedPart(body)), this.key.privateKey).toString('base64') };
  }

  /** After the commit: the mark names the checkpoint this server signed last. */
  remember(c: Checkpoint) {
    if (this.markFile) writeAtomically(this.markFile, JSON.stringify({ n: c.n, hash: checkpointHash(c), table: true } satisfies Mark));
  }

  /** The number the mark names, for the store to read that row (undefined when there is no readable mark). */
  markedNumber(): number | undefined {
    const mark = this.mark();
    return typeof mark === 'object' ? mark.n : undefined;
  }
}

/** The mark in a key folder (`checkpoint-latest.json`), for the tools that verify without signing. */
export function readMark(file: string): Mark | 'unreadable' | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Mark;
  } catch {
    return 'unreadable';
  }
}

const sameHeads = (a: Record<ChainTable, Head>, b: Record<ChainTable, Head>) => CHAIN_TABLES.every((t) => a[t].seq === b[t].seq && a[t].hash === b[t].hash);

/**
 * A server's checkpoint log of before issue 15 item 3 (`<CELLBATCH_DB>.checkpoints.jsonl`), read only:
 * imported into the table once (services/checkpoint-import.ts) and kept unchanged as evidence; the
 * log beside an old backup is read to restore it.
 */
export class CheckpointLog {
  constructor(readonly file: string) {}

  /**
   * The checkpoints in order. A last line cut off by a crash while it was being written (no newline,
   * not JSON) is left out: its mark was never written, so nothing signed is lost. Any other line that
   * does not parse is damage, and throws.
   */
  read(): Checkpoint[] {
    if (!fs.existsSync(this.file)) return [];
    const text = fs.readFileSync(this.file, 'utf8');
    const lines = text.split('\n');
    const out: Checkpoint[] = [];
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      try {
        out.push(JSON.parse(line) as Checkpoint);
      } catch {
        if (i === lines.length - 1) return; // torn final write
        throw new Error(`line ${i + 1} of the checkpoint log cannot be read`);
      }
    });
    return out;
  }
}

function signatureProblem(c: Checkpoint, publicKeys: Map<string, string>): string | null {
  const pem = publicKeys.get(c.keyId);
  if (!pem) return `checkpoint ${c.n} is signed with an unknown key ${c.keyId}`;
  const ok = verify(null, Buffer.from(signedPart(c)), createPublicKey(pem), Buffer.from(c.signature, 'base64'));
  return ok ? null : `checkpoint ${c.n} has an invalid signature`;
}

/**
 * The last checkpoint alone, and the one the mark beside the key names: what the server's start checks
 * before it chains anything (every checkpoint is checked by the full verification).
 */
export function checkLastCheckpoint(last: Checkpoint | undefined, named: Checkpoint | undefined, publicKeys: Map<string, string>, mark?: Mark | 'unreadable'): string | null {
  return markProblem(last, named, mark) ?? (last ? signatureProblem(last, publicKeys) : null);
}

/** Checks each checkpoint's signature (by a trusted key) and its link to the one before; returns the first problem. */
export function checkCheckpointLog(checkpoints: Checkpoint[], publicKeys: Map<string, string>, mark?: Mark | 'unreadable'): string | null {
  const named = typeof mark === 'object' ? checkpoints.find((c) => c.n === mark.n) : undefined;
  const problem = markProblem(checkpoints[checkpoints.length - 1], named, mark);
  if (problem) return problem;
  let prev = '';
  let expected = 1;
  for (const c of checkpoints) {
    if (c.n !== expected) return `checkpoint ${expected} is missing: the next one is ${c.n}`;
    const bad = signatureProblem(c, publicKeys);
    if (bad) return bad;
    if (c.prev !== prev) return `checkpoint ${c.n} does not follow checkpoint ${c.n - 1}`;
    prev = checkpointHash(c);
    expected++;
  }
  return null;
}

/**
 * The public keys a key folder trusts: the server's own (derived from the private key when it is there,
 * else read from checkpoint-ed25519.pub.pem) and the other app servers' keys installed on purpose in
 * its `trusted/` folder (`trusted/*.pub.pem`, issue 15 item 3: several servers sign one chain). Any
 * other *.pub.pem lying in the folder itself is ignored: whoever could drop a file there could
 * otherwise sign checkpoints of a rewritten record (issue 10). Keys of earlier servers (after a
 * rotation) are trusted when installed in `trusted/` or named: `cellbatch verify --key FILE`. A file
 * in `trusted/` that holds no Ed25519 public key trusts nothing (keysIn names it).
 */
export const publicKeysIn = (dir: string): Map<string, string> => publicKeysOf(keysIn(dir));

/** A key folder's keys as a verification takes them: PEM by key id. */
export const publicKeysOf = (folder: KeyFolder): Map<string, string> => new Map(folder.keys.map((k) => [k.id, k.publicKeyPem]));

/**
 * A public key a key folder trusts, and where it comes from: `own` (the server's signing key) or
 * `trusted` (`file`: its file in the folder, `trusted/<name>.pub.pem`). A key installed twice is
 * listed once, as its first file (the own key first, then trusted/ by name).
 */
export interface FolderKey { id: string; publicKeyPem: string; source: 'own' | 'trusted'; file?: string }
/**
 * The keys of a key folder, and the files in its trusted/ that hold no Ed25519 public key: those
 * vouch for nothing (a checkpoint their author signed is then one by an unknown key, a finding), and
 * are named so that whoever installed them learns why (GET /audit/keys).
 */
export interface KeyFolder { keys: FolderKey[]; unreadable: { file: string; problem: string }[] }

/** The keys of `publicKeysIn`, each with its source, and the trusted/ files that hold none (GET /audit/keys). */
export function keysIn(dir: string): KeyFolder {
  const privateFile = path.join(dir, 'checkpoint-ed25519.key.pem');
  const publicFile = path.join(dir, 'checkpoint-ed25519.pub.pem');
  const trustedDir = path.join(dir, 'trusted');
  const trusted = fs.existsSync(trustedDir) ? fs.readdirSync(trustedDir).filter((f) => f.endsWith('.pub.pem')).sort() : [];
  const own = fs.existsSync(privateFile) ? [createPublicKey(createPrivateKey(fs.readFileSync(privateFile)))]
    : fs.existsSync(publicFile) ? [createPublicKey(fs.readFileSync(publicFile))] : [];
  const keys: FolderKey[] = own.map((k) => ({ ...described(k), source: 'own' as const }));
  const unreadable: KeyFolder['unreadable'] = [];
  for (const f of trusted) {
    const file = `trusted/${f}`;
    const key = installedKey(path.join(trustedDir, f));
    if (typeof key === 'string') unreadable.push({ file, problem: key });
    else if (!keys.some((k) => k.id === described(key).id)) keys.push({ ...described(key), source: 'trusted', file });
  }
  return { keys, unreadable };
}

/** The Ed25519 public key a trusted/ file holds, or why it holds none. */
function installedKey(file: string): KeyObject | string {
  let key: KeyObject;
  try {
    key = createPublicKey(fs.readFileSync(file));
  } catch {
    return 'not a public key in PEM';
  }
  return key.asymmetricKeyType === 'ed25519' ? key : `a key of type ${key.asymmetricKeyType ?? 'unknown'}, not Ed25519`;
}

const described = (k: KeyObject) => ({ id: keyIdOf(k), publicKeyPem: k.export({ type: 'spki', format: 'pem' }).toString() });

/** Public keys from PEM files named on purpose (`--key`). */
export const publicKeysFrom = (files: string[]) => keyMap(files.map((f) => createPublicKey(fs.readFileSync(f))));

const keyMap = (keys: KeyObject[]) => new Map(keys.map((k) => { const d = described(k); return [d.id, d.publicKeyPem]; }));
