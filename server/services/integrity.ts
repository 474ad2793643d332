// Verification of the whole record: every hash chain (entries, signatures, audit) recomputed row by
// row, checked against the signed checkpoints of the chain heads, whose signatures (by a trusted key)
// and sequence are checked too (21 CFR 11.10(a)).
import path from 'node:path';
import { CheckpointSigner, checkCheckpointLog, keysIn, loadOrCreateKey, publicKeysIn, type Checkpoint, type KeyFolder, type Mark, type SigningKey } from '../store/checkpoints.js';
import type { ChainReport, Store } from '../store/store.js';
import { tighten } from '../store/sqlite/database.js';
import { masterRecordMismatches } from '../processes/verify-master-records.js';
import { registryMismatches } from './registries-in-chain.js';

/** The file log each server kept before the checkpoints moved into the database (imported once, kept as evidence). */
export const checkpointLogFile = (dbFile: string) => `${dbFile}.checkpoints.jsonl`;
export const defaultKeyDir = (dbFile: string) => path.join(path.dirname(path.resolve(dbFile)), 'keys');

/** A server's signing key, its mark, and the public keys it trusts (its own and `trusted/*.pub.pem` in its key folder). */
export interface Integrity {
  key: SigningKey; signer: CheckpointSigner; keyDir: string; logFile: string;
  /** Read from the key folder at each use: another server's key installed in trusted/ counts without a restart. */
  trusted: () => Map<string, string>;
  /** The same keys, each with its source (own, or its file in trusted/), and the trusted/ files that hold none: GET /audit/keys. */
  keys: () => KeyFolder;
}

export function openIntegrity(dbFile: string, keyDir = process.env.CELLBATCH_KEY_DIR ?? defaultKeyDir(dbFile)): Integrity {
  const key = loadOrCreateKey(keyDir, () => new Date());
  tighten(checkpointLogFile(dbFile)); // made 0640 by earlier versions
  return {
    key, keyDir, logFile: checkpointLogFile(dbFile),
    signer: new CheckpointSigner(key, path.join(keyDir, 'checkpoint-latest.json')),
    trusted: () => publicKeysIn(keyDir),
    keys: () => keysIn(keyDir),
  };
}

/** The public keys checkpoints may be signed with: the server's own and those installed in its key folder. */
export const trustedKeys = (integrity: Pick<Integrity, 'trusted'> | undefined) => integrity?.trusted() ?? new Map<string, string>();

/**
 * How the checkpoints are checked: the trusted public keys, and the mark beside this server's key.
 * `checkpoints`: a file log of before issue 15 item 3 to hold the chains to instead of the table
 * (`cellbatch verify --log FILE`, an older backup's log).
 */
export interface Trust { publicKeys: Map<string, string>; mark?: Mark | 'unreadable'; checkpoints?: Checkpoint[] }
export const trustOf = (integrity: Integrity | undefined): Trust => ({ publicKeys: trustedKeys(integrity), mark: integrity?.signer.mark() });

/** Verifies the chains and the signed checkpoints; the first problem found is located by table and row. */
export async function verifyRecord(store: Store, trust: Trust = { publicKeys: new Map() }): Promise<ChainReport> {
  const { checkpoints, logProblem } = await readCheckpoints(store, trust);
  return withMismatches(store, withLogProblem(await store.verifyChains(checkpoints), logProblem));
}

/** The same, hashing in worker threads on every core: for the server's start, GET /audit/verify and the CLI. */
export async function verifyRecordInParallel(store: Store, trust: Trust = { publicKeys: new Map() }): Promise<ChainReport> {
  const { checkpoints, logProblem } = await readCheckpoints(store, trust);
  return withMismatches(store, withLogProblem(await store.verifyChainsInParallel(checkpoints), logProblem));
}

/** A mutable row that disagrees with the chain makes the record invalid, and is named (table, row, field). */
async function withMismatches(store: Store, report: ChainReport): Promise<ChainReport> {
  const mismatches = [...await store.identityMismatches(), ...await masterRecordMismatches(store), ...await registryMismatches(store)];
  return mismatches.length ? { ...report, valid: false, mismatches } : report;
}

/** The signed checkpoints to hold the chains to: none when they are themselves damaged (reported instead). */
async function readCheckpoints(store: Store, trust: Trust): Promise<{ checkpoints: Checkpoint[]; logProblem: string | null }> {
  try {
    const checkpoints = trust.checkpoints ?? await store.checkpoints();
    const logProblem = checkCheckpointLog(checkpoints, trust.publicKeys, trust.mark);
    return { checkpoints: logProblem ? [] : checkpoints, logProblem };
  } catch (e) {
    return { checkpoints: [], logProblem: (e as Error).message };
  }
}

function withLogProblem(report: ChainReport, logProblem: string | null): ChainReport {
  if (!report.valid || !logProblem) return report;
  return { ...report, valid: false, firstInvalid: { table: 'checkpoints', seq: Number(/\d+/.exec(logProblem)?.[0] ?? 0), reason: logProblem, kind: 'chain' } };
}
