// Exports a batch's record for regulators: the electronic copy (JSON) or the executed batch record
// (PDF/A-3b with the JSON attached). 21 CFR 11.10(b): accurate and complete copies in human-readable
// and electronic form. Every export is audited with the SHA-256 of the document served (API.md
// "Audit"; regulations.md P5), and the chain heads it was taken at are signed into the checkpoint log.
import type { AppContext } from '../context.js';
import { assertMay } from '../permissions.js';
import type { UserRow } from '../store/store.js';
import { sha256 } from '../store/chain.js';
import { loadBatch } from '../record/load.js';
import { writeAudit } from '../services/audit.js';
import { buildExport, covered, EXPORT_ACTION, exportBytes } from '../views/export-view.js';
import { renderBatchRecord } from '../../reports/batch-record.js';
import type { ReportLang } from '../../reports/messages/index.js';
import { EXPORT_FORMAT } from '../../schemas/export.js';

export type RecordDocument = { kind: 'json' } | { kind: 'pdf'; lang: ReportLang };

export async function exportBatchRecord(ctx: AppContext, actor: UserRow, batchId: string, document: RecordDocument) {
  const record = loadBatch(ctx, batchId);
  assertMay(actor, 'record.export');
  // DESIGN.md "The record": chain heads are signed at every export. Rows not yet under a signed
  // checkpoint are signed before they are copied out, so the copy carries the checkpoint that covers them.
  if (!covered(ctx, record)) ctx.store.checkpoint('export');
  const doc = buildExport(ctx, record);
  const json = exportBytes(doc);
  const body = document.kind === 'json' ? json : await renderBatchRecord({ record: doc, recordJson: json, lang: document.lang });
  const digest = sha256(body);
  ctx.store.transaction(() => writeAudit(ctx.store, ctx.clock, {
    userId: actor.id, action: EXPORT_ACTION, entity: 'batch', entityId: batchId, batchId,
    after: { document: document.kind === 'json' ? 'export' : 'record.pdf', ...(document.kind === 'pdf' && { lang: document.lang }), format: EXPORT_FORMAT, sha256: digest, bytes: body.length },
  }));
  ctx.store.checkpoint('export');
  return { body, sha256: digest, batchNumber: record.row.batchNumber };
}
