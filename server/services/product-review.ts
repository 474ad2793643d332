// What the periodic review of a period reads (EU GMP Annex 11 §11 periodic evaluation; 21 CFR
// 211.180(e) annual product review; EU GMP Part I §1.10 product quality review): the batches started,
// released, rejected and terminated, by product and process version; the deviations opened, by class
// and root cause; out-of-specification results; late entries; what was still open at the end of the
// period (deviations, with their CAPA references); account changes and lockouts; and what verified
// the record. Every fact comes from the audit trail, the replayed batch records, the deviations' read
// model, the checkpoint log and the users table — no second copy. All of the report's reads of the
// store are in this file. A period is inclusive at both ends, as GET /audit filters it.
import type { AppContext } from '../context.js';
import type { AuditRow } from '../store/store.js';
import { loadBatch } from '../record/load.js';
import { recordExceptions } from '../record/exceptions.js';
import { integrityOf } from '../record/integrity.js';
import { listDeviations } from '../views/deviation-list.js';
import { periodicReview } from './account-review.js';

/** The version of the periodic review's JSON (attached to its PDF as periodic-review.json). */
export const PERIODIC_REVIEW_FORMAT = 'cellbatch.periodic-review/2';

/** Rows that record an export: a document cannot contain the record of its own export (API.md "PDF bytes"). */
const EXPORT_ACTIONS = new Set(['record.exported', 'report.exported']);

const inPeriod = (at: string | undefined, from: string, to: string) => at !== undefined && at >= from && at <= to;
const parse = (s: string | null) => (s === null ? undefined : (JSON.parse(s) as Record<string, unknown>));

export async function productReview(ctx: AppContext, from: string, to: string) {
  // One pass over the period's audit trail: the batches with activity in the period, and the acts.
  const rows: AuditRow[] = [];
  for await (const a of ctx.store.iterateAudit({ from, to })) rows.push(a);
  const active = [...new Set(rows.flatMap((a) => (a.batchId ? [a.batchId] : [])))];
  const records = new Map(await Promise.all(active.map(async (id) => [id, await loadBatch(ctx, id)] as const)));
  const batchOf = (id: string) => {
    const r = records.get(id)!;
    return {
      batchId: id, batchNumber: r.row.batchNumber, productType: r.process.definition.productType, processId: r.row.processId,
      processVersion: r.row.processVersion, training: r.row.training,
    };
  };

  // Batches: started (created), disposed of (release, exceptional release, reject) and terminated in the period.
  type BatchEvent = ReturnType<typeof batchOf> & { event: 'started' | 'released' | 'released-exceptionally' | 'rejected' | 'terminated'; at: string; conditional?: true };
  const events = rows.flatMap((a): BatchEvent[] => {
    if (!a.batchId) return [];
    const after = parse(a.after);
    if (a.action === 'batch.created') return [{ ...batchOf(a.batchId), event: 'started' as const, at: a.at }];
    if (a.action === 'batch.terminated') return [{ ...batchOf(a.batchId), event: 'terminated' as const, at: a.at }];
    if (a.action !== 'batch.disposed') return [];
    const decision = after?.decision as string;
    const event = decision === 'reject' ? 'rejected' : decision === 'exceptional-release' ? 'released-exceptionally' : 'released';
    return [{ ...batchOf(a.batchId), event, at: a.at, ...(after?.conditional === true && { conditional: true }) }];
  });
  const groups = new Map<string, { productType: string; processId: string; processVersion: number; started: number; released: number; releasedExceptionally: number; rejected: number; terminated: number; training: number }>();
  for (const e of events) {
    const key = `${e.productType}|${e.processId}|${e.processVersion}`;
    const g = groups.get(key) ?? { productType: e.productType, processId: e.processId, processVersion: e.processVersion, started: 0, released: 0, releasedExceptionally: 0, rejected: 0, terminated: 0, training: 0 };
    if (e.event === 'started') { g.started++; if (e.training) g.training++; }
    if (e.event === 'released') g.released++;
    if (e.event === 'released-exceptionally') g.releasedExceptionally++;
    if (e.event === 'rejected') g.rejected++;
    if (e.event === 'terminated') g.terminated++;
    groups.set(key, g);
  }

  // Deviations opened in the period, by class (kind and severity) and root cause; results out of
  // specification and late entries recorded in the period (the review's own rules: record/exceptions.ts).
  const deviations = [...records.values()].flatMap((r) => r.deviations.filter((d) => inPeriod(d.openedAt, from, to)).map((d) => ({
    id: d.id, batchNumber: r.row.batchNumber, kind: d.kind, severity: d.severity, status: d.status, openedAt: d.openedAt, description: d.description,
    ...(d.stepId && { stepId: d.stepId }), rootCause: d.investigation?.rootCause ?? null, capaReference: d.investigation?.capaReference ?? null,
  }))).sort((a, b) => a.openedAt.localeCompare(b.openedAt));
  const count = <T>(items: T[], key: (x: T) => string) => [...items.reduce((m, x) => m.set(key(x), (m.get(key(x)) ?? 0) + 1), new Map<string, number>())]
    .map(([k, n]) => ({ key: k, count: n })).sort((a, b) => b.count - a.count || a.key.localeCompare(b.key));
  const exceptions = [...records.values()].flatMap((r) => recordExceptions(r)
    .filter((x) => (x.kind === 'out-of-specification' || x.kind === 'late-entry') && inPeriod(x.at, from, to))
    .map((x) => ({ kind: x.kind, batchNumber: r.row.batchNumber, ...(x.stepId && { stepId: x.stepId, step: r.process.definition.phases.flatMap((p) => p.steps).find((s) => s.id === x.stepId)?.title.en }), at: x.at, why: x.why.en })))
    .sort((a, b) => a.at.localeCompare(b.at));

  // Open at the end of the period: deviations opened by then and not closed by then, site-wide (the
  // deviations' read model), with the CAPA reference their investigation names.
  const openAtEnd = [];
  let cursor: string | undefined;
  do {
    const page = await listDeviations(ctx, { limit: 500, cursor });
    for (const d of page.items) {
      if (d.openedAt > to || (d.closure && d.closure.closedAt <= to)) continue;
      openAtEnd.push({
        id: d.id, batchNumber: d.batchNumber, kind: d.kind, severity: d.severity, openedAt: d.openedAt,
        statusNow: d.status, ...(d.closure && { closedAt: d.closure.closedAt }), capaReference: d.investigation?.capaReference ?? null,
      });
    }
    cursor = page.nextCursor;
  } while (cursor);

  // What verified the record: checkpoints signed in the period, the last full verification, and the
  // integrity of each batch with activity in the period.
  const checkpoints = (await ctx.store.checkpoints()).filter((c) => inPeriod(c.at, from, to));
  const report = ctx.recordCheck.report;
  const accounts = await periodicReview(ctx, from, to);

  const ids = new Set([...accounts.privilegeChanges, ...accounts.lockouts, ...accounts.unlocks].flatMap((e) => [e.by, e.userId]).filter((x): x is string => !!x));
  const people = (await Promise.all([...ids].sort().map(async (id) => { const u = await ctx.store.findUserById(id); return u ? [{ id, username: u.username, fullName: u.fullName }] : []; }))).flat();

  // The review is as of the newest row it covers — an act of the period (its exports left out), a
  // checkpoint signed in it, a closure after it that "what stayed open" shows — never the clock, so
  // that the same record gives the same document (regulations.md P3), however often it is read. With
  // nothing in the period, the period's start.
  const asOf = [
    ...rows.filter((a) => !EXPORT_ACTIONS.has(a.action)).map((a) => a.at),
    ...checkpoints.map((c) => c.at),
    ...openAtEnd.flatMap((d) => (d.closedAt ? [d.closedAt] : [])),
  ].reduce((latest, at) => (at > latest ? at : latest), from);

  return {
    format: PERIODIC_REVIEW_FORMAT,
    period: { from, to },
    asOf,
    timeZone: ctx.config.timeZone,
    batches: { byProduct: [...groups.values()].sort((a, b) => `${a.productType}|${a.processId}|${a.processVersion}`.localeCompare(`${b.productType}|${b.processId}|${b.processVersion}`)), events },
    deviations: {
      opened: deviations,
      byClass: count(deviations, (d) => `${d.kind} · ${d.severity}`),
      byRootCause: count(deviations, (d) => d.rootCause?.trim() || '—'),
    },
    outOfSpecification: exceptions.filter((x) => x.kind === 'out-of-specification'),
    lateEntries: exceptions.filter((x) => x.kind === 'late-entry'),
    openAtEnd,
    accounts: { people, privilegeChanges: accounts.privilegeChanges, lockouts: accounts.lockouts, unlocks: accounts.unlocks, failedLogins: accounts.users.filter((u) => u.failedLoginsInPeriod > 0).map((u) => ({ username: u.username, fullName: u.fullName, count: u.failedLoginsInPeriod })) },
    verification: {
      checkpoints: { count: checkpoints.length, byReason: count(checkpoints, (c) => c.reason), first: checkpoints[0]?.at ?? null, last: checkpoints.at(-1)?.at ?? null },
      lastFullVerification: report ? { valid: report.valid, checked: report.checked, ...(report.firstInvalid && { firstInvalid: report.firstInvalid }), mismatches: report.mismatches?.length ?? 0 } : null,
      batches: await Promise.all([...records.values()].map(async (r) => ({ batchNumber: r.row.batchNumber, intact: await integrityOf(ctx, r) }))),
    },
  };
}

export type ProductReview = Awaited<ReturnType<typeof productReview>>;
