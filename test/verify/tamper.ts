// Tampered copies of a record PDF for the verifier's tests, made deterministically: with Debian's qpdf
// (re-embedding an attachment; rewriting a content stream in QDF form), or by drawing a whole new PDF
// from an edited record with the record's own renderer, as a forger holding this software could.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const scratch = () => fs.mkdtempSync(path.join(os.tmpdir(), 'cellbatch-tamper-'));

/** The PDF with its record.json replaced by `json` (the PDF's Keywords and pages left as they were). */
export function replaceAttachment(pdf: Buffer, json: Buffer): Buffer {
  const dir = scratch();
  try {
    fs.writeFileSync(path.join(dir, 'in.pdf'), pdf);
    fs.writeFileSync(path.join(dir, 'record.json'), json);
    execFileSync('qpdf', [path.join(dir, 'in.pdf'), path.join(dir, 'out.pdf'), '--add-attachment', path.join(dir, 'record.json'), '--key=record.json', '--filename=record.json', '--mimetype=application/json', '--replace', '--']);
    return fs.readFileSync(path.join(dir, 'out.pdf'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The PDF without any attachment. */
export function removeAttachment(pdf: Buffer): Buffer {
  const dir = scratch();
  try {
    fs.writeFileSync(path.join(dir, 'in.pdf'), pdf);
    execFileSync('qpdf', [path.join(dir, 'in.pdf'), path.join(dir, 'out.pdf'), '--remove-attachment=record.json']);
    return fs.readFileSync(path.join(dir, 'out.pdf'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Code → character of each ToUnicode CMap in the file (pdfkit writes bfrange arrays; bfchar too for safety). */
function cmaps(qdf: string): Map<string, string>[] {
  const maps: Map<string, string>[] = [];
  for (const [, body] of qdf.matchAll(/stream\n([\s\S]*?begincmap[\s\S]*?)endstream/g)) {
    const map = new Map<string, string>();
    const char = (hex: string) => String.fromCodePoint(...(hex.match(/.{4}/g) ?? []).map((h) => parseInt(h, 16)));
    for (const [, start, list] of body.matchAll(/<([0-9a-fA-F]{4})>\s*<[0-9a-fA-F]{4}>\s*\[([^\]]*)\]/g)) {
      [...list.matchAll(/<([0-9a-fA-F]+)>/g)].forEach(([, u], i) => map.set((parseInt(start, 16) + i).toString(16).padStart(4, '0'), char(u)));
    }
    for (const [, code, u] of body.matchAll(/^<([0-9a-fA-F]{4})>\s*<([0-9a-fA-F]+)>$/gm)) map.set(code.toLowerCase(), char(u));
    maps.push(map);
  }
  return maps;
}

/**
 * The PDF with the first text run that reads `from` drawn as `to` instead (same number of characters,
 * each found in the same embedded font): what a forger editing the page would do. The glyph codes in
 * the content stream are rewritten, so the page shows and its text reads `to`.
 */
export function editPageText(pdf: Buffer, from: string, to: string): Buffer {
  if ([...from].length !== [...to].length) throw new Error('same length only');
  const dir = scratch();
  try {
    fs.writeFileSync(path.join(dir, 'in.pdf'), pdf);
    execFileSync('qpdf', ['--qdf', '--object-streams=disable', path.join(dir, 'in.pdf'), path.join(dir, 'q.pdf')]);
    let qdf = fs.readFileSync(path.join(dir, 'q.pdf')).toString('latin1');
    const maps = cmaps(qdf);
    let done = false;
    qdf = qdf.replace(/\[<([0-9a-f]+)>/g, (whole, hex: string) => {
      if (done) return whole;
      const codes = hex.match(/.{4}/g) ?? [];
      for (const map of maps) {
        const text = codes.map((c) => map.get(c) ?? '\u0000').join('');
        const at = text.indexOf(from);
        if (at < 0) continue;
        const inverse = new Map([...map].map(([c, ch]) => [ch, c]));
        const replaced = [...to].map((ch, i) => (ch === from[i] ? codes[at + i] : inverse.get(ch)));
        if (replaced.some((c) => c === undefined)) throw new Error(`the font has no glyph for a character of "${to}"`);
        codes.splice(at, replaced.length, ...(replaced as string[]));
        done = true;
        return `[<${codes.join('')}>`;
      }
      return whole;
    });
    if (!done) throw new Error(`no text run reads "${from}"`);
    fs.writeFileSync(path.join(dir, 'q.pdf'), Buffer.from(qdf, 'latin1'));
    execFileSync('qpdf', [path.join(dir, 'q.pdf'), path.join(dir, 'out.pdf')]);
    return fs.readFileSync(path.join(dir, 'out.pdf'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
