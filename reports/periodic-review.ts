// The periodic review as an archival PDF (issue 13 item 5; EU GMP Annex 11 §11 periodic evaluation;
// 21 CFR 211.180(e) annual product review): what QA reads and signs off once a period is over —
// batches by product and process version, deviations by class and root cause, results out of
// specification, late entries, what stayed open, account changes and lockouts, and how the record
// verified. A pure function of the review's data (server/services/product-review.ts, attached as
// periodic-review.json) and a language: its date (asOf, the newest row it covers) comes in with the data,
// never from a clock, so the same data gives the same bytes.
import { createHash } from 'node:crypto';
import type { ProductReview } from '../server/services/product-review.js';
import { openReport } from './document.js';
import { formatTime } from './format.js';
import type { Cell, Sheet } from './layout.js';
import { fill, messages, type Messages, type ReportLang } from './messages/index.js';
import { RED } from './record-parts.js';

export interface PeriodicReviewInput {
  review: ProductReview;
  /** The review's bytes as attached (periodic-review.json). */
  reviewJson: Buffer;
  lang: ReportLang;
}

interface Ctx { m: Messages; lang: ReportLang; t: (iso: string) => string }

const MUTED = '#555555';
const clip = (t: string, n: number) => (t.length > n ? `${t.slice(0, n)} … (periodic-review.json)` : t);

export async function renderPeriodicReview({ review, reviewJson, lang }: PeriodicReviewInput): Promise<Buffer> {
  const m = messages[lang];
  const c: Ctx = { m, lang, t: (iso) => formatTime(iso, lang, review.timeZone) };
  const p = m.periodic;
  const sha = createHash('sha256').update(reviewJson).digest('hex');
  const from = c.t(review.period.from);
  const to = c.t(review.period.to);
  const { sheet, end } = openReport({
    title: `${p.title} ${review.period.from} – ${review.period.to}`, subject: fill(p.subject, { from: review.period.from, to: review.period.to }),
    lang, date: new Date(review.asOf), keywords: `periodic-review.json SHA-256 ${sha}`,
    attachment: { name: 'periodic-review.json', data: reviewJson, mimeType: 'application/json', description: `${review.format}: the periodic review of ${review.period.from} to ${review.period.to}` },
    frame: { header: fill(p.header, { from, to }), footer: fill(p.footer, { time: c.t(review.asOf) }) }, m,
  });
  sheet.paragraph(p.title, { bold: true, size: 18 });
  sheet.paragraph(p.basis, { size: 10 });
  sheet.gap();
  sheet.keyValues([
    [p.period, [{ text: `${from} – ${to}`, bold: true }]],
    [p.generated, c.t(review.asOf)],
    [p.timeZone, review.timeZone],
    [m.cover.attachment, fill(p.attachmentText, { format: review.format, sha })],
  ]);
  batches(sheet, c, review);
  deviations(sheet, c, review);
  exceptions(sheet, c, p.oos, review.outOfSpecification);
  exceptions(sheet, c, p.late, review.lateEntries);
  openAtEnd(sheet, c, review);
  accounts(sheet, c, review);
  verification(sheet, c, review);
  return end();
}

function batches(s: Sheet, c: Ctx, review: ProductReview) {
  const p = c.m.periodic;
  s.heading(p.batches, 2);
  const groups = review.batches.byProduct;
  if (groups.length === 0) return s.note(p.none);
  s.table(
    [{ header: p.product, width: 0.16 }, { header: p.process, width: 0.2 }, { header: p.started, width: 0.14 }, { header: p.released, width: 0.12 }, { header: p.exceptional, width: 0.14 }, { header: p.rejected, width: 0.12 }, { header: p.terminated, width: 0.12 }],
    groups.map((g) => [
      [{ text: g.productType, bold: true }], `${g.processId} v${g.processVersion}`,
      [{ text: String(g.started) }, ...(g.training ? [{ text: fill(p.trainingNote, { n: g.training }), color: MUTED }] : [])],
      String(g.released), g.releasedExceptionally ? [{ text: String(g.releasedExceptionally), bold: true, color: RED }] : '0',
      g.rejected ? [{ text: String(g.rejected), bold: true, color: RED }] : '0', String(g.terminated),
    ]),
  );
  s.heading(p.batchEvents, 3);
  s.table(
    [{ header: p.time, width: 0.24 }, { header: p.batch, width: 0.28 }, { header: p.product, width: 0.14 }, { header: p.process, width: 0.14 }, { header: p.event, width: 0.2 }],
    review.batches.events.map((e) => [
      c.t(e.at), e.batchNumber, e.productType, `${e.processId} v${e.processVersion}`,
      [{ text: [p.events[e.event] ?? e.event, e.conditional ? p.events.conditional : ''].filter(Boolean).join(' · '), ...(e.event !== 'started' && e.event !== 'released' && { color: RED }) }],
    ]),
    { size: 7.5 },
  );
}

function deviations(s: Sheet, c: Ctx, review: ProductReview) {
  const p = c.m.periodic;
  const d = review.deviations;
  s.heading(p.deviations, 2);
  if (d.opened.length === 0) return s.note(p.none);
  s.heading(p.byClass, 3);
  s.table([{ header: p.class, width: 0.8 }, { header: p.count, width: 0.2 }], d.byClass.map((x) => [x.key, String(x.count)]));
  s.heading(p.byRootCause, 3);
  s.table([{ header: p.rootCause, width: 0.8 }, { header: p.count, width: 0.2 }], d.byRootCause.map((x) => [x.key === '—' ? [{ text: p.notInvestigated, color: MUTED }] : x.key, String(x.count)]));
  s.table(
    [{ header: p.opened, width: 0.16 }, { header: p.batch, width: 0.18 }, { header: p.class, width: 0.12 }, { header: p.status, width: 0.13 }, { header: c.m.deviation.description, width: 0.23 }, { header: p.rootCause, width: 0.18 }],
    d.opened.map((x) => [
      c.t(x.openedAt), x.batchNumber, `${x.kind} · ${x.severity}`, x.status, clip(x.description, 300),
      [{ text: x.rootCause ?? p.notInvestigated, ...(!x.rootCause && { color: MUTED }) }, ...(x.capaReference ? [{ text: `${p.capa}: ${x.capaReference}` }] : [])],
    ]),
    { size: 7.5 },
  );
}

function exceptions(s: Sheet, c: Ctx, title: string, items: ProductReview['lateEntries']) {
  const p = c.m.periodic;
  s.heading(title, 2);
  if (items.length === 0) return s.note(p.none);
  s.note(p.whyNote);
  s.table(
    [{ header: p.time, width: 0.18 }, { header: p.batch, width: 0.2 }, { header: p.step, width: 0.18 }, { header: p.why, width: 0.44 }],
    items.map((x) => [c.t(x.at), x.batchNumber, x.step ?? x.stepId ?? '', x.why]),
    { size: 7.5 },
  );
}

function openAtEnd(s: Sheet, c: Ctx, review: ProductReview) {
  const p = c.m.periodic;
  s.heading(p.openAtEnd, 2);
  if (review.openAtEnd.length === 0) return s.note(p.none);
  s.table(
    [{ header: p.opened, width: 0.18 }, { header: p.batch, width: 0.2 }, { header: p.class, width: 0.16 }, { header: p.statusNow, width: 0.24 }, { header: p.capa, width: 0.22 }],
    review.openAtEnd.map((x) => [
      c.t(x.openedAt), x.batchNumber, `${x.kind} · ${x.severity}`,
      x.closedAt ? fill(p.closedAfter, { time: c.t(x.closedAt) }) : [{ text: x.statusNow, bold: true, color: RED }],
      x.capaReference ?? '—',
    ]),
    { size: 7.5 },
  );
}

function accounts(s: Sheet, c: Ctx, review: ProductReview) {
  const p = c.m.periodic;
  const a = review.accounts;
  const people = new Map(a.people.map((u) => [u.id, `${u.fullName} (${u.username})`]));
  const who = (id: string | null) => (id ? people.get(id) ?? id : '—');
  s.heading(p.accounts, 2);
  const events = (title: string, rows: ProductReview['accounts']['lockouts']) => {
    s.heading(title, 3);
    if (rows.length === 0) return s.note(p.none);
    s.table(
      [{ header: p.time, width: 0.18 }, { header: p.by, width: 0.18 }, { header: p.action, width: 0.14 }, { header: p.user, width: 0.18 }, { header: p.detail, width: 0.32 }],
      rows.map((e) => [
        c.t(e.at), who(e.by), e.action, who(e.userId),
        clip([e.before !== undefined ? `${c.m.correction.was}: ${JSON.stringify(e.before)}` : '', e.after !== undefined ? JSON.stringify(e.after) : '', e.reason ? `${c.m.correction.reason}: ${e.reason}` : ''].filter(Boolean).join(' · '), 300),
      ]),
      { size: 7 },
    );
  };
  events(p.privilegeChanges, a.privilegeChanges);
  events(p.lockouts, a.lockouts);
  events(p.unlocks, a.unlocks);
  s.heading(p.failedLogins, 3);
  if (a.failedLogins.length === 0) s.note(p.none);
  else s.table([{ header: p.user, width: 0.8 }, { header: p.count, width: 0.2 }], a.failedLogins.map((u) => [`${u.fullName} (${u.username})`, String(u.count)]));
}

function verification(s: Sheet, c: Ctx, review: ProductReview) {
  const p = c.m.periodic;
  const v = review.verification;
  s.heading(p.verification, 2);
  const last = v.lastFullVerification;
  const rows: [string, Cell][] = [
    [p.checkpoints, v.checkpoints.count === 0 ? p.none : fill(p.checkpointsText, {
      n: v.checkpoints.count, reasons: v.checkpoints.byReason.map((x) => `${x.key} ${x.count}`).join(', '), first: c.t(v.checkpoints.first!), last: c.t(v.checkpoints.last!),
    })],
    [p.lastVerification, !last ? [{ text: p.notVerified, color: MUTED }] : last.valid
      ? [{ text: fill(p.verified, { checked: last.checked }), bold: true }, ...(last.mismatches ? [{ text: fill(p.mismatches, { n: last.mismatches }), color: RED }] : [])]
      : [{ text: fill(p.failed, { table: last.firstInvalid?.table ?? '?', seq: last.firstInvalid?.seq ?? '?', reason: last.firstInvalid?.reason ?? '' }), bold: true, color: RED }]],
  ];
  s.keyValues(rows);
  s.heading(p.batchIntegrity, 3);
  if (v.batches.length === 0) return s.note(p.none);
  s.table([{ header: p.batch, width: 0.6 }, { header: c.m.cover.integrity, width: 0.4 }],
    v.batches.map((b) => [b.batchNumber, b.intact ? p.intact : [{ text: p.notIntact, bold: true, color: RED }]]));
}
