// The one way a command writes to a batch: inside ONE immediate transaction, check that nobody wrote
// since the batch was replayed (optimistic concurrency: 409), append entries, signatures and audit
// rows, then refresh the projection and the lists' rows from the replayed entries. Starting a batch is the same write
// on a batch with no entries yet (startBatch).
import type { AppContext } from '../context.js';
import { conflict, locked, unauthorized } from '../errors.js';
import type { BatchRow, EntryRow, UserRow } from '../store/store.js';
import { writeAudit, type AuditEvent } from '../services/audit.js';
import type { AuditAction, AuditAfter } from '../../schemas/audit-actions.js';
import { recordMemo, replay } from '../record/load.js';
import { replayAppended } from '../record/replay.js';
import { openDeviationCount, statusOfRecord, type BatchRecord } from '../record/record.js';
import { serializeRecordState } from '../record/record-state.js';
import { deviationRows, pendingRows } from '../record/list-rows.js';
import type { EntryKind, EntryPayload } from '../../schemas/entries.js';
import { randomUUID } from 'node:crypto';

export interface BatchWriter {
  entry<K extends EntryKind>(kind: K, payload: EntryPayload<K>, stepId?: string): Promise<EntryRow>;
  sign(entry: EntryRow, signer: UserRow, meaning: string): Promise<void>;
  audit<A extends AuditAction>(e: BatchAuditEvent<A>): Promise<void>;
}

/** An audit event of the batch being written: the acting user and the batch are the writer's. */
export type BatchAuditEvent<A extends AuditAction> = A extends AuditAction ? Omit<AuditEvent<A>, 'userId' | 'batchId'> : never;

export function assertVersion(record: BatchRecord, expectedVersion: number | undefined) {
  if (expectedVersion !== undefined && expectedVersion !== record.version) {
    throw conflict('stale-version', `the batch is at version ${record.version}, not ${expectedVersion}: reload it and try again`)
      .inVietnamese(`lô đang ở phiên bản ${record.version}, không phải ${expectedVersion}`);
  }
}

export async function appendToBatch<T>(ctx: AppContext, record: BatchRecord, actor: UserRow, write: (w: BatchWriter) => Promise<T>): Promise<{ result: T; record: BatchRecord }> {
  return committed(ctx, await ctx.store.transaction(async () => {
    // Another request may have committed while this one awaited a password check.
    const version = await ctx.store.batchVersion(record.row.id);
    if (version !== record.version) {
      throw conflict('stale-version', `the batch changed while this request was processed (version ${version}); reload it and try again`)
        .inVietnamese(`lô đã thay đổi trong lúc yêu cầu này được xử lý (phiên bản ${version})`);
    }
    return append(ctx, record, actor, write);
  }));
}

/**
 * Starts a batch in ONE immediate transaction: `newRow` runs inside it (checks that need the lock,
 * such as a DIN in use, and the batch number), the row is inserted with no entries, and `write`
 * appends its first entries through the same writer as every other command.
 */
export async function startBatch<T>(ctx: AppContext, actor: UserRow, newRow: () => Promise<BatchRow>, write: (w: BatchWriter) => Promise<T>): Promise<{ result: T; record: BatchRecord }> {
  return committed(ctx, await ctx.store.transaction(async () => {
    const row = await newRow();
    await ctx.store.insertBatch(row);
    return append(ctx, await replay(ctx, row, [], []), actor, write);
  }));
}

/** Once the write has committed, its record is what the next request on the batch would fold from the same entries (record/memo.ts). */
function committed<T extends { record: BatchRecord }>(ctx: AppContext, out: T): T {
  recordMemo(ctx).remember(out.record);
  return out;
}

/** Inside the caller's transaction: appends what `write` says, replays, audits a status change, saves the projection. */
async function append<T>(ctx: AppContext, record: BatchRecord, actor: UserRow, write: (w: BatchWriter) => Promise<T>): Promise<{ result: T; record: BatchRecord }> {
  const { store, clock } = ctx;
  {
    const now = clock.now().toISOString();
    // Nothing else can write to the batch inside this transaction: the record after it is the record
    // before it plus what is appended here, and is replayed from memory.
    const entries = [...record.entries];
    const signatures = [...record.signatures];
    const writer: BatchWriter = {
      entry: async (kind, payload, stepId) => {
        const entry = await store.appendEntry({
          id: randomUUID(), batchId: record.row.id, kind, stepId: stepId ?? null, payload: JSON.stringify(payload),
          recordedAt: now, actorId: actor.id, training: record.row.training,
        });
        entries.push(entry);
        return entry;
      },
      sign: async (entry, signer, meaning) => {
        // 21 CFR 11.300(d): a lock (or deactivation) that landed after the signer's password check wins.
        const current = await store.findUserById(signer.id);
        if (current?.locked) throw locked(`the account ${signer.username} was locked while this signature was being checked`);
        if (!current?.active) throw unauthorized(`the account ${signer.username} was deactivated while this signature was being checked`);
        signatures.push(await store.appendSignature({
          id: randomUUID(), entryId: entry.id, entryHash: entry.hash, entrySeq: entry.seq, userId: signer.id, username: signer.username,
          printedName: signer.fullName, meaning, signedAt: now,
        }));
      },
      audit: async (e) => void await writeAudit(store, clock, { ...e, userId: actor.id, batchId: record.row.id } as AuditEvent),
    };
    const result = await write(writer);
    let next: BatchRecord;
    try {
      // Only what this write appended is folded: the record before it was replayed by the command.
      next = replayAppended(record, entries, signatures);
    } catch (e) {
      // The machine refuses what was appended: the command missed a rule. Roll back, refuse (409).
      throw conflict('not-allowed-now', `the process does not allow this now (${(e as Error).message})`)
        .inVietnamese(`quy trình không cho phép việc này lúc này (${(e as Error).message})`);
    }
    const [before, after] = [statusOfRecord(record), statusOfRecord(next)];
    // 21 CFR 11.10(e): a state change of the batch is an event of its own in the audit trail.
    if (before !== after) await writer.audit({ action: 'batch.status-changed', entity: 'batch', entityId: record.row.id, before: { status: before }, after: { status: after } });
    // The read model the lists serve, in the same transaction as what it is read from.
    const state = { status: after, version: next.version, openDeviations: openDeviationCount(next), updatedAt: now, recordState: serializeRecordState(next) };
    await store.saveBatchState(record.row.id, state);
    // The site-wide lists' rows of this batch (GET /deviations, GET /me/pending), all or nothing with the entries.
    await store.replaceBatchLists(record.row.id, { deviations: deviationRows(next), pending: pendingRows(next) });
    return { result, record: { ...next, row: { ...next.row, ...state } } };
  }
}

/** Audits a refused attempt (one row) without touching the record. */
export async function auditRefusal<A extends 'step.refused' | 'identity.mismatch' | 'signature.refused'>(ctx: AppContext, actor: UserRow, record: BatchRecord, action: A, reason: string, after: AuditAfter<A>) {
  await ctx.store.transaction(() => writeAudit(ctx.store, ctx.clock, { userId: actor.id, action, entity: 'batch', entityId: record.row.id, batchId: record.row.id, reason, after } as AuditEvent));
}
