// Exports a batch's record for regulators: the electronic copy (JSON) or the executed batch record
// (PDF/A-3b with the JSON attached). 21 CFR 11.10(b): accurate and complete copies in human-readable
// and electronic form. Every export is audited with the SHA-256 of the document served (API.md
// "Audit"; regulations.md P5), and the chain heads it was taken at are signed into the checkpoint log.
// The PDF is frozen at disposition: rendered then, stored, and served byte-identical afterwards.
import type { AppContext } from '../context.js';
import type { RecordPdfRow, UserRow } from '../store/store.js';
import { sha256 } from '../store/chain.js';
import { assertMay } from '../permissions.js';
import { loadBatch } from '../record/load.js';
import type { BatchRecord } from '../record/record.js';
import { writeAudit } from '../services/audit.js';
import { buildExport, covered, EXPORT_ACTION, exportBytes, FROZEN_ACTION } from '../views/export-view.js';
import { renderBatchRecord } from '../../reports/batch-record.js';
import { renderCoa } from '../../reports/coa.js';
import { renderEvidencePacket } from '../../reports/evidence-packet.js';
import { evidencePacket, EVIDENCE_PACKET_FORMAT } from '../views/review-view.js';
import { notFound } from '../errors.js';
import type { ReportLang } from '../../reports/messages/index.js';
import { EXPORT_FORMAT } from '../../schemas/export.js';

export type RecordDocument =
  | { kind: 'json' } | { kind: 'pdf'; lang: ReportLang } | { kind: 'coa'; lang: ReportLang }
  | { kind: 'review'; lang: ReportLang; deviationId?: string };

const LANGS: ReportLang[] = ['en', 'vi'];
const DOCUMENT_NAMES = { json: 'export', pdf: 'record.pdf', coa: 'coa.pdf', review: 'review.pdf' } as const;

export async function exportBatchRecord(ctx: AppContext, actor: UserRow, batchId: string, document: RecordDocument) {
  const record = await loadBatch(ctx, batchId);
  // The certificate of analysis is read by whoever reads GET /batches/{id}/coa; the record and its
  // export hold the audit trail and are read by those who read the audit.
  // The evidence packet by whoever reads GET /batches/{id}/review. API.md: 404 before 403, so a
  // deviation the batch does not have is refused before the role.
  if (document.kind === 'review' && document.deviationId !== undefined && !record.deviations.some((d) => d.id === document.deviationId)) {
    throw notFound('deviation', document.deviationId);
  }
  if (document.kind === 'review') assertMay(actor, 'batch.review.read');
  else if (document.kind !== 'coa') assertMay(actor, 'record.export');
  // API.md "PDF bytes": once the batch is disposed of, its PDF is the one frozen at disposition (frozen
  // now if that failed, or the disposition predates this store).
  const body = document.kind === 'pdf' && record.qa.disposition
    ? (await ctx.store.getRecordPdf(batchId, document.lang) ?? (await freezeRecordPdfs(ctx, record, [document.lang]))[0]).bytes
    : await renderDocument(ctx, record, document);
  const digest = sha256(body);
  await ctx.store.transaction(() => writeAudit(ctx.store, ctx.clock, {
    userId: actor.id, action: EXPORT_ACTION, entity: 'batch', entityId: batchId, batchId,
    after: {
      document: DOCUMENT_NAMES[document.kind], ...(document.kind !== 'json' && { lang: document.lang }),
      ...(document.kind === 'review' && document.deviationId !== undefined && { deviationId: document.deviationId }),
      format: document.kind === 'review' ? EVIDENCE_PACKET_FORMAT : EXPORT_FORMAT, sha256: digest, bytes: body.length,
    },
  }));
  await ctx.store.checkpoint('export');
  return { body, sha256: digest, batchNumber: record.row.batchNumber };
}

/** The document of the record as it stands now; its rows are put under a signed checkpoint first. */
async function renderDocument(ctx: AppContext, record: BatchRecord, document: RecordDocument): Promise<Buffer> {
  if (document.kind === 'review') {
    const packet = await evidencePacket(ctx, record, document.lang, document.deviationId);
    return renderEvidencePacket({ packet, packetJson: Buffer.from(`${JSON.stringify(packet, null, 2)}\n`), definition: record.process.definition, timeZone: ctx.config.timeZone, lang: document.lang });
  }
  // DESIGN.md "The record": chain heads are signed at every export. Rows not yet under a signed
  // checkpoint are signed before they are copied out, so the copy carries the checkpoint that covers them.
  if (!await covered(ctx, record)) await ctx.store.checkpoint('export');
  const doc = await buildExport(ctx, record);
  const json = exportBytes(doc);
  if (document.kind === 'coa') return renderCoa({ record: doc, lang: document.lang });
  return document.kind === 'json' ? json : renderBatchRecord({ record: doc, recordJson: json, lang: document.lang });
}

/**
 * Renders the PDFs of the record as it stands and stores them, append-only, with one audit row each
 * (`record.frozen`, with the SHA-256). Every language is rendered before any is stored, so that all
 * show the same record. A PDF already frozen stands: the first one wins.
 */
export async function freezeRecordPdfs(ctx: AppContext, record: BatchRecord, langs: ReportLang[] = LANGS): Promise<RecordPdfRow[]> {
  const batchId = record.row.id;
  const rendered: RecordPdfRow[] = [];
  for (const lang of langs) {
    const bytes = await renderDocument(ctx, record, { kind: 'pdf', lang });
    rendered.push({ batchId, lang, sha256: sha256(bytes), bytes, frozenAt: ctx.clock.now().toISOString() });
  }
  await ctx.store.transaction(async () => {
    for (const row of rendered) {
      if (await ctx.store.getRecordPdf(batchId, row.lang)) continue;
      await ctx.store.saveRecordPdf(row);
      await writeAudit(ctx.store, ctx.clock, {
        userId: null, action: FROZEN_ACTION, entity: 'batch', entityId: batchId, batchId,
        after: { document: 'record.pdf' as const, lang: row.lang, format: EXPORT_FORMAT, sha256: row.sha256, bytes: row.bytes.length },
      });
    }
  });
  return Promise.all(langs.map(async (lang) => (await ctx.store.getRecordPdf(batchId, lang))!));
}
