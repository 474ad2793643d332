// Layout shared by the printed documents: a page frame (header, footer with "Page X of Y", a watermark
// where the record is a training record), headings, label/value blocks and tables whose rows never
// split across pages. Pure drawing: what to write comes from the document modules.
import { FONTS, parsedFont } from './archival.js';
import { printable } from './format.js';

/** A line of a table cell; a cell is one or more lines. */
export interface Line { text: string; strike?: boolean; bold?: boolean; color?: string }
export type Cell = string | Line[];

export interface Column { header: string; width: number }

export interface Frame {
  /** Printed at the top of every page (batch number, DIN, process and version). */
  header: string;
  /** "Page {page} of {pages}". */
  pageOf: (page: number, pages: number) => string;
  /** Printed at the bottom of every page (the time the record is as of). */
  footer: string;
  /** Drawn large and pale behind the content of every page (TRAINING). */
  watermark?: string;
  /** A line in red above the header of every page (FOR AUTOLOGOUS USE ONLY). */
  banner?: string;
}

const INK = '#111111';
const MUTED = '#555555';
const RULE = '#999999';
const SIZE = { body: 8.5, small: 7, h1: 15, h2: 11.5, h3: 9.5 };
const PAD = 2.5;

const cellLines = (c: Cell): Line[] => (typeof c === 'string' ? [{ text: printable(c) }] : c.some((l) => printable(l.text) !== l.text) ? c.map((l) => ({ ...l, text: printable(l.text) })) : c);

/** The room a heading keeps below itself on its page: its own lines and a few of what it heads. */
const headingSpace = (level: 1 | 2 | 3) => (level === 1 ? SIZE.h1 : level === 2 ? SIZE.h2 : SIZE.h3) * 3 + (level < 3 ? 4 * SIZE.body : 2 * SIZE.body);

/** One line of text as drawn, with its width in points. */
interface Part { text: string; width: number }

/**
 * The lines a text makes in a width, in the current font: itself when it fits on one line, else the
 * lines pdfkit's line wrapping makes of it (what heightOfString measures and text() writes; pdfkit
 * offers the lines only to its private _text's callback).
 */
function wrapped(doc: PDFKit.PDFDocument, text: string, width: number): Part[] {
  if (!text.includes('\n')) {
    const w = doc.widthOfString(text);
    if (w <= width) return [{ text, width: w }];
  }
  const parts: Part[] = [];
  const { x, y } = doc;
  const lh = doc.currentLineHeight(true);
  const d = doc as unknown as { _text(t: string, x: number, y: number, o: object, line: (t: string, o: { textWidth: number }) => void): void };
  d._text(text, x, y, { width, height: Infinity }, (t, o) => {
    parts.push({ text: t, width: o.textWidth });
    doc.y += lh;
  });
  doc.x = x;
  doc.y = y;
  return parts;
}

export class Sheet {
  constructor(readonly doc: PDFKit.PDFDocument, private readonly frame: Frame) {
    doc.on('pageAdded', () => this.decoratePage());
  }

  get left() { return this.doc.page.margins.left; }
  get width() { return this.doc.page.width - this.doc.page.margins.left - this.doc.page.margins.right; }
  private get bottom() { return this.doc.page.height - this.doc.page.margins.bottom; }

  newPage() { this.doc.addPage(); }

  /** Starts a new page unless `height` more points fit on this one. */
  ensure(height: number) {
    if (!this.doc.page || this.doc.y + height > this.bottom) this.newPage();
  }

  private decoratePage() {
    const { doc } = this;
    const { x, y } = doc;
    if (this.frame.watermark) this.watermark(this.frame.watermark);
    doc.fillColor(INK);
    doc.x = x;
    doc.y = y;
  }

  /**
   * The watermark, drawn first (behind the content, no transparency: PDF/A) as the outlines of its
   * letters rather than as text, so that it is seen on the page but is not part of the page's text.
   */
  private watermark(text: string) {
    const { doc } = this;
    doc.font(FONTS.outline);
    const font = parsedFont(doc);
    const glyphs = [...text].map((ch) => font.glyphForCodePoint(ch.codePointAt(0)!));
    // 96 pt, smaller when the text would not fit along the page's diagonal (TRAINING DRAFT, ĐÀO TẠO BẢN NHÁP).
    const units = glyphs.reduce((w, g) => w + g.advanceWidth, 0);
    const fits = (0.78 * Math.hypot(doc.page.width, doc.page.height) * font.unitsPerEm) / units;
    const size = Math.min(96, fits);
    const scale = size / font.unitsPerEm;
    const width = units * scale;
    doc.save();
    doc.rotate(-40, { origin: [doc.page.width / 2, doc.page.height / 2] });
    doc.translate((doc.page.width - width) / 2, doc.page.height / 2 + size / 3);
    doc.scale(scale, -scale);
    let x = 0;
    for (const g of glyphs) {
      doc.save();
      doc.translate(x, 0);
      doc.path(g.path.toSVG()).fill('#ececec');
      doc.restore();
      x += g.advanceWidth;
    }
    doc.restore();
  }

  heading(raw: string, level: 1 | 2 | 3 = 2) {
    const text = printable(raw);
    const size = level === 1 ? SIZE.h1 : level === 2 ? SIZE.h2 : SIZE.h3;
    // A heading keeps a few lines of what it heads on its page: never alone at the foot of one.
    this.ensure(headingSpace(level));
    if (level < 3) this.doc.moveDown(0.4);
    this.doc.font(FONTS.bold).fontSize(size).fillColor(INK).text(text, this.left, this.doc.y, { width: this.width });
    if (level === 2) {
      const y = this.doc.y + 1;
      this.doc.moveTo(this.left, y).lineTo(this.left + this.width, y).lineWidth(0.6).strokeColor(RULE).stroke();
      this.doc.y = y + 3;
    } else {
      this.doc.moveDown(0.15);
    }
  }

  paragraph(raw: string, o: { bold?: boolean; color?: string; size?: number; align?: 'left' | 'center' } = {}) {
    const text = printable(raw);
    const size = o.size ?? SIZE.body;
    this.doc.font(o.bold ? FONTS.bold : FONTS.regular).fontSize(size);
    const h = this.doc.heightOfString(text, { width: this.width });
    this.ensure(Math.min(h, 200));
    this.doc.fillColor(o.color ?? INK).text(text, this.left, this.doc.y, { width: this.width, align: o.align ?? 'left' });
    this.doc.fillColor(INK);
  }

  /** Muted small text (notes, hashes). */
  note(text: string) {
    this.paragraph(text, { color: MUTED, size: SIZE.small });
  }

  gap(lines = 0.5) {
    this.doc.moveDown(lines);
  }

  /** A two-column block of labels and values. */
  keyValues(rows: [string, Cell][], labelWidth = 0.34) {
    this.table([{ header: '', width: labelWidth }, { header: '', width: 1 - labelWidth }], rows.map(([k, v]) => [[{ text: k, color: MUTED }], v]), { headless: true });
  }

  /**
   * A table: widths are fractions of the text width; a row that does not fit starts a new page under a
   * repeated header. With `heading`, the heading is written on the page where the table's first row
   * fits, so that it never stands alone at the foot of a page above a tall first row.
   */
  table(columns: Column[], rows: Cell[][], o: { headless?: boolean; size?: number; heading?: { text: string; level: 1 | 2 | 3 } } = {}) {
    const { doc } = this;
    const size = o.size ?? SIZE.body;
    const widths = columns.map((c) => c.width * this.width);
    const xs = widths.map((_, i) => this.left + widths.slice(0, i).reduce((a, b) => a + b, 0));
    // A row is measured once: the lines each cell's lines make in its width, with their widths — a line
    // that fits is itself, a longer one is broken by pdfkit's own line wrapping — and drawn from that,
    // so no text is wrapped twice (most cells of a long record, its audit trail, fit).
    interface Measured { lines: { line: Line; parts: Part[] }[][]; height: number }
    const measure = (cells: Cell[], bold = false): Measured => {
      const lines = cells.map((c, i) => cellLines(c).map((line) => {
        doc.font(bold || line.bold ? FONTS.bold : FONTS.regular).fontSize(size);
        return { line, parts: wrapped(doc, line.text || ' ', widths[i] - 2 * PAD) };
      }));
      const lineHeight = (l: Line) => doc.font(bold || l.bold ? FONTS.bold : FONTS.regular).fontSize(size).currentLineHeight(true);
      const heights = lines.map((c) => c.reduce((h, { line, parts }) => h + parts.length * lineHeight(line), 0) + 2 * PAD);
      return { lines, height: Math.max(size + 2 * PAD, ...heights) };
    };
    const draw = ({ lines, height }: Measured, header = false) => {
      const y = doc.y;
      if (header) doc.rect(this.left, y, this.width, height).fillColor('#eeeeee').fill();
      lines.forEach((c, i) => {
        let ly = y + PAD;
        for (const { line, parts } of c) {
          doc.font(header || line.bold ? FONTS.bold : FONTS.regular).fontSize(size).fillColor(line.color ?? INK);
          for (const part of parts) {
            // What pdfkit's line wrapping writes for each line it makes (left-aligned, its measured width).
            doc.text(part.text, xs[i] + PAD, ly, { lineBreak: false, strike: line.strike, textWidth: part.width } as PDFKit.Mixins.TextOptions);
            ly += doc.currentLineHeight(true);
          }
        }
      });
      doc.moveTo(this.left, y + height).lineTo(this.left + this.width, y + height).lineWidth(0.3).strokeColor(RULE).stroke();
      doc.fillColor(INK);
      doc.x = this.left;
      doc.y = y + height;
    };
    const head = o.headless ? undefined : measure(columns.map((c) => c.header), true);
    const headHeight = head?.height ?? 0;
    const drawHead = () => { if (head) draw(head, true); };
    const measured = rows.map((r) => measure(r));
    if (o.heading) {
      this.ensure(headingSpace(o.heading.level) + headHeight + (measured[0]?.height ?? 0));
      this.heading(o.heading.text, o.heading.level);
    }
    this.ensure(headHeight + (measured[0]?.height ?? 0));
    drawHead();
    for (const row of measured) {
      if (doc.y + row.height > this.bottom) {
        this.newPage();
        drawHead();
      }
      draw(row);
    }
    doc.moveDown(0.4);
  }

  /** Writes the header and footer of every page, now that the number of pages is known. */
  finish() {
    const { doc } = this;
    const { start, count } = doc.bufferedPageRange();
    for (let i = start; i < start + count; i++) {
      doc.switchToPage(i);
      const { margins } = doc.page;
      const saved = margins.bottom;
      margins.bottom = 0; // writing inside the margin must not start a new page
      const w = doc.page.width - margins.left - margins.right;
      let y = 22;
      if (this.frame.banner) {
        doc.font(FONTS.bold).fontSize(SIZE.small + 0.5).fillColor('#b00020').text(this.frame.banner, margins.left, y, { width: w, align: 'center', lineBreak: false });
        y += 11;
      }
      doc.font(FONTS.bold).fontSize(SIZE.small + 0.5).fillColor(INK).text(this.frame.header, margins.left, y, { width: w, lineBreak: false });
      doc.moveTo(margins.left, y + 12).lineTo(margins.left + w, y + 12).lineWidth(0.6).strokeColor(RULE).stroke();
      const fy = doc.page.height - saved + 16;
      doc.moveTo(margins.left, fy - 4).lineTo(margins.left + w, fy - 4).lineWidth(0.6).strokeColor(RULE).stroke();
      doc.font(FONTS.regular).fontSize(SIZE.small).fillColor(MUTED).text(this.frame.footer, margins.left, fy, { width: w * 0.75, lineBreak: false });
      doc.font(FONTS.bold).fontSize(SIZE.small).fillColor(INK).text(this.frame.pageOf(i - start + 1, count), margins.left + w * 0.75, fy, { width: w * 0.25, align: 'right', lineBreak: false });
      margins.bottom = saved;
    }
  }
}
