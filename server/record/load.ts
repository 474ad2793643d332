// Reads a batch from the store and replays it: the one way commands and views get a record.
import type { AppContext } from '../context.js';
import { notFound } from '../errors.js';
import type { BatchRow, EntryRow, SignatureRow } from '../store/store.js';
import type { ProcessDefinition } from '../../workflows/definition.js';
import type { LoadedProcess } from '../processes/registry.js';
import type { BatchRecord } from './record.js';
import { replayEntries } from './replay.js';
import { RecordMemo } from './memo.js';
import { parsePayload } from '../../schemas/entries.js';

/** The definition a batch was started with (pinned by content hash), compiled once. */
export async function processOf(ctx: AppContext, row: BatchRow): Promise<LoadedProcess> {
  const known = ctx.processes.byContentHash(row.processHash);
  if (known) return known;
  const stored = await ctx.store.getDefinition(row.processHash);
  if (!stored) throw new Error(`definition ${row.processHash} of batch ${row.id} is missing from the store`);
  return ctx.processes.remember(JSON.parse(stored.definition) as ProcessDefinition, row.processHash);
}

/** Loads and replays a batch; 404 when it does not exist. Entries already folded by this process are not folded again (memo.ts). */
export async function loadBatch(ctx: AppContext, id: string): Promise<BatchRecord> {
  const row = await ctx.store.getBatch(id);
  if (!row) throw notFound('batch', id);
  const entries = await ctx.store.entriesOfBatch(id);
  const process = await processOf(ctx, row);
  const signatures = await ctx.store.signaturesOfBatch(id);
  const identity = chainedIdentity(row, entries);
  const memo = recordMemo(ctx);
  const kept = memo.recall(process, identity, entries, signatures);
  if (kept) return kept;
  const record = replayEntries(process, identity, entries, signatures);
  memo.remember(record);
  return record;
}

const memos = new WeakMap<AppContext, RecordMemo>();
/** The records this application has folded (one memo per context: a test's app and its database). */
export function recordMemo(ctx: AppContext): RecordMemo {
  let memo = memos.get(ctx);
  if (!memo) memos.set(ctx, memo = new RecordMemo());
  return memo;
}

/** Replays a batch's entries; its signatures are read unless the caller has them. */
export async function replay(ctx: AppContext, row: BatchRow, entries: EntryRow[], signatures?: SignatureRow[]): Promise<BatchRecord> {
  return replayEntries(await processOf(ctx, row), chainedIdentity(row, entries), entries, signatures ?? await ctx.store.signaturesOfBatch(row.id));
}

/**
 * 21 CFR 11.10(a), 211.188(b): a batch's identity (batch number, DIN, chain of identity, patient and
 * weight) is what its hash-chained `batch-created` entry holds, never the mutable `batches` row, for
 * replay, identity scans and per-kg doses. A row that disagrees is reported by verification.
 */
export function chainedIdentity(row: BatchRow, entries: EntryRow[]): BatchRow {
  const created = entries.find((e) => e.kind === 'batch-created');
  if (!created) return row;
  const p = parsePayload('batch-created', created.payload);
  return { ...row, batchNumber: p.batchNumber, din: p.din, dinCheck: p.dinCheck, chainOfIdentityId: p.chainOfIdentityId, patient: p.patient ?? null };
}

/** Whether the stored row shows the identity its creation entry holds. */
export function rowMatchesChain(row: BatchRow, entries: EntryRow[]): boolean {
  const c = chainedIdentity(row, entries);
  return c.batchNumber === row.batchNumber && c.din === row.din && c.dinCheck === row.dinCheck && c.chainOfIdentityId === row.chainOfIdentityId
    && JSON.stringify(c.patient) === JSON.stringify(row.patient);
}
