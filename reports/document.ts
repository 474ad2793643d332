// How every printed document begins and ends: an archival PDF (archival.ts) with its page frame
// (layout.ts) — the header and "Page X of Y" on every page, the footer with the time the document is
// as of, the TRAINING watermark and the autologous banner where they apply — and, at the end, the
// frame written on every page and the bytes collected. One place, so that the batch record, the
// certificate of analysis, the evidence packet and the periodic review cannot drift apart in what
// an archival copy must carry (regulations.md P1–P5).
import { archivalDocument, pdfBytes, type ArchivalOptions } from './archival.js';
import { Sheet, type Frame } from './layout.js';
import { fill, type Messages } from './messages/index.js';
import { RED, type Identified } from './record-parts.js';
import { time, type Reader } from './values.js';

export interface Report {
  sheet: Sheet;
  /** Writes the frame on every page and returns the document's bytes. */
  end(): Promise<Buffer>;
}

/** Opens an archival document with its frame, fonts and metadata, on its first page. */
export function openReport(o: ArchivalOptions & { frame: Omit<Frame, 'pageOf'>; m: Messages }): Report {
  const { frame, m, ...archival } = o;
  const doc = archivalDocument(archival);
  const sheet = new Sheet(doc, { ...frame, pageOf: (page, pages) => fill(m.pageOf, { page, pages }) });
  sheet.newPage();
  return {
    sheet,
    end: () => {
      sheet.finish();
      return pdfBytes(doc);
    },
  };
}

/** A document about one batch: who and what it is about, the time it is as of, whether it was recorded in training. */
export type BatchDocument = Identified & { asOf: string; training: boolean };

/**
 * Opens a document about one batch, the same way for every such document (the batch record, the
 * certificate of analysis, the evidence packet): its frame on every page (batchFrame) and, under its
 * title, the notes that say what the document may not be taken for — FOR AUTOLOGOUS USE ONLY where the
 * process is autologous, TRAINING RECORD, and DRAFT when the batch rehearsed a master record not in
 * effect (Annex 11 §10; 21 CFR 1271.90(c)). A document cannot open without them.
 */
export function openBatchReport(o: Omit<ArchivalOptions, 'date'> & { r: Reader; record: BatchDocument; heading: string; subheading: string }): Report {
  const { r, record, heading, subheading, ...archival } = o;
  const { m } = r;
  const report = openReport({ ...archival, date: new Date(record.asOf), frame: batchFrame(r, record), m });
  const { sheet } = report;
  sheet.paragraph(heading, { bold: true, size: 18 });
  sheet.paragraph(subheading, { size: 11 });
  sheet.gap();
  if (r.def.autologous) sheet.paragraph(m.autologous, { bold: true, size: 14, color: RED, align: 'center' });
  if (record.training) sheet.paragraph(m.trainingNote, { bold: true, size: 10, color: RED, align: 'center' });
  const status = record.process.status;
  if (isDraftProcess(record)) sheet.paragraph(m.draftProcess[status!] ?? m.draft, { bold: true, size: 10, color: RED, align: 'center' });
  sheet.gap();
  return report;
}

/**
 * The frame of a document about one batch: its batch number, DIN, process and version on every page
 * (regulations.md R3), the record's time and chain-of-identity id in the footer, TRAINING behind
 * every page of a training record, FOR AUTOLOGOUS USE ONLY above the header where the process is
 * autologous (21 CFR 1271.90(c)).
 */
export function batchFrame(r: Reader, record: BatchDocument): Omit<Frame, 'pageOf'> {
  const { m } = r;
  const b = record.batch;
  // A batch started on a master record not in effect (a training rehearsal) says DRAFT on every page,
  // in the watermark and in the footer's text (Annex 11 §10).
  const marks = [record.training && m.training, isDraftProcess(record) && m.draft].filter((x) => typeof x === 'string');
  return {
    header: fill(m.header, { batch: b.batchNumber, din: `${b.din}${b.dinCheck}`, process: record.process.id, version: record.process.version }),
    footer: [fill(m.asOf, { time: time(r, record.asOf) }), b.chainOfIdentityId, ...marks].join(' · '),
    ...(marks.length > 0 && { watermark: marks.join(' ') }),
    ...(r.def.autologous && { banner: m.autologous }),
  };
}

/** Whether the batch started on a master record not yet in effect (the export's process.status). */
export const isDraftProcess = (record: Identified) => record.process.status !== undefined && record.process.status !== 'effective';
