// What the verifier reads from the PDF, through pdf.js (Mozilla's parser, legacy build for Node 20):
// the document information, the attached files and the text of each page in drawing order. Nothing is
// fetched: fonts are embedded in the record, no worker is loaded from the network, eval is off.
import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs';

export interface PdfContent {
  /** The document information dictionary (Title, Keywords, CreationDate…) as pdf.js gives it. */
  info: Record<string, unknown>;
  /** The catalog's /Lang (the language the record was printed in). */
  language: string | undefined;
  attachments: { name: string; content: Uint8Array; description: string }[];
  /** Per page, its text items in drawing order; `eol` where pdf.js saw the end of a line. */
  pages: { text: string; eol: boolean }[][];
}

/** Thrown for input that is not a readable PDF (exit status 2). */
export class UnusableInput extends Error {}

export async function readPdf(bytes: Uint8Array): Promise<PdfContent> {
  if (Buffer.from(bytes.subarray(0, 1024)).indexOf('%PDF-') < 0) throw new UnusableInput('the file is not a PDF (no %PDF- header)');
  let doc;
  try {
    doc = await getDocument({ data: new Uint8Array(bytes), isEvalSupported: false, disableFontFace: true, useSystemFonts: false, verbosity: 0, stopAtErrors: true }).promise;
  } catch (e) {
    throw new UnusableInput(`the PDF cannot be read: ${(e as Error).message}`);
  }
  try {
    const meta = await doc.getMetadata();
    const info = (meta.info ?? {}) as Record<string, unknown>;
    const found = (await doc.getAttachments()) as Record<string, { filename: string; content: Uint8Array; description?: string }> | null;
    const attachments = Object.values(found ?? {}).map((a) => ({ name: a.filename, content: a.content, description: a.description ?? '' }));
    const pages: PdfContent['pages'] = [];
    for (let i = 1; i <= doc.numPages; i++) {
      const page = await doc.getPage(i);
      const content = await page.getTextContent();
      pages.push(content.items.flatMap((item) => ('str' in item ? [{ text: item.str, eol: item.hasEOL }] : [])));
      page.cleanup();
    }
    return { info, language: typeof info.Language === 'string' ? info.Language : undefined, attachments, pages };
  } catch (e) {
    throw new UnusableInput(`the PDF cannot be read: ${(e as Error).message}`);
  } finally {
    await doc.destroy();
  }
}
