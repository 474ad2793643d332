// Exports the periodic review of a period as an archival PDF with its data attached (EU GMP Annex 11
// §11; 21 CFR 211.180(e)). Read by those who read the audit trail (qa, inspector, admin), like the
// JSON review of accounts; every export writes one audit row with the SHA-256 of the document served
// (API.md "Audit"; regulations.md P5). The document is dated by the newest row it covers, never by the
// clock (product-review.ts): the same record gives the same bytes, and its own export rows are not in it.
import type { AppContext } from '../context.js';
import type { UserRow } from '../store/store.js';
import { sha256 } from '../store/chain.js';
import { assertMay } from '../permissions.js';
import { writeAudit } from '../services/audit.js';
import { productReview, PERIODIC_REVIEW_FORMAT } from '../services/product-review.js';
import { renderPeriodicReview } from '../../reports/periodic-review.js';
import type { ReportLang } from '../../reports/messages/index.js';

export async function exportPeriodicReview(ctx: AppContext, actor: UserRow, q: { from: string; to: string; lang: ReportLang }) {
  assertMay(actor, 'audit.read', 'the periodic review');
  const period = { from: new Date(q.from).toISOString(), to: new Date(q.to).toISOString() };
  const review = await productReview(ctx, period.from, period.to);
  const body = await renderPeriodicReview({ review, reviewJson: Buffer.from(`${JSON.stringify(review, null, 2)}\n`), lang: q.lang });
  const digest = sha256(body);
  await ctx.store.transaction(() => writeAudit(ctx.store, ctx.clock, {
    userId: actor.id, action: 'report.exported', entity: 'report',
    after: { document: 'periodic-review.pdf', period, lang: q.lang, format: PERIODIC_REVIEW_FORMAT, sha256: digest, bytes: body.length },
  }));
  return { body, sha256: digest, period };
}
