// The record's integrity without holding up the start (issue 15 item 5). Verifying every chain takes
// time that grows with the record (47 s on 15 M rows), so the server serves first and verifies in the
// background, again on a schedule and on demand (GET /audit/verify); until the first verification has
// finished, integrity is `pending` (GET /healthz) and a failure is an alert for QA and the administrator
// (GET /alerts). What must not wait is the guarantee that nothing is chained onto a tampered tail
// (21 CFR 11.10(a), Annex 11 §7): before anything is written, the chain heads are compared with the
// last signed checkpoint — three rows, however large the record. docs/design-decisions.md.
import type { AppContext } from '../context.js';
import { AppError, alreadyAudited } from '../errors.js';
import { CHAIN_TABLES, checkLastCheckpoint, type Checkpoint } from '../store/checkpoints.js';
import type { ChainReport } from '../store/store.js';
import { trustedKeys, trustOf, verifyRecordInParallel } from './integrity.js';

export type IntegrityStatus = 'pending' | 'verified' | 'failed';

/**
 * Whether the record takes writes: `open`; `waiting` for the full verification (rows the last signed
 * checkpoint does not cover, as after a crash: they are shown intact before anything is chained onto
 * them); `refused` (the tail disagrees with the signed checkpoint, or a waited-for verification failed).
 */
export type WriteGate =
  | { state: 'open' }
  | { state: 'waiting' | 'refused'; detail: string };

export interface RecordCheck {
  /** The last full verification's report (undefined until one has finished). */
  report?: ChainReport;
  status: IntegrityStatus;
  /** When the last full verification finished. */
  checkedAt?: string;
  writes: WriteGate;
  /** Runs a full verification (one at a time: a call while one runs gets that one's report). */
  verify: () => Promise<ChainReport>;
}

export const OPEN: WriteGate = { state: 'open' };

/** The state of a context before anything was checked: pending, writes open (an in-memory database has no checkpoints). */
export const uncheckedRecord = (ctx: AppContext): RecordCheck => ({ status: 'pending', writes: OPEN, verify: () => verifyNow(ctx, verifyInFull) });

/**
 * How this context verifies from now on: `verify` (tests inject a slower one), then `onIntact` once a
 * report shows the record intact with writes open. Calls while a verification runs share it.
 */
export function useVerifier(ctx: AppContext, verify: Verifier, onIntact?: () => Promise<void>) {
  let running: Promise<ChainReport> | undefined;
  ctx.recordCheck.verify = () => (running ??= verifyNow(ctx, verify, onIntact).finally(() => { running = undefined; }));
}

/**
 * The cheap check at start: the chain heads now against the heads the last signed checkpoint recorded.
 * A chain shorter than signed (rows removed) or a signed last row that differs (rewritten) refuses
 * writes at once; rows beyond the checkpoint make writes wait for the full verification.
 */
export async function checkTail(ctx: AppContext): Promise<WriteGate> {
  const integrity = ctx.integrity;
  if (!integrity) return OPEN;
  // The site's last checkpoint, whichever app server signed it (issue 15 item 3): a restart waits only
  // for rows appended after it, not for every row the other servers wrote since this one last signed.
  // Read before the heads: another server may sign meanwhile, and heads read later only reach further.
  let last: Checkpoint | undefined;
  let named: Checkpoint | undefined;
  const mark = integrity.signer.mark();
  try {
    last = await ctx.store.lastCheckpoint();
    if (typeof mark === 'object') named = await ctx.store.checkpointNumbered(mark.n);
  } catch (e) {
    return { state: 'refused', detail: `the signed checkpoints cannot be read (${(e as Error).message}): nothing is chained onto a record that cannot be checked` };
  }
  const heads = await ctx.store.heads();
  const problem = checkLastCheckpoint(last, named, trustedKeys(integrity), mark);
  if (problem) return { state: 'refused', detail: `the signed checkpoints are damaged (${problem}): nothing is chained onto a record that cannot be checked` };
  if (!last) {
    return CHAIN_TABLES.every((t) => heads[t].seq === 0) ? OPEN
      : { state: 'waiting', detail: 'no signed checkpoint covers the record yet: writes wait until the full verification has shown it intact' };
  }
  for (const t of CHAIN_TABLES) {
    const signed = last.heads[t];
    if (heads[t].seq < signed.seq) return { state: 'refused', detail: `the ${t} chain ends at row ${heads[t].seq}, but signed checkpoint ${last.n} recorded row ${signed.seq}: rows were removed` };
    if (heads[t].seq === signed.seq && heads[t].hash !== signed.hash) return { state: 'refused', detail: `row ${signed.seq} of the ${t} chain differs from what signed checkpoint ${last.n} recorded: the record was rewritten` };
  }
  if (CHAIN_TABLES.some((t) => heads[t].seq > last.heads[t].seq)) {
    return { state: 'waiting', detail: `rows were written after the last signed checkpoint (${last.n}), as after a crash: writes wait until the full verification has shown them intact` };
  }
  return OPEN;
}

/** How the record is verified in full (tests inject a slower one). */
export type Verifier = (ctx: AppContext) => Promise<ChainReport>;
export const verifyInFull: Verifier = (ctx) => verifyRecordInParallel(ctx.store, trustOf(ctx.integrity));

/**
 * Runs one full verification and records its outcome. A record shown intact opens writes that were
 * waiting for it (and `onIntact` runs: the start's checkpoint, the master records); a failure refuses
 * writes that were waiting, and stays an open alert until a verification passes.
 */
export async function verifyNow(ctx: AppContext, verify: Verifier, onIntact?: () => Promise<void>): Promise<ChainReport> {
  const report = await verify(ctx);
  const check = ctx.recordCheck;
  check.report = report;
  check.checkedAt = ctx.clock.wall().toISOString();
  check.status = report.valid ? 'verified' : 'failed';
  if (check.writes.state === 'waiting') {
    check.writes = report.valid ? OPEN
      : { state: 'refused', detail: `the full verification failed (${report.firstInvalid?.reason ?? 'see GET /audit/verify'}): nothing is chained onto it` };
  }
  if (report.valid && check.writes.state === 'open') await onIntact?.();
  return report;
}

/** 503 for a write while the record's tail is not shown intact (never audited: that would chain onto it). */
export function assertWritable(ctx: AppContext) {
  const gate = ctx.recordCheck.writes;
  if (gate.state === 'open') return;
  const e = gate.state === 'waiting'
    ? new AppError('record-verifying', 503, `the record is being verified before anything is added to it: ${gate.detail}`)
    : new AppError('record-tail-altered', 503, `the record disagrees with its last signed checkpoint; nothing is recorded until QA has investigated (GET /audit/verify, GET /alerts): ${gate.detail}`);
  if (gate.state === 'waiting') e.retryAfter = 30;
  throw alreadyAudited(e);
}

/** The open alert of a record that failed verification or whose tail was refused (GET /alerts). */
export function integrityAlerts(ctx: AppContext) {
  const { status, report, writes, checkedAt } = ctx.recordCheck;
  const reasons = [
    ...(writes.state === 'refused' ? [writes.detail] : []),
    ...(status === 'failed' && report?.firstInvalid ? [`${report.firstInvalid.reason} (table ${report.firstInvalid.table}, row ${report.firstInvalid.seq})`] : []),
    ...(status === 'failed' && report?.mismatches?.length ? [`${report.mismatches.length} mutable row(s) disagree with the chain`] : []),
  ];
  if (!reasons.length && status !== 'failed') return [];
  return [{
    id: 'record-integrity', kind: 'record-integrity' as const, at: checkedAt ?? ctx.clock.wall().toISOString(), userId: null,
    detail: `the record failed verification: ${reasons.join('; ') || 'see GET /audit/verify'}`, open: true,
  }];
}
