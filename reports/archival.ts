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
  glyphForCodePoint(codePoint: number): { advanceWidth: number; path: { toSVG(): string } };
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
  const font = (doc as unknown as { _font: { layoutCache?: Record<string, unknown>; layoutRun(text: string): unknown } })._font;
  let shared = layouts.get(name);
  if (!shared || shared.size > LAYOUT_CACHE_WORDS) layouts.set(name, (shared = { words: Object.create(null) as Record<string, unknown>, size: 0 }));
  const cache = shared;
  font.layoutCache = cache.words;
  const run = font.layoutRun.bind(font) as (text: string) => { glyphs: { id: number; advanceWidth: number; codePoints: number[] }[] };
  font.layoutRun = (text: string) => {
    cache.size++; // counted where pdfkit adds a word (a miss), so the bound costs nothing on a hit
    const r = run(text);
    // A glyph the font uses for two characters (µ and μ) keeps the characters of whichever document
    // parsed it first; a shared run names the characters of its own word instead (the plain layout
    // gives one glyph per character), so what a page's text says never depends on earlier documents.
    const chars = [...text];
    if (chars.length === r.glyphs.length) r.glyphs = r.glyphs.map((g, i) => ({ id: g.id, advanceWidth: g.advanceWidth, codePoints: [chars[i].codePointAt(0)!] }));
    return r;
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
