// The PDF as an inspector's tools see it: Debian's qpdf and poppler-utils (installed by .ci/run).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });

/** Writes the bytes to a temporary file for the command-line tools; removed by `done`. */
export function pdfFile(bytes: Buffer) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellbatch-pdf-'));
  const file = path.join(dir, 'record.pdf');
  fs.writeFileSync(file, bytes);
  return {
    file, dir, bytes,
    /** `qpdf --check`: exit status 0 and its report. */
    check: () => run('qpdf', ['--check', file]),
    fonts: () => run('pdffonts', [file]),
    meta: () => run('pdfinfo', ['-meta', file]),
    info: () => run('pdfinfo', [file]),
    /** The text of every page in the order it was drawn (form feed between pages). */
    text: () => run('pdftotext', ['-raw', '-enc', 'UTF-8', file, '-']),
    /** The attachment `name` as bytes. */
    attachment: (name: string) => {
      const out = path.join(dir, name);
      run('pdfdetach', ['-savefile', name, '-o', out, file]);
      return fs.readFileSync(out);
    },
    attachments: () => run('pdfdetach', ['-list', file]),
    done: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * What every archival document must be (ISO 19005-3, PDF/A-3b; regulations.md P1, P2), as an
 * inspector's tools see it: PDF 1.7; qpdf finds no error; no encryption, no JavaScript; every font an
 * embedded subset of Noto Sans; XMP with pdfaid part 3 conformance B; dated `date` (the record's time,
 * never the clock) in the XMP and the information dictionary; `attachment`, when named, the one
 * embedded file. Returns what the tools said, for the document's own checks.
 */
export function expectArchival(f: ReturnType<typeof pdfFile>, o: { date?: string; attachment?: string } = {}) {
  expect(f.bytes.subarray(0, 8).toString()).toBe('%PDF-1.7');
  expect(f.check()).toMatch(/No syntax or stream encoding errors/);
  const info = f.info();
  expect(info).toMatch(/Encrypted:\s+no/);
  expect(info).toMatch(/JavaScript:\s+no/);
  const fonts = f.fonts().trim().split('\n').slice(2);
  expect(fonts.length).toBeGreaterThan(0);
  for (const line of fonts) expect(line, line).toMatch(/^\S+\+NotoSans-\S+\s+CID TrueType\s+Identity-H\s+yes\s+yes\s+yes/);
  const meta = f.meta();
  expect(meta).toMatch(/<pdfaid:part>3<\/pdfaid:part>/);
  expect(meta).toMatch(/<pdfaid:conformance>B<\/pdfaid:conformance>/);
  if (o.date !== undefined) {
    const date = `${o.date.split('.')[0]}Z`;
    expect(meta).toContain(`<xmp:CreateDate>${date}</xmp:CreateDate>`);
    expect(meta).toContain(`<xmp:ModifyDate>${date}</xmp:ModifyDate>`);
    expect(new Date(/CreationDate:\s+(.+)/.exec(info)![1]).toISOString()).toBe(new Date(date).toISOString());
  }
  if (o.attachment !== undefined) expect(f.attachments()).toMatch(new RegExp(`1 embedded files\\s+1: ${o.attachment.replace(/\./g, '\\.')}`));
  return { info, meta };
}
