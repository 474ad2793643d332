// An archival PDF (ISO 19005-3, PDF/A-3b; regulations.md P1, P2, P5): PDF 1.7, XMP metadata with
// pdfaid part 3 conformance B agreeing with the document information, the sRGB output intent, every
// font embedded (Noto Sans, which covers Vietnamese), no encryption and no JavaScript, and the
// machine-readable record attached as an associated file. Every date in the file comes from the
// record, never from the clock, so the same record gives the same bytes.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import PDFDocument from 'pdfkit';

const require = createRequire(import.meta.url);
const fontFile = (weight: string) => require.resolve(`@expo-google-fonts/noto-sans/${weight}/NotoSans_${weight}.ttf`);

/** Font names the layout uses; both are embedded (subset) TrueType fonts. */
export const FONTS = { regular: 'NotoSans-Regular', bold: 'NotoSans-Bold', outline: 'NotoSans-Black' } as const;
// The watermark's letters are drawn as outlines from a font that writes no text (and so is not
// embedded): reading a composite glyph's outline (À) caches its components (A) without their
// characters, and pdfkit would then map A to no text in the font that writes it.
const FONT_FILES = { [FONTS.regular]: fontFile('400Regular'), [FONTS.bold]: fontFile('700Bold'), [FONTS.outline]: fontFile('900Black') };

const fontBytes = new Map<string, Buffer>();
/** Each font file is read once per process (each document still parses its own copy). */
const fontData = (file: string) => fontBytes.get(file) ?? fontBytes.set(file, fs.readFileSync(file)).get(file)!;

export interface ArchivalOptions {
  title: string;
  subject: string;
  lang: string;
  /** The document's date: CreationDate and ModDate, in the information dictionary and the XMP. */
  date: Date;
  /** Keywords (the SHA-256 of the attachment): the file ID is derived from the information dictionary. */
  keywords: string;
  attachment?: { name: string; data: Buffer; description: string; mimeType: string };
  /** Words laid out by earlier documents serve this one (default); false: pdfkit's own cache, per document (the benchmark's baseline). */
  sharedLayouts?: boolean;
}

// XMP values are written into XML as they are: only text that needs no escaping goes there.
const xmpSafe = (s: string) => s.replace(/[<>&"']/g, ' ');

export function archivalDocument(o: ArchivalOptions): PDFKit.PDFDocument {
  const info = {
    Title: xmpSafe(o.title), Subject: xmpSafe(o.subject), Keywords: xmpSafe(o.keywords),
    Creator: 'cellbatch', Producer: 'cellbatch (PDFKit)', CreationDate: o.date, ModDate: o.date,
  };
  const doc = new PDFDocument({
    pdfVersion: '1.7', subset: 'PDF/A-3b', lang: o.lang, displayTitle: true, size: 'A4', bufferPages: true, autoFirstPage: false,
    margins: { top: 64, bottom: 56, left: 48, right: 48 },
    // The default font would be Helvetica, which is never embedded: start with an embedded one.
    font: fontData(FONT_FILES[FONTS.regular]) as unknown as string, // pdfkit takes a path or the bytes
    info,
  });
  for (const [name, file] of Object.entries(FONT_FILES)) {
    doc.registerFont(name, fontData(file));
    precomposed(doc.font(name));
    if (o.sharedLayouts !== false) sharedLayouts(doc, name);
  }
  doc.font(FONTS.regular);
  if (o.sharedLayouts !== false) doc.on('pageAdded', () => joinedContent(doc));
  // pdfkit writes xmp:CreateDate but not xmp:ModifyDate; PDF/A needs the XMP to agree with ModDate.
  doc.appendXML(`
        <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/">
            <xmp:ModifyDate>${o.date.toISOString().split('.')[0]}Z</xmp:ModifyDate>
            <xmp:MetadataDate>${o.date.toISOString().split('.')[0]}Z</xmp:MetadataDate>
        </rdf:Description>
        `);
  if (o.attachment) {
    // ISO 19005-3 §6.8: an associated file with its relationship and MIME type (regulations.md P2).
    // pdfkit 0.20 takes `relationship` (AFRelationship); its type declarations do not list it yet.
    const options = {
      name: o.attachment.name, type: o.attachment.mimeType, relationship: 'Data', description: o.attachment.description,
      creationDate: o.date, modifiedDate: o.date,
    };
    doc.file(o.attachment.data, options as PDFKit.Mixins.PDFAttachmentOptions);
  }
  return doc;
}

/** What pdfkit keeps of the current font: the parsed TrueType font (fontkit) on `_font.font`. */
export interface ParsedFont {
  unitsPerEm: number;
  layout(text: string, features?: unknown): unknown;
  glyphForCodePoint(codePoint: number): { id: number; advanceWidth: number; path: { toSVG(): string } };
}
export const parsedFont = (doc: PDFKit.PDFDocument) => (doc as unknown as { _font: { font: ParsedFont } })._font.font;

/**
 * Lays text out glyph by glyph from the font's character map, without OpenType substitutions or
 * positioning. Two reasons. The glyph composition feature (ccmp) would split precomposed Vietnamese
 * letters (ụ, ị, ạ…) into a base letter and a mark, and pdfkit maps each glyph to one text, so a base
 * letter shared by "u" and "ụ" made the page's text read wrongly (pdftotext, search, screen readers)
 * although it looked right; ligatures would likewise hide letters from the text. And shaping every
 * word through the font's lookup tables was most of the time spent rendering a record. Per document:
 * each document parses its own fonts.
 */
const PLAIN_FEATURES = ['ccmp', 'locl', 'rlig', 'mark', 'mkmk', 'calt', 'clig', 'liga', 'rclt', 'curs', 'kern', 'rvrn', 'ltra', 'ltrm', 'frac', 'numr', 'dnom'];
function precomposed(doc: PDFKit.PDFDocument) {
  const font = parsedFont(doc);
  const layout = font.layout.bind(font);
  // A fresh object each time: fontkit fills the features it is given in with its defaults.
  font.layout = (text, features) => layout(text, features ?? Object.fromEntries(PLAIN_FEATURES.map((f) => [f, false])));
}

/**
 * pdfkit lays each word out once per document and keeps it (EmbeddedFont.layoutCache); a record's
 * documents repeat most of their words (labels, names, units, times), and with the plain layout above
 * a word's glyphs and advances depend only on the font file, so the words laid out by one document
 * serve the next (a run is read, never changed: pdfkit copies a position before it adds spacing).
 * Glyph ids are the same in every parse of the same file; each document still builds its own subset
 * and character map from the glyphs it uses, so the bytes of a document do not depend on what was
 * rendered before it. Bounded: the cache of a font starts again past LAYOUT_CACHE_WORDS words.
 */
const LAYOUT_CACHE_WORDS = 200_000;
const layouts = new Map<string, { words: Record<string, unknown>; size: number }>();
/** Forgets every word laid out (the benchmark measures a render without them beside one with them). */
export const forgetLayouts = () => layouts.clear();
function sharedLayouts(doc: PDFKit.PDFDocument, name: string) {
  const font = (doc as unknown as { _font: LayoutFont })._font;
  let shared = layouts.get(name);
  if (!shared || shared.size > LAYOUT_CACHE_WORDS) layouts.set(name, (shared = { words: Object.create(null) as Record<string, unknown>, size: 0 }));
  const cache = shared;
  font.layoutCache = cache.words;
  font.layout = wordByWord;
  const run = font.layoutRun.bind(font) as unknown as (text: string) => { glyphs: { id: number; advanceWidth: number; codePoints: number[] }[] };
  const parsed = parsedFont(doc);
  const scale = 1000 / parsed.unitsPerEm;
  font.layoutRun = ((text: string) => {
    cache.size++; // counted where pdfkit adds a word (a miss), so the bound costs nothing on a hit
    const direct = cmapRun(parsed, text, scale);
    if (direct) return direct;
    const r = run(text);
    // A glyph the font uses for two characters (µ and μ) keeps the characters of whichever document
    // parsed it first; a shared run names the characters of its own word instead (the plain layout
    // gives one glyph per character), so what a page's text says never depends on earlier documents.
    const chars = [...text];
    if (chars.length === r.glyphs.length) r.glyphs = r.glyphs.map((g, i) => ({ id: g.id, advanceWidth: g.advanceWidth, codePoints: [chars[i].codePointAt(0)!] }));
    return r;
  }) as unknown as LayoutFont['layoutRun'];
}

/**
 * A word laid out straight from the font's character map, as fontkit lays it out with every feature
 * off (PLAIN_FEATURES): one glyph per character, each advancing by its own width, no offsets — the
 * glyphs and positions pdfkit's layoutRun would return (already scaled), without fontkit's shaping
 * machinery (script detection, feature tables), which a word's first use otherwise costs. Only for
 * characters where that is certain: no controls, combining marks, variation selectors or other
 * characters fontkit hides (default ignorables), nothing outside the Basic Multilingual Plane; any
 * other word goes through fontkit (undefined here).
 */
function cmapRun(font: ParsedFont, text: string, scale: number) {
  let glyphsOf = cmapGlyphs.get(font);
  if (!glyphsOf) cmapGlyphs.set(font, (glyphsOf = new Map()));
  const glyphs: { id: number; advanceWidth: number; codePoints: number[] }[] = [];
  const positions: { xAdvance: number; yAdvance: number; xOffset: number; yOffset: number; advanceWidth: number }[] = [];
  let advanceWidth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!(c >= 0x20 && c <= 0x7e) && !(c >= 0xa0 && c <= 0x2ff && c !== 0xad) && !(c >= 0x370 && c <= 0x3ff) && !(c >= 0x1e00 && c <= 0x1eff)
      && !(c >= 0x2010 && c <= 0x2027) && !(c >= 0x2030 && c <= 0x205e) && !(c >= 0x2100 && c <= 0x22ff)) return undefined;
    let g = glyphsOf.get(c);
    if (!g) {
      const glyph = font.glyphForCodePoint(c);
      glyphsOf.set(c, (g = { id: glyph.id, advanceWidth: glyph.advanceWidth }));
    }
    const x = g.advanceWidth * scale;
    glyphs.push({ id: g.id, advanceWidth: g.advanceWidth, codePoints: [c] });
    positions.push({ xAdvance: x, yAdvance: 0, xOffset: 0, yOffset: 0, advanceWidth: x });
    advanceWidth += x;
  }
  return { glyphs, positions, advanceWidth };
}
const cmapGlyphs = new WeakMap<ParsedFont, Map<number, { id: number; advanceWidth: number }>>();

interface Run { glyphs: unknown[]; positions: unknown[]; advanceWidth: number }
interface LayoutFont { layoutCache?: Record<string, unknown>; layoutCached(text: string): Run; layoutRun(text: string, features?: unknown): Run; layout(text: string, features?: unknown, onlyWidth?: boolean): Run }

/**
 * pdfkit's EmbeddedFont.layout, word by word from the word cache, as pdfkit does it (the same words,
 * split after each space or tab, the same glyph and position objects, so the same bytes), without
 * its costs per character: an array built for each character compared, and the glyphs of the whole
 * text copied again for every word (quadratic in a long line, and most of the garbage collector's
 * work on a long record).
 */
function wordByWord(this: LayoutFont, text: string, features?: unknown, onlyWidth?: boolean): Run {
  if (features) return this.layoutRun(text, features);
  // No closure in here: this runs for every string measured or written (and esbuild names closures).
  const glyphs: unknown[] = [];
  const positions: unknown[] = [];
  let advanceWidth = 0;
  let last = 0;
  const n = text.length;
  for (let i = 0; i <= n; i++) {
    if (i < n) {
      const c = text.charCodeAt(i);
      if (c !== 32 && c !== 9) continue;
    } else if (last === n) break;
    const run = this.layoutCached(text.slice(last, i + 1));
    if (!onlyWidth) {
      for (let k = 0; k < run.glyphs.length; k++) {
        glyphs.push(run.glyphs[k]);
        positions.push(run.positions[k]);
      }
    }
    advanceWidth += run.advanceWidth;
    last = i + 1;
  }
  return onlyWidth ? { glyphs: null as unknown as unknown[], positions: null as unknown as unknown[], advanceWidth } : { glyphs, positions, advanceWidth };
}

/**
 * pdfkit turns every operator it writes into a page (each word's position, each colour) into bytes of
 * its own (PDFReference.write: the text, a newline, a new byte array), which it concatenates at the
 * page's end: on a long record, most of what the garbage collector does. The page's content collects
 * the text instead and turns it into bytes once, at the end or before any bytes written to it — the
 * same bytes (each chunk followed by a newline, in order).
 */
function joinedContent(doc: PDFKit.PDFDocument) {
  const content = (doc as unknown as { page: { content: { write(chunk: unknown): unknown; end(chunk?: unknown): unknown } } }).page.content;
  const write = content.write.bind(content);
  const end = content.end.bind(content);
  const parts: string[] = [];
  const flush = () => {
    if (parts.length === 0) return;
    write(parts.join('\n'));
    parts.length = 0;
  };
  content.write = (chunk: unknown) => {
    if (typeof chunk === 'string') parts.push(chunk);
    else {
      flush();
      write(chunk);
    }
  };
  content.end = (chunk?: unknown) => {
    flush();
    return end(chunk);
  };
}

/** Ends the document and collects its bytes. */
export function pdfBytes(doc: PDFKit.PDFDocument): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
    doc.end();
  });
}
