// The certificate of analysis of a batch as an archival PDF (issue 13 item 5; 21 CFR 211.165,
// 1271.290): the product's identification, every release test with its specification and result, and
// QA's disposition with its signature. A pure function of the export document and a language, under
// the same archival rules as the batch record (PDF/A-3b, embedded fonts, dates from the record).
import type { BatchRecordExport } from '../schemas/export.js';
import { openBatchReport } from './document.js';
import type { Cell } from './layout.js';
import { fill, messages, type ReportLang } from './messages/index.js';
import { dispositionText, identification, RED, releaseResults } from './record-parts.js';
import { readerOf, signatureText } from './values.js';

export async function renderCoa({ record, lang }: { record: BatchRecordExport; lang: ReportLang }): Promise<Buffer> {
  const m = messages[lang];
  const r = readerOf(record, lang, m);
  const b = record.batch;
  const { sheet, end } = openBatchReport({
    title: `${m.coa.title} ${b.batchNumber}`, subject: fill(m.coa.subject, { batch: b.batchNumber }), lang, keywords: `${record.format} ${b.batchNumber}`,
    r, record, heading: m.coa.title, subheading: r.def.title[lang],
  });
  const d = record.disposition as { signature?: Parameters<typeof signatureText>[1] | null } | undefined;
  const rows: [string, Cell][] = [
    ...identification(r, record),
    [m.cover.status, [{ text: m.status[b.status] ?? b.status, bold: true }]],
    [m.cover.disposition, [{ text: dispositionText(r, record), bold: true }]],
    ...(d?.signature ? [[m.by, signatureText(r, d.signature)] as [string, Cell]] : []),
    [m.cover.integrity, [{ text: record.integrity.intact ? m.cover.intact : m.cover.notIntact, bold: true, ...(!record.integrity.intact && { color: RED }) }]],
  ];
  sheet.keyValues(rows);
  releaseResults(sheet, r, record);
  return end();
}
