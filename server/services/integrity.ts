// Verification of the whole record: every hash chain (entries, signatures, audit) recomputed row by
// row, checked against the signed checkpoints of the chain heads, whose signatures and sequence are
// checked too (21 CFR 11.10(a)).
import path from 'node:path';
import { CheckpointLog, checkCheckpointLog, loadOrCreateKey, type Checkpoint } from '../store/checkpoints.js';
import type { ChainReport, Store } from '../store/store.js';
import { tighten } from '../store/sqlite/database.js';
import { masterRecordMismatches } from '../processes/verify-master-records.js';
import { registryMismatches } from './registries-in-chain.js';

export const checkpointLogFile = (dbFile: string) => `${dbFile}.checkpoints.jsonl`;
export const defaultKeyDir = (dbFile: string) => path.join(path.dirname(path.resolve(dbFile)), 'keys');

export function openIntegrity(dbFile: string, keyDir = process.env.CELLBATCH_KEY_DIR ?? defaultKeyDir(dbFile)) {
  const key = loadOrCreateKey(keyDir, () => new Date());
  tighten(checkpointLogFile(dbFile)); // made 0640 by earlier versions

  return { key, log: new CheckpointLog(checkpointLogFile(dbFile), key, path.join(keyDir, 'checkpoint-latest.json')) };
}

/** The public keys checkpoints may be signed with: the server's own key. */
export const signingKeys = (integrity: { key: { id: string; publicKeyPem: string } } | undefined) =>
  new Map<string, string>(integrity ? [[integrity.key.id, integrity.key.publicKeyPem]] : []);

/** Verifies the chains and the checkpoint log; the first problem found is located by table and row. */
export async function verifyRecord(store: Store, log?: CheckpointLog, publicKeys = new Map<string, string>()): Promise<ChainReport> {
  const { checkpoints, logProblem } = readCheckpoints(log, publicKeys);
  return withMismatches(store, withLogProblem(await store.verifyChains(checkpoints), logProblem));
}

/** The same, hashing in worker threads on every core: for the server's start, GET /audit/verify and the CLI. */
export async function verifyRecordInParallel(store: Store, log?: CheckpointLog, publicKeys = new Map<string, string>()): Promise<ChainReport> {
  const { checkpoints, logProblem } = readCheckpoints(log, publicKeys);
  return withMismatches(store, withLogProblem(await store.verifyChainsInParallel(checkpoints), logProblem));
}

/** A mutable row that disagrees with the chain makes the record invalid, and is named (table, row, field). */
async function withMismatches(store: Store, report: ChainReport): Promise<ChainReport> {
  const mismatches = [...await store.identityMismatches(), ...await masterRecordMismatches(store), ...await registryMismatches(store)];
  return mismatches.length ? { ...report, valid: false, mismatches } : report;
}

/** The signed checkpoints to hold the chains to: none when the log itself is damaged (reported instead). */
function readCheckpoints(log: CheckpointLog | undefined, publicKeys: Map<string, string>): { checkpoints: Checkpoint[]; logProblem: string | null } {
  try {
    const checkpoints = log?.read() ?? [];
    const logProblem = log ? checkCheckpointLog(checkpoints, publicKeys, log.mark()) : null;
    return { checkpoints: logProblem ? [] : checkpoints, logProblem };
  } catch (e) {
    return { checkpoints: [], logProblem: (e as Error).message };
  }
}

function withLogProblem(report: ChainReport, logProblem: string | null): ChainReport {
  if (!report.valid || !logProblem) return report;
  return { ...report, valid: false, firstInvalid: { table: 'checkpoints', seq: Number(/\d+/.exec(logProblem)?.[0] ?? 0), reason: logProblem, kind: 'chain' } };
}
