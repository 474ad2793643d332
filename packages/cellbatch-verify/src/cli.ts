// cellbatch-verify FILE.pdf [--key site-key.pem]... [--require-seal] [--json]
// Exit status: 0 every check holds, 1 a check failed (the verdict names the place), 2 unusable input.
// Runs offline: it reads the file and the keys named, and nothing else.
import fs from 'node:fs';
import { verdictText } from './verdict.js';
import { VERSION, verifyPdf } from './verify.js';

const USAGE = `Usage: cellbatch-verify RECORD.pdf [--key SITE-KEY.pem]... [--require-seal] [--json]

Verifies a cellbatch batch record (PDF/A-3b with record.json attached) without the server:
the attachment's SHA-256, every chained row's hash and link, each signature's entry hash,
the document against the hashed rows, the signed checkpoints (Ed25519), and that the
pages print what the attachment holds.

  --key FILE   a public key (PEM) the site published: every checkpoint must be signed by it
               (repeat for keys of earlier years)
  --require-seal  fail a record without a batch seal (records made before the seal have none)
  --json       print the verdict as JSON
  --help       this text
  --version    the verifier's version

Exit status: 0 when every check holds, 1 when one fails, 2 when the input cannot be used.
`;

function fail(message: string): never {
  process.stderr.write(`cellbatch-verify: ${message}\n\n${USAGE}`);
  process.exit(2);
}

async function main(argv: string[]) {
  const files: string[] = [];
  const keyFiles: string[] = [];
  let json = false;
  let requireSeal = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') return void process.stdout.write(USAGE);
    if (a === '--version') return void process.stdout.write(`${VERSION}\n`);
    if (a === '--json') json = true;
    else if (a === '--require-seal') requireSeal = true;
    else if (a === '--key') keyFiles.push(argv[++i] ?? fail('--key needs a file'));
    else if (a.startsWith('--key=')) keyFiles.push(a.slice(6));
    else if (a.startsWith('-')) fail(`unknown option ${a}`);
    else files.push(a);
  }
  if (files.length !== 1) fail(files.length ? 'give one PDF at a time' : 'which PDF?');
  const keys = keyFiles.map((file) => {
    try {
      return { file, pem: fs.readFileSync(file, 'utf8') };
    } catch (e) {
      return fail(`the key ${file} cannot be read: ${(e as Error).message}`);
    }
  });
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(files[0]);
  } catch (e) {
    return fail(`${files[0]} cannot be read: ${(e as Error).message}`);
  }
  const verdict = await verifyPdf(bytes, { path: files[0], keys, requireSeal });
  process.stdout.write(json ? `${JSON.stringify(verdict, null, 2)}\n` : verdictText(verdict));
  process.exitCode = verdict.exitCode;
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`cellbatch-verify: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 2;
});
