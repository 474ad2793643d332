// The verification of one PDF batch record, offline: every check in order, then what no check can
// prove. Pure apart from the clock that dates the verdict.
import type { BatchRecordExport } from '../../../schemas/export.js';
import { Check, notRun, type CheckResult } from './checks.js';
import { sha256Hex } from './hashing.js';
import { checkPages } from './page-checks.js';
import { readPdf, UnusableInput, type PdfContent } from './pdf.js';
import { checkCheckpoints, checkCompleteness, checkDocumentAgainstRows, checkEntrySignatures, checkFormat, checkLinks, checkRowHashes, checkSeal, checkServerVerdict, checkSiteKey } from './record-checks.js';

declare const VERIFIER_VERSION: string;
export const VERSION = typeof VERIFIER_VERSION === 'string' ? VERIFIER_VERSION : 'source';

export interface Verdict {
  tool: string;
  version: string;
  file: { path: string; sha256: string; bytes: number };
  verifiedAt: string;
  record?: { format: string; batchNumber: string; din: string; batchId: string; asOf: string; timeZone: string; language: string | undefined; pages: number; attachmentSha256: string };
  checks: CheckResult[];
  /** What this record cannot prove, whatever the checks say. */
  limits: string[];
  verdict: 'PASS' | 'FAIL' | 'UNUSABLE';
  exitCode: 0 | 1 | 2;
  /** Why the input could not be used (exit status 2). */
  error?: string;
}

export interface VerifyOptions {
  path: string;
  /** Public keys the site published (PEM), each with the file it came from. */
  keys: { file: string; pem: string }[];
  /** A record without a batch seal fails (records made before the seal existed have none). */
  requireSeal?: boolean;
  now?: () => Date;
}

const KEYWORDS = /record\.json SHA-256 ([0-9a-f]{64})/;

/** D:YYYYMMDDHHmmSSZ as pdfkit writes it, as an ISO time to the second. */
function pdfDate(v: unknown): string | undefined {
  const m = typeof v === 'string' ? /^D:(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z/.exec(v) : null;
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z` : undefined;
}

export async function verifyPdf(bytes: Uint8Array, o: VerifyOptions): Promise<Verdict> {
  const base = {
    tool: 'cellbatch-verify', version: VERSION,
    file: { path: o.path, sha256: sha256Hex(bytes), bytes: bytes.length },
    verifiedAt: (o.now?.() ?? new Date()).toISOString(),
  };
  const unusable = (error: string): Verdict => ({ ...base, checks: [], limits: [], verdict: 'UNUSABLE', exitCode: 2, error });
  let pdf: PdfContent;
  try {
    pdf = await readPdf(bytes);
  } catch (e) {
    if (e instanceof UnusableInput) return unusable(e.message);
    throw e;
  }
  const files = pdf.attachments.filter((a) => a.name === 'record.json');
  if (files.length === 0) return unusable(`the PDF has no attached record.json${pdf.attachments.length ? ` (attached: ${pdf.attachments.map((a) => a.name).join(', ')})` : ''}: it is not a cellbatch batch record, or its attachment was removed`);
  const attachment = files[0];
  const attachmentSha = sha256Hex(attachment.content);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(attachment.content).toString('utf8'));
  } catch (e) {
    return unusable(`the attached record.json is not JSON: ${(e as Error).message}`);
  }

  const checks: CheckResult[] = [];
  // The attachment against what the PDF says of it (the Keywords of the document information; the cover).
  const att = new Check('attachment', 'record.json is attached and its SHA-256 is the one the PDF states');
  const keywords = typeof pdf.info.Keywords === 'string' ? pdf.info.Keywords : '';
  const stated = KEYWORDS.exec(keywords)?.[1];
  att.expect(files.length === 1, 'attachments', `${files.length} files named record.json are attached`);
  if (att.expect(!!stated, 'PDF Keywords', `the document information does not state the attachment's SHA-256 (Keywords: ${JSON.stringify(keywords)})`)) {
    att.expect(stated === attachmentSha, 'PDF Keywords', `the PDF states SHA-256 ${stated}; the attached record.json has ${attachmentSha}: the attachment was replaced`);
  }
  checks.push(att.done(`record.json (${attachment.content.length} bytes, SHA-256 ${attachmentSha}) is the file the PDF's Keywords name`));

  const { result, doc } = checkFormat(json);
  checks.push(result);
  const limits: string[] = [];
  if (doc) {
    checks.push(checkRowHashes(doc), checkLinks(doc), checkEntrySignatures(doc), checkDocumentAgainstRows(doc), checkCheckpoints(doc));
    const seal = checkSeal(doc, o.requireSeal ?? false);
    if (seal) checks.push(seal);
    if (o.keys.length) checks.push(checkSiteKey(doc, o.keys));
    checks.push(checkServerVerdict(doc), checkCompleteness(doc, pdfDate(pdf.info.CreationDate)));
    try {
      checks.push(...checkPages({ doc, pdf, attachmentSha }));
    } catch (e) {
      const c = new Check('pages', 'what the pages say agrees with the attachment');
      c.fail('pages', `the pages could not be compared: ${(e as Error).message}`);
      checks.push(c.done(''));
    }
    limits.push(...limitsOf(doc, o.keys.length > 0, seal?.status === 'PASS'));
  } else {
    for (const [id, title] of [['row-hashes', 'hashes'], ['checkpoints', 'checkpoints'], ['pages', 'pages']]) checks.push(notRun(id, title, 'the attachment is not a readable record of this format'));
  }
  const failed = checks.some((c) => c.status !== 'PASS');
  return {
    ...base,
    ...(doc && {
      record: {
        format: doc.format, batchNumber: doc.batch.batchNumber, din: `${doc.batch.din} ${doc.batch.dinCheck}`, batchId: doc.batch.id, asOf: doc.asOf, timeZone: doc.timeZone,
        language: pdf.language, pages: pdf.pages.length, attachmentSha256: attachmentSha,
      },
    }),
    checks, limits, verdict: failed ? 'FAIL' : 'PASS', exitCode: failed ? 1 : 0,
  };
}

/** What a PASS does not prove about this record: said in every verdict, so that no one reads more into it. */
function limitsOf(doc: BatchRecordExport, keyGiven: boolean, sealed: boolean): string[] {
  const out: string[] = [];
  if (!keyGiven) {
    const ids = [...new Set(doc.checkpoints.map((c) => c.keyId))];
    out.push(`The checkpoints were checked against the public key inside the record (${ids.join(', ') || 'none'}). Anyone can make a key: compare this key id with the key the site published (run again with --key site-key.pem) before relying on the signatures.`);
  }
  const unproven = (['entries', 'signatures', 'audit_log'] as const).flatMap((t) => {
    const n = doc.chains[t].rows.length - anchoredRows(doc, t);
    return n > 0 ? [`${t} ${n} of ${doc.chains[t].rows.length}`] : [];
  });
  if (sealed) {
    out.push(`Every row of the batch is proven by the batch seal: the server signed their list when the whole record had verified against every signed checkpoint (checkpoint ${doc.seal!.statement.checkpoint.n}). That rests on the server's verification and on its key being the site's and uncompromised.`);
  } else if (unproven.length) {
    out.push(`The chains are shared by every batch of the site: rows of other batches lie between this batch's rows, and they are not in this record. A row is proven inside the signed chain here only when consecutive rows of this record lead from it to a signed head; for ${unproven.join(', ')} rows they do not. Those rows match their own hashes, but someone holding the database could have rewritten them and recomputed their hashes, or left out rows after them, without this file showing it. ${doc.seal ? '' : 'The record carries no batch seal (the batch was not yet disposed of, or the record was made before the seal existed or by a server without a signing key). '}The server's full verification (GET /audit/verify, \`cellbatch verify\`) walks the whole chain.`);
  }
  out.push('The pages were compared by their text, as search and screen readers read it: text drawn invisibly, or letters drawn as shapes, are not seen. Read the pages too.');
  out.push('A signature proves which account signed and when the server recorded it; that the person was who the account names rests on the site\'s account and password controls (21 CFR 11.100, 11.300).');
  out.push('The verdict concerns this file: that it is the site\'s latest or only record of the batch is not proven by the file. The site keeps the SHA-256 of every record it issued (audit action record.exported / record.frozen): compare the file\'s SHA-256 above.');
  return out;
}

/** How many rows of a chain are linked, by consecutive rows of this record, to a signed head they reach. */
export function anchoredRows(doc: BatchRecordExport, t: 'entries' | 'signatures' | 'audit_log'): number {
  const rows = [...doc.chains[t].rows].sort((a, b) => b.seq - a.seq);
  const heads = new Map(doc.checkpoints.map((cp) => [cp.heads[t].seq, cp.heads[t].hash]));
  let n = 0;
  let above: (typeof rows)[number] | undefined;
  let linked = false;
  for (const row of rows) {
    linked = heads.get(row.seq) === row.hash || (linked && !!above && above.seq === row.seq + 1 && above.prevHash === row.hash);
    if (linked) n++;
    above = row;
  }
  return n;
}
