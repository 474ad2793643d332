// The PDF as an inspector's tools see it: Debian's qpdf and poppler-utils (installed by .ci/run).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });

/** Writes the bytes to a temporary file for the command-line tools; removed by `done`. */
export function pdfFile(bytes: Buffer) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellbatch-pdf-'));
  const file = path.join(dir, 'record.pdf');
  fs.writeFileSync(file, bytes);
  return {
    file, dir,
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
