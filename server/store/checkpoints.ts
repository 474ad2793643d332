// Signed checkpoints of the chain heads. A hash chain alone can be recomputed by whoever rewrites the
// database file, so the heads are also signed with an Ed25519 key kept outside the database and
// appended to a separate log (21 CFR 11.10(a); Annex 11 §7). Verification compares the rows with the
// signed heads: an edit followed by recomputing every hash is still detected, located to the interval
// between two checkpoints.
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

export interface Mark { n: number; hash: string }

/**
 * The log must still hold the checkpoint the mark names, unchanged. It may be one ahead: a crash
 * between appending a checkpoint and moving the mark leaves it so, and loses nothing.
 */
function markProblem(checkpoints: Checkpoint[], mark: Mark | 'unreadable' | undefined): string | null {
  if (mark === undefined) return null;
  if (mark === 'unreadable') return 'the checkpoint mark beside the key cannot be read: it was altered';
  const last = checkpoints[checkpoints.length - 1];
  const named = checkpoints.find((c) => c.n === mark.n);
  if (!named) return `the checkpoint log ends at ${last?.n ?? 0}, but checkpoint ${mark.n} was written: the log was cut short`;
  if (checkpointHash(named) !== mark.hash) return `checkpoint ${mark.n} differs from the one written`;
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

export interface SigningKey { id: string; publicKeyPem: string; createdAt: string; privateKey: KeyObject }

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
  const createdAt = fs.existsSync(metaFile) ? (JSON.parse(fs.readFileSync(metaFile, 'utf8')) as { createdAt: string }).createdAt : now().toISOString();
  return { id: keyIdOf(publicKey), publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), createdAt, privateKey };
}

const signedPart = (c: Omit<Checkpoint, 'signature'>) => canonicalJson({ n: c.n, at: c.at, reason: c.reason, heads: c.heads, keyId: c.keyId, prev: c.prev });
export const checkpointHash = (c: Checkpoint) => sha256(canonicalJson(c));

/** The append-only checkpoint log: one JSON line per checkpoint, fsynced before the write returns. */
export class CheckpointLog {
  /**
   * @param file the log, one JSON line per checkpoint
   * @param key the signing key (only the server signs; verifiers need only public keys)
   * @param markFile the latest checkpoint number and hash, kept beside the key: a log cut short is caught
   */
  constructor(readonly file: string, private readonly key?: SigningKey, readonly markFile?: string) {}

  /** The high-water mark kept beside the key: the log must reach it. `unreadable` is itself a finding. */
  mark(): Mark | 'unreadable' | undefined {
    if (!this.markFile || !fs.existsSync(this.markFile)) return undefined;
    try {
      return JSON.parse(fs.readFileSync(this.markFile, 'utf8')) as Mark;
    } catch {
      return 'unreadable';
    }
  }

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

  last(): Checkpoint | undefined {
    const all = this.read();
    return all[all.length - 1];
  }

  /** Why the log can no longer be extended, once found: it is behind the mark kept beside the key. */
  damaged: string | null = null;

  /**
   * Signs and appends the heads. Refuses (returns undefined, sets `damaged`) when the log is behind or
   * differs from the mark beside the key: extending a cut-short log would hide the cut.
   */
  append(heads: Record<ChainTable, Head>, reason: Checkpoint['reason'], at: Date): Checkpoint | undefined {
    if (!this.key) throw new Error('no signing key: checkpoints can only be written by the server');
    let all: Checkpoint[];
    try {
      all = this.read();
    } catch (e) {
      this.damaged = (e as Error).message;
      return undefined;
    }
    const last = all[all.length - 1];
    const problem = markProblem(all, this.mark());
    if (problem) {
      this.damaged = problem;
      return undefined;
    }
    if (last && CHAIN_TABLES.every((t) => last.heads[t].seq === heads[t].seq && last.heads[t].hash === heads[t].hash) && (reason === 'interval' || reason === 'start')) return last;
    const body = { n: (last?.n ?? 0) + 1, at: at.toISOString(), reason, heads, keyId: this.key.id, prev: last ? checkpointHash(last) : '' };
    const checkpoint: Checkpoint = { ...body, signature: sign(null, Buffer.from(signedPart(body)), this.key.privateKey).toString('base64') };
    const fd = fs.openSync(this.file, 'a', 0o600);
    try {
      fs.writeSync(fd, `${JSON.stringify(checkpoint)}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (this.markFile) writeAtomically(this.markFile, JSON.stringify({ n: checkpoint.n, hash: checkpointHash(checkpoint) }));
    return checkpoint;
  }
}

function signatureProblem(c: Checkpoint, publicKeys: Map<string, string>): string | null {
  const pem = publicKeys.get(c.keyId);
  if (!pem) return `checkpoint ${c.n} is signed with an unknown key ${c.keyId}`;
  const ok = verify(null, Buffer.from(signedPart(c)), createPublicKey(pem), Buffer.from(c.signature, 'base64'));
  return ok ? null : `checkpoint ${c.n} has an invalid signature`;
}

/**
 * The last checkpoint alone: the mark beside the key names it and its signature holds. What the
 * server's start checks before it chains anything (the whole log is checked by the full verification).
 */
export function checkLastCheckpoint(checkpoints: Checkpoint[], publicKeys: Map<string, string>, mark?: Mark | 'unreadable'): string | null {
  const last = checkpoints[checkpoints.length - 1];
  return markProblem(checkpoints, mark) ?? (last ? signatureProblem(last, publicKeys) : null);
}

/** Checks each checkpoint's signature and its link to the one before; returns the first problem. */
export function checkCheckpointLog(checkpoints: Checkpoint[], publicKeys: Map<string, string>, mark?: Mark | 'unreadable'): string | null {
  const problem = markProblem(checkpoints, mark);
  if (problem) return problem;
  let prev = '';
  for (const c of checkpoints) {
    const bad = signatureProblem(c, publicKeys);
    if (bad) return bad;
    if (c.prev !== prev) return `checkpoint ${c.n} does not follow checkpoint ${c.n - 1}`;
    prev = checkpointHash(c);
  }
  return null;
}

/**
 * The server's own public key in a key folder, and nothing else: derived from the private key when it is
 * there, else read from checkpoint-ed25519.pub.pem. Any other *.pub.pem lying in the folder is ignored:
 * whoever could drop a file there could otherwise sign checkpoints of a rewritten record (issue 10).
 * Keys of earlier servers (after a rotation) are trusted only when named: `cellbatch verify --key FILE`.
 */
export function publicKeysIn(dir: string): Map<string, string> {
  const privateFile = path.join(dir, 'checkpoint-ed25519.key.pem');
  const publicFile = path.join(dir, 'checkpoint-ed25519.pub.pem');
  if (fs.existsSync(privateFile)) return keyMap([createPublicKey(createPrivateKey(fs.readFileSync(privateFile)))]);
  return fs.existsSync(publicFile) ? publicKeysFrom([publicFile]) : new Map();
}

/** Public keys from PEM files named on purpose (`--key`). */
export const publicKeysFrom = (files: string[]) => keyMap(files.map((f) => createPublicKey(fs.readFileSync(f))));

const keyMap = (keys: KeyObject[]) => new Map(keys.map((k) => [keyIdOf(k), k.export({ type: 'spki', format: 'pem' }).toString()]));
