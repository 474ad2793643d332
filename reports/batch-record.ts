// The executed batch record as an archival PDF (regulations.md R3, C1–C6, S1, P1–P5; DESIGN.md "The
// PDF batch record"): a pure function of the export document and a language. It reads nothing else,
// asks no clock, and attaches the very bytes it was drawn from, so the same record gives the same PDF.
import { createHash } from 'node:crypto';
import type { Step } from '../workflows/definition.js';
import { lateness } from '../workflows/schedule.js';
import type { BatchRecordExport } from '../schemas/export.js';
import { openBatchReport } from './document.js';
import { Sheet, type Cell, type Line } from './layout.js';
import { fill, messages, type ReportLang } from './messages/index.js';
import { exprText, num, readerOf, signatureText, specText, time, userText, valueText, type Reader } from './values.js';
import {
  deviationBlocks, dispositionBlock, dispositionText, identification, otherEntryLines, RED, releaseResults, resultCell, signedBy,
  type CorrectionPayload, type DeviationDoc, type DispositionDoc, type ReviewDoc, type StepPayload,
} from './record-parts.js';

type Entry = BatchRecordExport['entries'][number];
export interface BatchRecordPdfInput {
  record: BatchRecordExport;
  /** The export's bytes exactly as GET /export serves them: attached as record.json. */
  recordJson: Buffer;
  lang: ReportLang;
}

export async function renderBatchRecord({ record, recordJson, lang }: BatchRecordPdfInput): Promise<Buffer> {
  const m = messages[lang];
  const r = readerOf(record, lang, m);
  const b = record.batch;
  const jsonSha = createHash('sha256').update(recordJson).digest('hex');
  const title = `${m.documentTitle} ${b.batchNumber}`;
  const { sheet, end } = openBatchReport({
    title, subject: fill(m.documentSubject, { batch: b.batchNumber }), lang, keywords: `record.json SHA-256 ${jsonSha}`,
    attachment: { name: 'record.json', data: recordJson, mimeType: 'application/json', description: `${record.format}: the electronic batch record ${b.batchNumber}` },
    r, record, heading: m.documentTitle, subheading: r.def.title[lang],
  });
  cover(sheet, r, record, jsonSha);
  steps(sheet, r, record);
  releaseResults(sheet, r, record);
  deviations(sheet, r, record);
  reviewAndDisposition(sheet, r, record);
  containers(sheet, r, record);
  registries(sheet, r, record);
  otherEntries(sheet, r, record);
  auditTrail(sheet, r, record);
  chains(sheet, r, record);
  return end();
}

function cover(s: Sheet, r: Reader, record: BatchRecordExport, jsonSha: string) {
  const { m } = r;
  const b = record.batch;
  s.keyValues([
    ...identification(r, record),
    [m.cover.started, time(r, b.createdAt)],
    [m.cover.status, [{ text: m.status[b.status] ?? b.status, bold: true }]],
    [m.cover.disposition, [{ text: dispositionText(r, record), bold: true }]],
    [m.cover.openDeviations, String(b.openDeviations)],
    [m.cover.integrity, [{ text: record.integrity.intact ? m.cover.intact : m.cover.notIntact, bold: true, ...(!record.integrity.intact && { color: RED }) }]],
    [m.cover.attachment, fill(m.cover.attachmentText, { format: record.format, sha: jsonSha })],
  ]);
}

/** Signature lines of an entry. */
const signatureLines = (r: Reader, e: Entry): Line[] =>
  e.signatures.length ? e.signatures.map((sg) => ({ text: signatureText(r, sg) })) : [{ text: r.m.signature.none, color: RED }];

/**
 * Why a step has no entry, as a reader needs it: a step of a route the batch did not take does not
 * apply (with the choice that decided it); a step done after release is not part of a record made at
 * or before release; any other step was not recorded.
 */
function notRecorded(r: Reader, record: BatchRecordExport, step: Step, corrections: Map<string, Entry[]>): string {
  const { m } = r;
  if (step.when) {
    const chosen = currentValue(record, step.when.step, step.when.field, corrections);
    if (chosen !== undefined && chosen !== step.when.equals) {
      const decider = r.steps.get(step.when.step);
      const field = decider?.fields.find((f) => f.name === step.when!.field);
      return fill(m.step.otherRoute, { field: field?.label[r.lang] ?? step.when.field, value: valueText(r, field, chosen), equals: valueText(r, field, step.when.equals) });
    }
  }
  if (step.stage === 'after-release' && !record.entries.some((e) => e.kind === 'disposition')) return m.step.afterRelease;
  if (step.stage === 'after-release') return m.step.afterReleaseNone;
  return m.step.notRecorded;
}

/** The value a step's latest entry holds for a field, its corrections applied. */
function currentValue(record: BatchRecordExport, stepId: string, field: string, corrections: Map<string, Entry[]>): unknown {
  const entry = record.entries.filter((e) => e.kind === 'step' && e.stepId === stepId).at(-1);
  if (!entry) return undefined;
  let value = (entry.payload as unknown as StepPayload).values[field];
  for (const c of corrections.get(entry.id) ?? []) {
    const values = (c.payload as unknown as CorrectionPayload).values;
    if (field in values) value = values[field];
  }
  return value;
}

function steps(s: Sheet, r: Reader, record: BatchRecordExport) {
  const { m } = r;
  const corrections = new Map<string, Entry[]>();
  for (const e of record.entries) {
    if (e.kind !== 'correction') continue;
    const p = e.payload as unknown as CorrectionPayload;
    corrections.set(p.correctsEntryId, [...(corrections.get(p.correctsEntryId) ?? []), e]);
  }
  s.newPage();
  s.heading(m.sections.steps, 1);
  for (const phase of r.def.phases) {
    s.heading(phase.title[r.lang], 2);
    for (const step of phase.steps) {
      const recorded = record.entries.filter((e) => e.kind === 'step' && e.stepId === step.id);
      if (recorded.length === 0) {
        s.heading(step.title[r.lang], 3);
        s.note(notRecorded(r, record, step, corrections));
        continue;
      }
      for (const e of recorded) stepEntry(s, r, step, e, corrections.get(e.id) ?? []);
    }
  }
}

function stepEntry(s: Sheet, r: Reader, step: Step, e: Entry, corrections: Entry[]) {
  const { m } = r;
  const p = e.payload as unknown as StepPayload;
  const occurrence = step.repeatable && p.occurrence ? ` · ${fill(m.step.occurrence, { n: p.occurrence })}` : '';
  s.heading(`${step.title[r.lang]}${occurrence} · ${fill(m.step.entry, { seq: e.batchSeq })}`, 3);
  s.note([
    p.performedAt ? `${m.step.performedAt}: ${time(r, p.performedAt)}` : '',
    `${m.step.recordedAt}: ${time(r, e.recordedAt)}`,
  ].filter(Boolean).join(' · '));
  // ALCOA+ contemporaneous: a late entry says so, with its reason, where the step is shown.
  const late = p.performedAt ? lateness(r.def, step, p.performedAt, e.recordedAt) : undefined;
  if (late) s.paragraph(fill(m.step.lateEntry, { minutes: Math.round(late.minutes), tolerance: late.tolerance, reason: p.lateReason ?? '—' }), { bold: true });
  // The value history of each field: the original, then each correction in order.
  const history = (name: string) => [p.values[name], ...corrections.map((c) => (c.payload as unknown as CorrectionPayload).values).filter((v) => name in v).map((v) => v[name])];
  // What each signer saw of a lot or instrument: the snapshot kept in their entry.
  const seen = (name: string) => [p.used?.[name], ...corrections.map((c) => c.payload as unknown as CorrectionPayload).filter((c) => name in c.values).map((c) => c.used?.[name])];
  const lastResults = corrections.length ? (corrections[corrections.length - 1].payload as unknown as CorrectionPayload).results : p.results;
  const rows: Cell[][] = step.fields.filter((f) => f.name in p.values || history(f.name).length > 1).map((f) => {
    const values = history(f.name);
    const snapshots = seen(f.name);
    const lines: Line[] = values.map((v, i) => ({ text: valueText(r, f, v, snapshots[i]), strike: i < values.length - 1, ...(i > 0 && { bold: true }) }));
    const label: Line[] = [{ text: f.label[r.lang] }];
    if (f.computed) label.push({ text: fill(m.step.computed, { how: exprText(r, f.computed, step) }), color: '#555555' });
    return [label, lines, specText(r, f.spec, f), resultCell(r, lastResults[f.name])];
  });
  for (const c of step.criteria) {
    const how = c.anyOf.map((a) => `${step.fields.find((f) => f.name === a.field)?.label[r.lang] ?? a.field}: ${specText(r, a.spec, step.fields.find((f) => f.name === a.field))}`).join(m.spec.or);
    const row: Cell[] = [[{ text: `${m.step.criterion}: ${c.label[r.lang]}` }], '', how, resultCell(r, lastResults[c.id])];
    rows.push(row);
  }
  s.table([{ header: m.step.field, width: 0.3 }, { header: m.step.value, width: 0.3 }, { header: m.step.spec, width: 0.26 }, { header: m.step.result, width: 0.14 }], rows);
  s.table([{ header: '', width: 1 }], [[signatureLines(r, e)]], { headless: true });
  for (const c of corrections) {
    const cp = c.payload as unknown as CorrectionPayload;
    s.paragraph(fill(m.correction.title, { seq: c.batchSeq, of: e.batchSeq }), { bold: true });
    const changes = Object.entries(cp.values).map(([name, v]) => {
      const f = step.fields.find((x) => x.name === name);
      return `${f?.label[r.lang] ?? name}: ${valueText(r, f, v, cp.used?.[name])}`;
    });
    s.keyValues([
      [m.step.recordedAt, time(r, c.recordedAt)],
      [m.correction.now, changes.join('; ')],
      [m.correction.reason, cp.reason],
      [m.by, signatureLines(r, c)],
    ], 0.2);
  }
}

interface ContainerDoc {
  containerId: string; bagNumber: number; filledAt: string; status: string; isbt128: { din: string; division: string };
  volume: { value: number; unit: string } | null; dose: { value: number; unit: string; label: string } | null; labelScan: { value: unknown; result: string };
}

function deviations(s: Sheet, r: Reader, record: BatchRecordExport) {
  s.heading(r.m.sections.deviations, 2);
  deviationBlocks(s, r, record.deviations as unknown as DeviationDoc[]);
}

function reviewAndDisposition(s: Sheet, r: Reader, record: BatchRecordExport) {
  const { m } = r;
  s.heading(m.sections.review, 2);
  const reviews = (record.reviews ?? []) as unknown as ReviewDoc[];
  const d = record.disposition as unknown as DispositionDoc | undefined;
  if (reviews.length === 0 && !d) return s.note(m.review.none);
  for (const v of reviews) {
    s.heading(`${m.review.reviewed} · ${time(r, v.signedAt)}`, 3);
    s.keyValues([
      ...(v.comment ? [[m.review.comment, v.comment] as [string, Cell]] : []),
      [m.review.covered, String(v.covered.length)],
      signedBy(r, v),
    ], 0.22);
  }
  if (d) dispositionBlock(s, r, d);
}

function containers(s: Sheet, r: Reader, record: BatchRecordExport) {
  const { m } = r;
  const items = (record.containers ?? []) as unknown as ContainerDoc[];
  s.heading(m.sections.containers, 2);
  if (items.length === 0) return s.note(m.containers.none);
  s.table(
    [{ header: m.containers.id, width: 0.22 }, { header: 'ISBT 128', width: 0.18 }, { header: m.containers.volume, width: 0.12 }, { header: m.containers.dose, width: 0.18 }, { header: m.containers.filled, width: 0.18 }, { header: m.deviation.status, width: 0.12 }],
    items.map((c) => [
      c.containerId, `${c.isbt128.din} ${c.isbt128.division}`, c.volume ? `${num(r, c.volume.value)} ${c.volume.unit}` : '—',
      c.dose ? `${num(r, c.dose.value)} ${c.dose.unit}` : '—', time(r, c.filledAt), c.status,
    ]),
  );
}

function registries(s: Sheet, r: Reader, record: BatchRecordExport) {
  const { m } = r;
  s.heading(m.sections.materials, 2);
  if (record.materials.length === 0) s.note(m.material.none);
  else s.table([{ header: m.material.type, width: 0.2 }, { header: m.material.name, width: 0.3 }, { header: m.material.lot, width: 0.2 }, { header: m.material.expires, width: 0.15 }, { header: m.material.status, width: 0.15 }],
    record.materials.map((x) => [x.type, x.name, x.lotNumber, valueText(r, undefined, x.expiresOn), x.status]));
  s.heading(m.sections.equipment, 2);
  if (record.equipment.length === 0) s.note(m.material.none);
  else s.table([{ header: m.material.asset, width: 0.2 }, { header: m.material.type, width: 0.25 }, { header: m.material.name, width: 0.35 }, { header: m.material.calibration, width: 0.2 }],
    record.equipment.map((x) => [x.assetId, x.type, x.name, x.calibrationDueOn]));
}

function otherEntries(s: Sheet, r: Reader, record: BatchRecordExport) {
  const rendered = new Set(['step', 'correction', 'verification', 'deviation']);
  const others = record.entries.filter((e) => !rendered.has(e.kind));
  if (others.length === 0) return;
  s.table([{ header: '#', width: 0.06 }, { header: r.m.audit.at, width: 0.2 }, { header: r.m.audit.action, width: 0.18 }, { header: r.m.audit.detail, width: 0.56 }],
    others.map((e) => [String(e.batchSeq), time(r, e.recordedAt), r.m.kind[e.kind] ?? e.kind, [
      ...otherEntryLines(r, e).map((text) => ({ text })),
      ...signatureLines(r, e).filter(() => e.signatures.length > 0),
    ]]), { heading: { text: r.m.sections.other, level: 2 } });
}

const clip = (t: string, n: number) => (t.length > n ? `${t.slice(0, n)} … (record.json)` : t);

function auditTrail(s: Sheet, r: Reader, record: BatchRecordExport) {
  const { m } = r;
  s.newPage();
  s.heading(m.sections.audit, 1);
  s.note(m.audit.excluded);
  if (record.audit.length === 0) return s.note(m.audit.none);
  s.table(
    [{ header: m.audit.seq, width: 0.07 }, { header: m.audit.at, width: 0.2 }, { header: m.audit.user, width: 0.18 }, { header: m.audit.action, width: 0.17 }, { header: m.audit.detail, width: 0.38 }],
    record.audit.map((a) => [
      String(a.seq), time(r, a.at), userText(r, a.userId), a.action,
      clip([a.before !== undefined ? `${m.correction.was}: ${JSON.stringify(a.before)}` : '', a.after !== undefined ? JSON.stringify(a.after) : '', a.reason ? `${m.correction.reason}: ${a.reason}` : ''].filter(Boolean).join(' · '), 400),
    ]),
    { size: 6.5 },
  );
}

function chains(s: Sheet, r: Reader, record: BatchRecordExport) {
  const { m } = r;
  s.heading(m.sections.integrity, 2);
  s.note(m.chains.intro);
  if (record.checkpoints.length === 0) return s.note(m.chains.none);
  for (const c of record.checkpoints) {
    s.paragraph(fill(m.chains.checkpoint, { n: c.n, reason: c.reason, time: time(r, c.at), key: c.keyId }), { size: 7 });
    s.note(fill(m.chains.heads, { e: `${c.heads.entries.seq}:${c.heads.entries.hash}`, s: `${c.heads.signatures.seq}:${c.heads.signatures.hash}`, a: `${c.heads.audit_log.seq}:${c.heads.audit_log.hash}` }));
  }
  for (const k of record.publicKeys) s.note(`${k.algorithm} ${k.id}\n${k.publicKeyPem.trim()}`);
  const seal = record.seal;
  if (seal) {
    const { rows, checkpoint } = seal.statement;
    s.note(fill(m.chains.seal, { entries: rows.entries.length, signatures: rows.signatures.length, audit: rows.audit_log.length, n: checkpoint.n, key: seal.keyId, signature: seal.signature }));
  }
}
