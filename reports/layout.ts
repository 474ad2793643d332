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
    this.ensure(size * 3 + (level < 3 ? 4 * SIZE.body : 2 * SIZE.body));
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

  /** A table: widths are fractions of the text width; a row that does not fit starts a new page under a repeated header. */
  table(columns: Column[], rows: Cell[][], o: { headless?: boolean; size?: number } = {}) {
    const { doc } = this;
    const size = o.size ?? SIZE.body;
    const widths = columns.map((c) => c.width * this.width);
    const xs = widths.map((_, i) => this.left + widths.slice(0, i).reduce((a, b) => a + b, 0));
    // A line that fits its cell is one line high: only longer ones go through pdfkit's line wrapping.
    const lineHeight = (l: Line, width: number, bold: boolean) => {
      doc.font(bold || l.bold ? FONTS.bold : FONTS.regular).fontSize(size);
      const text = l.text || ' ';
      return !text.includes('\n') && doc.widthOfString(text) <= width ? doc.currentLineHeight(true) : doc.heightOfString(text, { width });
    };
    const measure = (cells: Cell[], bold = false) => Math.max(size + 2 * PAD, ...cells.map((c, i) => cellLines(c).reduce((h, l) => h + lineHeight(l, widths[i] - 2 * PAD, bold), 0) + 2 * PAD));
    const draw = (cells: Cell[], height: number, header = false) => {
      const y = doc.y;
      if (header) doc.rect(this.left, y, this.width, height).fillColor('#eeeeee').fill();
      cells.forEach((c, i) => {
        let ly = y + PAD;
        for (const l of cellLines(c)) {
          doc.font(header || l.bold ? FONTS.bold : FONTS.regular).fontSize(size).fillColor(l.color ?? INK);
          doc.text(l.text || ' ', xs[i] + PAD, ly, { width: widths[i] - 2 * PAD, strike: l.strike });
          ly = doc.y;
        }
      });
      doc.moveTo(this.left, y + height).lineTo(this.left + this.width, y + height).lineWidth(0.3).strokeColor(RULE).stroke();
      doc.fillColor(INK);
      doc.x = this.left;
      doc.y = y + height;
    };
    const head = columns.map((c) => c.header);
    const headHeight = o.headless ? 0 : measure(head, true);
    const drawHead = () => { if (!o.headless) draw(head, headHeight, true); };
    const rowHeights = rows.map((r) => measure(r));
    this.ensure(headHeight + (rowHeights[0] ?? 0));
    drawHead();
    rows.forEach((r, i) => {
      if (doc.y + rowHeights[i] > this.bottom) {
        this.newPage();
        drawHead();
      }
      draw(r, rowHeights[i]);
    });
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
