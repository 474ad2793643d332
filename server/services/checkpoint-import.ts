// The signed checkpoints of a site that kept them in a file (issue 15 item 3). Before they lived in the
// database, each app server signed the chain heads into its own `<CELLBATCH_DB>.checkpoints.jsonl`
// with a mark beside its key. At the first start after migration 0012 (PostgreSQL 0005) the log is
// verified with the trusted keys and its checkpoints are copied into the table in order, unchanged
// (numbers, times, links and signatures: an export made before still verifies), with one audit row
// `checkpoints.imported`; the file is kept unchanged as evidence and never written again
// (21 CFR 11.10(c): records protected for their retention; 11.10(e): the change is audited).
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { AppContext } from '../context.js';
import { CheckpointLog, checkCheckpointLog, checkpointHash } from '../store/checkpoints.js';
import { writeAudit } from './audit.js';
import { trustedKeys } from './integrity.js';

/**
 * Imports this server's file log when the table is still empty (under the write lock: of several app
 * servers starting at once, only the first imports; the others' logs stay as evidence, docs/deployment.md).
 * A log that does not verify is not imported and stops the start: its checkpoints would otherwise be
 * lost without a word. Then a mark written for the file log is carried over to the table (or set aside
 * when another server's log was imported), so the mark keeps naming the last row this server signed.
 */
export async function importCheckpointLog(ctx: AppContext): Promise<void> {
  const integrity = ctx.integrity;
  if (!integrity) return;
  const { signer, logFile } = integrity;
  const mark = signer.mark();
  const fileMark = typeof mark === 'object' && !mark.table;
  if (fs.existsSync(logFile) && (mark === undefined || fileMark) && !(await ctx.store.lastCheckpoint())) {
    const log = new CheckpointLog(logFile);
    const bytes = fs.readFileSync(logFile);
    let problem: string | null;
    let checkpoints: ReturnType<CheckpointLog['read']> = [];
    try {
      checkpoints = log.read();
      problem = checkCheckpointLog(checkpoints, trustedKeys(integrity), mark);
    } catch (e) {
      problem = (e as Error).message;
    }
    if (problem) {
      throw new Error(`the checkpoint log ${logFile} does not verify (${problem}): it is not imported into the database. Investigate with \`npm run cellbatch -- verify\` and restore the last good backup (docs/deployment.md)`);
    }
    if (checkpoints.length) {
      await ctx.store.transaction(async () => {
        if (await ctx.store.lastCheckpoint()) return; // another app server imported first
        await ctx.store.insertCheckpoints(checkpoints);
        await writeAudit(ctx.store, ctx.clock, {
          action: 'checkpoints.imported', userId: null, reason: 'signed checkpoints moved from the file log into the database',
          before: { file: logFile, sha256: crypto.createHash('sha256').update(bytes).digest('hex'), count: checkpoints.length },
          after: { count: checkpoints.length, lastN: checkpoints[checkpoints.length - 1]!.n },
        });
      });
    }
  }
  if (!fileMark) return;
  // A mark of the file log: carried over when the table holds the checkpoint it names, unchanged.
  const named = await ctx.store.checkpointNumbered(mark.n);
  if (named && checkpointHash(named) === mark.hash) {
    signer.remember(named);
    return;
  }
  // Another app server's log was imported, not this one's: this log (verified against its own mark)
  // stays as evidence, and the mark is set aside beside it; this server has signed no row of the table yet.
  const own = fs.existsSync(logFile) ? new CheckpointLog(logFile) : undefined;
  let ownProblem: string | null = 'the checkpoint log named by the mark is gone';
  try {
    if (own) ownProblem = checkCheckpointLog(own.read(), trustedKeys(integrity), mark);
  } catch (e) {
    ownProblem = (e as Error).message;
  }
  if (!ownProblem && signer.markFile) fs.renameSync(signer.markFile, `${signer.markFile}.file-log`);
  // else the mark stays: the start's check reports the table short of it (nothing is chained on).
}
