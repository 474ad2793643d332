// What the PDF's pages say, compared with the attached record. The expected text is produced by the
// very code that drew the pages (reports/values.ts, format.ts and the message catalogues, bundled into
// the verifier), from the attachment: a value, a name or a time printed otherwise than the attachment
// says is found, with its page. Text is compared without white space, because a cell may wrap a
// line anywhere; numbers are matched whole (entry 1 is not found inside entry 12).
import type { Step } from '../../../workflows/definition.js';
import type { BatchRecordExport } from '../../../schemas/export.js';
import { fill, messages, type Messages, type ReportLang } from '../../../reports/messages/index.js';
import { printable } from '../../../reports/format.js';
import { exprText, num, readerOf, signatureText, specText, time, userText, valueText, type Reader } from '../../../reports/values.js';
import { dispositionText, identification, otherEntryLines, type CorrectionPayload, type StepPayload } from '../../../reports/record-parts.js';
import { Check, type CheckResult } from './checks.js';
import type { PdfContent } from './pdf.js';

type Entry = BatchRecordExport['entries'][number];

// The pages write the signs their font lacks as a reader would type them (reports/format.ts printable).
const norm = (s: string) => printable(s).replace(/\s+/g, '');
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const isDigit = (ch: string | undefined) => ch !== undefined && ch >= '0' && ch <= '9';

/** The pages' text without white space, the frame of each page (header, footer) taken off. */
class PageText {
  readonly all: string;
  private readonly starts: number[] = [];

  constructor(readonly bodies: string[]) {
    let at = 0;
    for (const b of bodies) {
      this.starts.push(at);
      at += b.length;
    }
    this.all = bodies.join('');
  }

  /** The page (1-based) an offset of `all` lies on. */
  pageAt(offset: number): number {
    let page = 1;
    this.starts.forEach((s, i) => { if (offset >= s) page = i + 1; });
    return page;
  }

  /** The first whole occurrence of `needle` (already normalised) in `all` within [from, to), or -1. */
  find(needle: string, from = 0, to = this.all.length): number {
    let i = this.all.indexOf(needle, from);
    while (i >= 0 && i + needle.length <= to) {
      const before = this.all[i - 1];
      const after = this.all[i + needle.length];
      if (!(isDigit(needle[0]) && isDigit(before)) && !(isDigit(needle[needle.length - 1]) && isDigit(after))) return i;
      i = this.all.indexOf(needle, i + 1);
    }
    return -1;
  }
}

/**
 * The numbers printed in the first column of a table between two section headings: a text item that
 * is a number alone, followed by a time printed as the record prints times (entry numbers of the other
 * entries, audit sequence numbers). Read from the pages, to find rows the attachment lacks.
 */
function printedNumbers(pdf: PdfContent, from: string, to: string, timeShape: RegExp): { n: number; page: number }[] {
  const out: { n: number; page: number }[] = [];
  let inside = false;
  pdf.pages.forEach((items, p) => items.forEach((item, i) => {
    const t = item.text.trim();
    if (t === from.trim()) inside = true;
    else if (t === to.trim()) inside = false;
    else if (inside && /^\d+$/.test(t) && timeShape.test(items.slice(i + 1).find((x) => x.text.trim())?.text ?? '')) out.push({ n: Number(t), page: p + 1 });
  }));
  return out;
}

/** A pattern for times as the record prints them: digits of the record's own date turned into \d. */
const timeShapeOf = (r: Reader, iso: string) => new RegExp(`^${escape(time(r, iso)).replace(/\d/g, '\\d').replace(/ UTC.*$/, '')}`);

export interface PageChecksInput {
  doc: BatchRecordExport;
  pdf: PdfContent;
  /** SHA-256 of the attachment as found in the PDF. */
  attachmentSha: string;
}

/** The language the PDF was printed in: its /Lang, else the catalogue whose page numbering page 1 carries. */
export function languageOf(pdf: PdfContent): ReportLang {
  if (pdf.language === 'en' || pdf.language === 'vi') return pdf.language;
  const first = norm(pdf.pages[0]?.map((x) => x.text).join('') ?? '');
  return first.includes(norm(fill(messages.vi.pageOf, { page: 1, pages: pdf.pages.length }))) ? 'vi' : 'en';
}

export function checkPages({ doc, pdf, attachmentSha }: PageChecksInput): CheckResult[] {
  const lang = languageOf(pdf);
  const m = messages[lang];
  const r = readerOf(doc, lang, m);
  const frame = new Check('pages-frame', 'every page: batch, DIN, process, the record\'s date and "page X of N"');
  const bodies = pdf.pages.map((items, i) => pageBody(frame, r, doc, items.map((x) => x.text).join(''), i + 1, pdf.pages.length));
  const text = new PageText(bodies);
  return [
    frame.done(`${pdf.pages.length} pages each carry batch ${doc.batch.batchNumber}, DIN ${doc.batch.din}${doc.batch.dinCheck}, ${doc.process.id} v${doc.process.version}, the record's date ${time(r, doc.asOf)} and their page number`),
    cover(text, r, doc, attachmentSha),
    entries(text, r, doc, pdf),
    signatures(text, r, doc),
    appendix(text, r, doc, pdf),
  ];
}

/** A batch run on a master record not in effect: every page says DRAFT (reports/document.ts, batchFrame). */
const draft = (doc: BatchRecordExport) => doc.process.status !== undefined && doc.process.status !== 'effective';

/** Checks the frame of a page (drawn last on each page: banner, header, footer, page number) and returns the rest. */
function pageBody(c: Check, r: Reader, doc: BatchRecordExport, raw: string, page: number, pages: number): string {
  const { m } = r;
  const b = doc.batch;
  const parts: [string, string][] = [
    ...(r.def.autologous ? [['banner', m.autologous] as [string, string]] : []),
    ['header', fill(m.header, { batch: b.batchNumber, din: `${b.din}${b.dinCheck}`, process: doc.process.id, version: doc.process.version })],
    ['footer', [fill(m.asOf, { time: time(r, doc.asOf) }), b.chainOfIdentityId, ...(doc.training ? [m.training] : []), ...(draft(doc) ? [m.draft] : [])].join(' · ')],
    ['page number', fill(m.pageOf, { page, pages })],
  ];
  const text = norm(raw);
  const suffix = parts.map(([, t]) => norm(t)).join('');
  if (text.endsWith(suffix)) return text.slice(0, text.length - suffix.length);
  for (const [what, t] of parts) c.expect(text.includes(norm(t)), `page ${page}`, `the ${what} does not read "${t}"`);
  if (c.problems.length === 0) c.fail(`page ${page}`, 'the header and footer are not where the record\'s printer puts them');
  return text;
}

function cover(text: PageText, r: Reader, doc: BatchRecordExport, sha: string): CheckResult {
  const { m } = r;
  const b = doc.batch;
  const c = new Check('pages-cover', 'the cover: batch number, DIN, chain of identity, patient, process, status, disposition, attachment SHA-256');
  const first = text.bodies[0] ?? '';
  // The identification block is the reports' own (reports/record-parts.ts): patient or donor and
  // recipient, process and its draft status, exactly as the cover prints them.
  const cellText = (cell: string | { text: string }[]) => (typeof cell === 'string' ? cell : cell.map((l) => l.text).join(' '));
  const rows: [string, string][] = [
    ...identification(r, doc).map(([label, cell]): [string, string] => [label, cellText(cell)]),
    [m.cover.started, time(r, b.createdAt)],
    [m.cover.status, m.status[b.status] ?? b.status],
    [m.cover.disposition, dispositionText(r, doc)],
    [m.cover.openDeviations, String(b.openDeviations)],
    [m.cover.integrity, doc.integrity.intact ? m.cover.intact : m.cover.notIntact],
    [m.cover.attachment, fill(m.cover.attachmentText, { format: doc.format, sha })],
  ];
  for (const [label, value] of rows) c.expect(first.includes(norm(label + value)), `page 1: ${label}`, `the cover does not print "${value}" as the attachment says`);
  return c.done(`page 1 prints batch ${b.batchNumber}, DIN ${b.din} ${b.dinCheck}, ${b.chainOfIdentityId}, status, disposition and the attachment's SHA-256 as the attachment says`);
}

/** Step entries in the order the record prints them: by phase and step of the definition, then in record order. */
function printedSteps(r: Reader, doc: BatchRecordExport): { step: Step; e: Entry }[] {
  return r.def.phases.flatMap((ph) => ph.steps.flatMap((step) => doc.entries.filter((e) => e.kind === 'step' && e.stepId === step.id).map((e) => ({ step, e }))));
}

const correctionsOf = (doc: BatchRecordExport, e: Entry) => doc.entries.filter((x) => x.kind === 'correction' && (x.payload as unknown as CorrectionPayload).correctsEntryId === e.id);

const headingOf = (r: Reader, step: Step, e: Entry) => {
  const p = e.payload as unknown as StepPayload;
  const occurrence = step.repeatable && p.occurrence ? ` · ${fill(r.m.step.occurrence, { n: p.occurrence })}` : '';
  return `${step.title[r.lang]}${occurrence} · ${fill(r.m.step.entry, { seq: e.batchSeq })}`;
};

/** Where each printed step entry's part of the pages begins and ends (-1 where its heading is missing). */
function stepSegments(text: PageText, r: Reader, doc: BatchRecordExport) {
  const steps = printedSteps(r, doc);
  let cursor = 0;
  const starts = steps.map(({ step, e }) => {
    const at = text.find(norm(headingOf(r, step, e)), cursor);
    if (at >= 0) cursor = at + 1;
    return at;
  });
  const sectionsEnd = [norm(r.m.sections.coa), norm(r.m.sections.deviations)].map((h) => text.all.indexOf(h, cursor)).filter((i) => i >= 0);
  const end = sectionsEnd.length ? Math.min(...sectionsEnd) : text.all.length;
  return steps.map((s, i) => ({ ...s, start: starts[i], end: starts.slice(i + 1).find((x) => x > starts[i]) ?? end }));
}

const place = (text: PageText, at: number, e: Entry) => `page ${text.pageAt(Math.max(at, 0))}, entry ${e.batchSeq} (entries seq ${e.seq})`;

function entries(text: PageText, r: Reader, doc: BatchRecordExport, pdf: PdfContent): CheckResult {
  const { m } = r;
  const c = new Check('pages-entries', 'every entry as printed: values with units, acceptance and result, corrections, times');
  let fields = 0;
  for (const { step, e, start, end } of stepSegments(text, r, doc)) {
    if (!c.expect(start >= 0, `entry ${e.batchSeq} (entries seq ${e.seq})`, `no page prints its heading "${headingOf(r, step, e)}"`)) continue;
    const p = e.payload as unknown as StepPayload;
    const within = (needle: string) => text.find(norm(needle), start, end) >= 0;
    const times = [p.performedAt ? `${m.step.performedAt}: ${time(r, p.performedAt)}` : '', `${m.step.recordedAt}: ${time(r, e.recordedAt)}`].filter(Boolean).join(' · ');
    c.expect(within(times), place(text, start, e), `the page does not print "${times}"`);
    const corrections = correctionsOf(doc, e);
    for (const [label, printed, what] of fieldRows(r, step, e, corrections)) {
      fields++;
      if (within(printed)) continue;
      c.fail(`${place(text, start, e)} field ${what}`, within(label) ? `the row "${label}" does not read "${printed}" as the attachment says` : `the field "${label}" is not printed`);
    }
    for (const x of corrections) {
      const cp = x.payload as unknown as CorrectionPayload;
      const changes = Object.entries(cp.values).map(([name, v]) => {
        const f = step.fields.find((y) => y.name === name);
        return `${f?.label[r.lang] ?? name}: ${valueText(r, f, v)}`;
      });
      for (const line of [fill(m.correction.title, { seq: x.batchSeq, of: e.batchSeq }), `${m.step.recordedAt}${time(r, x.recordedAt)}`, `${m.correction.now}${changes.join('; ')}`, `${m.correction.reason}${cp.reason}`]) {
        c.expect(within(line), `${place(text, start, e)} correction entry ${x.batchSeq}`, `the page does not print "${line}"`);
      }
    }
  }
  // Other entries (start, review, disposition, termination) in their table.
  const rendered = new Set(['step', 'correction', 'verification', 'deviation']);
  const others = doc.entries.filter((e) => !rendered.has(e.kind));
  const from = others.length ? text.find(norm(r.m.sections.other)) : 0;
  if (others.length) c.expect(from >= 0, 'pages', `the section "${r.m.sections.other}" is not printed`);
  for (const e of others) {
    const row = [String(e.batchSeq), time(r, e.recordedAt), m.kind[e.kind] ?? e.kind, ...otherEntryLines(r, e)].join('');
    c.expect(from >= 0 && text.find(norm(row), from) >= 0, `entry ${e.batchSeq} (entries seq ${e.seq})`, `the table of other entries does not print "${row.slice(0, 160)}…" as the attachment says`);
  }
  // The other way round: every entry the pages print is in the attachment (a record cut short under intact pages).
  const known = new Set(doc.entries.filter((e) => e.kind === 'step').map((e) => e.batchSeq));
  const heading = new RegExp(`·${escape(norm(fill(m.step.entry, { seq: '\u0000' }))).replace('\u0000', '(\\d+)')}(?!\\d)`, 'g');
  for (const match of text.all.matchAll(heading)) {
    const n = Number(match[1]);
    c.expect(known.has(n), `page ${text.pageAt(match.index!)}`, `the page prints entry ${n}, which the attachment does not hold`);
  }
  const otherNumbers = new Set(others.map((e) => e.batchSeq));
  for (const { n, page } of printedNumbers(pdf, m.sections.other, m.sections.audit, timeShapeOf(r, doc.asOf))) {
    c.expect(otherNumbers.has(n), `page ${page}`, `the table of other entries prints entry ${n}, which the attachment does not hold`);
  }
  const correctionTitle = new RegExp(escape(norm(fill(m.correction.title, { seq: '\u0000', of: '\u0001' }))).replace('\u0000', '(\\d+)').replace('\u0001', '(\\d+)'), 'g');
  const corrections = new Set(doc.entries.filter((e) => e.kind === 'correction').map((e) => e.batchSeq));
  for (const match of text.all.matchAll(correctionTitle)) {
    c.expect(corrections.has(Number(match[1])), `page ${text.pageAt(match.index!)}`, `the page prints correction entry ${match[1]}, which the attachment does not hold`);
  }
  return c.done(`${printedSteps(r, doc).length} step entries (${fields} printed field rows), their corrections and ${others.length} other entries read as the attachment says, in ${r.lang === 'vi' ? 'Vietnamese' : 'English'}; every entry printed is in the attachment`);
}

/** The printed rows of an entry's table: [label, the whole row as printed, field name]. */
function fieldRows(r: Reader, step: Step, e: Entry, corrections: Entry[]): [string, string, string][] {
  const { m } = r;
  const p = e.payload as unknown as StepPayload;
  const history = (name: string) => [p.values[name], ...corrections.map((x) => (x.payload as unknown as CorrectionPayload).values).filter((v) => name in v).map((v) => v[name])];
  const last = corrections.length ? (corrections[corrections.length - 1].payload as unknown as CorrectionPayload).results : p.results;
  const result = (id: string) => (last?.[id] ? m.step[last[id]] : '');
  const rows: [string, string, string][] = step.fields.filter((f) => f.name in p.values || history(f.name).length > 1).map((f) => {
    const label = f.label[r.lang];
    const computed = f.computed ? fill(m.step.computed, { how: exprText(r, f.computed, step) }) : '';
    return [label, [label, computed, ...history(f.name).map((v) => valueText(r, f, v)), specText(r, f.spec, f), result(f.name)].join(''), f.name];
  });
  for (const cr of step.criteria) {
    const how = cr.anyOf.map((a) => `${step.fields.find((f) => f.name === a.field)?.label[r.lang] ?? a.field}: ${specText(r, a.spec, step.fields.find((f) => f.name === a.field))}`).join(m.spec.or);
    const label = `${m.step.criterion}: ${cr.label[r.lang]}`;
    rows.push([label, [label, how, result(cr.id)].join(''), `criterion ${cr.id}`]);
  }
  return rows;
}

function signatures(text: PageText, r: Reader, doc: BatchRecordExport): CheckResult {
  const c = new Check('pages-signatures', 'every signature as printed: printed name, user, meaning, date and time with the zone');
  const segments = new Map(stepSegments(text, r, doc).map((s) => [s.e.id, s]));
  let n = 0;
  for (const e of doc.entries) {
    if (e.kind === 'verification') continue;
    // A correction's signature is printed under the entry it corrects.
    const owner = e.kind === 'correction' ? (e.payload as unknown as CorrectionPayload).correctsEntryId : e.id;
    const seg = segments.get(owner);
    for (const s of e.signatures) {
      n++;
      const line = signatureText(r, s);
      const at = seg && seg.start >= 0 ? text.find(norm(line), seg.start, seg.end) : text.find(norm(line));
      c.expect(at >= 0, seg && seg.start >= 0 ? `${place(text, seg.start, e)} signature ${s.id}` : `entry ${e.batchSeq} signature ${s.id}`, `the pages do not print "${line}" (time zone ${doc.timeZone})`);
    }
  }
  const walk = (v: unknown, path: string) => {
    if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${path}[${i}]`));
    if (v === null || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    const s = o.signature as Parameters<typeof signatureText>[1] | undefined;
    if (s && typeof s === 'object' && typeof s.printedName === 'string') {
      n++;
      const line = signatureText(r, s);
      c.expect(text.find(norm(line)) >= 0, path, `the pages do not print "${line}"`);
    }
    for (const [k, x] of Object.entries(o)) if (k !== 'signature') walk(x, `${path}.${k}`);
  };
  walk(doc.reviews, 'reviews');
  walk(doc.disposition, 'disposition');
  walk(doc.deviations, 'deviations');
  const names = [...new Set(doc.entries.flatMap((e) => e.signatures.map((s) => s.printedName)))];
  return c.done(`${n} signature lines name ${names.join(', ') || 'no one'} with meaning and time in ${doc.timeZone} as the attachment says`);
}

const clip = (t: string, n: number) => (t.length > n ? `${t.slice(0, n)} … (record.json)` : t);

function appendix(text: PageText, r: Reader, doc: BatchRecordExport, pdf: PdfContent): CheckResult {
  const { m } = r;
  const c = new Check('pages-appendix', 'the appendix: every audit row, the signed checkpoints and the public key');
  const from = text.find(norm(m.sections.audit));
  if (!c.expect(from >= 0, 'pages', `the section "${m.sections.audit}" is not printed`)) return c.done('');
  let cursor = from;
  for (const a of doc.audit) {
    const detail = clip([a.before !== undefined ? `${m.correction.was}: ${JSON.stringify(a.before)}` : '', a.after !== undefined ? JSON.stringify(a.after) : '', a.reason ? `${m.correction.reason}: ${a.reason}` : ''].filter(Boolean).join(' · '), 400);
    const row = norm([String(a.seq), time(r, a.at), userText(r, a.userId), a.action, detail].join(''));
    const at = text.find(row, cursor);
    if (c.expect(at >= 0, `audit_log seq ${a.seq}`, `the audit trail does not print the row as the attachment says (${a.action} at ${time(r, a.at)} by ${userText(r, a.userId)})`)) cursor = at + 1;
  }
  const seqs = new Set(doc.audit.map((a) => a.seq));
  for (const { n, page } of printedNumbers(pdf, m.sections.audit, m.sections.integrity, timeShapeOf(r, doc.asOf))) {
    c.expect(seqs.has(n), `page ${page}`, `the audit trail prints audit row ${n}, which the attachment does not hold`);
  }
  const chainsAt = text.find(norm(m.sections.integrity), from);
  for (const cp of doc.checkpoints) {
    const line = fill(m.chains.checkpoint, { n: cp.n, reason: cp.reason, time: time(r, cp.at), key: cp.keyId });
    const heads = fill(m.chains.heads, { e: `${cp.heads.entries.seq}:${cp.heads.entries.hash}`, s: `${cp.heads.signatures.seq}:${cp.heads.signatures.hash}`, a: `${cp.heads.audit_log.seq}:${cp.heads.audit_log.hash}` });
    c.expect(text.find(norm(line + heads), Math.max(chainsAt, 0)) >= 0, `checkpoint ${cp.n}`, `the appendix does not print "${line}" with the heads the attachment gives`);
  }
  const [before, after] = m.chains.checkpoint.split('{n}');
  const printed = new RegExp(`${escape(norm(before))}(\\d+)${escape(norm(after).charAt(0))}`, 'g');
  const known = new Set(doc.checkpoints.map((x) => x.n));
  for (const match of text.all.slice(Math.max(chainsAt, 0)).matchAll(printed)) {
    c.expect(known.has(Number(match[1])), `page ${text.pageAt(Math.max(chainsAt, 0) + match.index!)}`, `the page prints checkpoint ${match[1]}, which the attachment does not hold`);
  }
  for (const k of doc.publicKeys) c.expect(text.find(norm(`${k.algorithm} ${k.id}${k.publicKeyPem}`)) >= 0, `public key ${k.id}`, 'the appendix does not print the public key the attachment holds');
  if (doc.seal) {
    const { rows, checkpoint } = doc.seal.statement;
    const line = fill(m.chains.seal, { entries: rows.entries.length, signatures: rows.signatures.length, audit: rows.audit_log.length, n: checkpoint.n, key: doc.seal.keyId, signature: doc.seal.signature });
    c.expect(text.find(norm(line)) >= 0, 'seal', 'the appendix does not print the batch seal the attachment holds (its row counts, checkpoint, key and signature)');
  }
  return c.done(`${doc.audit.length} audit rows, ${doc.checkpoints.length} checkpoint(s) with their heads and ${doc.publicKeys.length} public key(s) read as the attachment says`);
}

export type { Messages };
