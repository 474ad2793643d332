// Parts of the record more than one document prints: the release results (as a certificate of
// analysis) and the disposition in words. Pure, like the documents.
import type { BatchRecordExport } from '../schemas/export.js';
import type { EntryPayload, UsedSnapshot } from '../schemas/entries.js';
import type { Cell, Sheet } from './layout.js';
import { num, signatureText, specText, time, valueText, type Reader } from './values.js';

export type Result = 'pass' | 'fail' | 'alert';
export interface StepPayload { stepId: string; values: Record<string, unknown>; results: Record<string, Result>; occurrence?: number; performedAt?: string; lateReason?: string; used?: Record<string, UsedSnapshot> }
export interface CorrectionPayload extends StepPayload { correctsEntryId: string; reason: string }

export const RED = '#b00020';

/** What identifies the batch a document is about (the export's batch and process; the packet's batch summary gives the same). */
export interface Identified {
  batch: {
    batchNumber: string; din: string; dinCheck: string; chainOfIdentityId: string; patient?: { id: string; weightKg: number } | null;
    donor?: { id: string; eligibility: string }; parents?: { batchNumber: string }[];
  };
  process: { id: string; version: number; hash: string; status?: string };
}

// The QA parts of the record as the views shape them (deviation-view.ts, disposition-view.ts): the
// export and the evidence packet carry the same objects.
export interface Signed { signature?: Parameters<typeof signatureText>[1] | null }
export interface DeviationDoc {
  id: string; kind: string; status: string; severity: string; stepId?: string; description: string; openedAt: string;
  investigation?: Signed & { recordedAt: string; rootCause: string; productImpact: string; otherBatchesImpact: string; capaReference?: string };
  reclassifications?: (Signed & { at: string; from: string; to: string; reason: string })[];
  closure?: Signed & { closedAt: string; investigation: string; conclusion: string };
}
export interface ReviewDoc extends Signed { signedAt: string; comment?: string; covered: string[] }
export interface DispositionDoc extends Signed {
  decision: string; decidedAt: string; justification?: string; physicianRequest?: string; conditional: boolean; pendingTests: string[]; failedTests: string[];
}

export const signedBy = (r: Reader, x: Signed): [string, Cell] => [r.m.by, x.signature ? signatureText(r, x.signature) : [{ text: r.m.signature.none, color: RED }]];
const titles = (r: Reader, ids: string[]) => ids.map((id) => r.steps.get(id)?.title[r.lang] ?? id).join(', ');

/** Each deviation with its investigation, reclassifications and closure, each signed (C3; 21 CFR 211.192). */
export function deviationBlocks(s: Sheet, r: Reader, deviations: DeviationDoc[]) {
  const { m } = r;
  if (deviations.length === 0) return s.note(m.deviation.none);
  for (const d of deviations) {
    s.heading(`${m.deviation.kind}: ${d.kind} · ${m.deviation.severity}: ${d.severity} · ${m.deviation.status}: ${d.status}`, 3);
    const rows: [string, Cell][] = [
      [m.deviation.opened, time(r, d.openedAt)],
      ...(d.stepId ? [[m.deviation.step, r.steps.get(d.stepId)?.title[r.lang] ?? d.stepId] as [string, Cell]] : []),
      [m.deviation.description, d.description],
    ];
    if (d.investigation) {
      const i = d.investigation;
      rows.push([m.deviation.investigation, [
        { text: `${m.deviation.rootCause}: ${i.rootCause}` }, { text: `${m.deviation.productImpact}: ${i.productImpact}` },
        { text: `${m.deviation.otherBatches}: ${i.otherBatchesImpact}` }, ...(i.capaReference ? [{ text: `CAPA: ${i.capaReference}` }] : []),
      ]], signedBy(r, i));
    }
    for (const c of d.reclassifications ?? []) rows.push([m.deviation.reclassified, `${c.from} > ${c.to}: ${c.reason} (${time(r, c.at)})`], signedBy(r, c));
    if (d.closure) rows.push([m.deviation.closed, time(r, d.closure.closedAt)], [m.deviation.investigation, d.closure.investigation], [m.deviation.conclusion, d.closure.conclusion], signedBy(r, d.closure));
    s.keyValues(rows, 0.22);
  }
}

/** QA's disposition: the decision in words, its justification, what was pending or failed, the signature. */
export function dispositionBlock(s: Sheet, r: Reader, d: DispositionDoc) {
  const { m } = r;
  s.heading(`${m.cover.disposition} · ${time(r, d.decidedAt)}`, 3);
  s.keyValues([
    [m.review.decision, [{ text: dispositionText(r, { disposition: d }), bold: true }]],
    ...(d.justification ? [[m.review.justification, d.justification] as [string, Cell]] : []),
    ...(d.physicianRequest ? [[m.review.physicianRequest, d.physicianRequest] as [string, Cell]] : []),
    ...(d.pendingTests.length ? [[m.review.pendingTests, titles(r, d.pendingTests)] as [string, Cell]] : []),
    ...(d.failedTests.length ? [[m.review.failedTests, [{ text: titles(r, d.failedTests), color: RED }]] as [string, Cell]] : []),
    signedBy(r, d),
  ], 0.22);
}

type BatchCreatedPayload = EntryPayload<'batch-created'>;

/** A cell as one line of text. */
const cellText = (c: Cell) => (typeof c === 'string' ? c : c.map((l) => l.text).join(' '));

/**
 * An entry of the table of other entries (start, termination, review, disposition, the deviations'
 * acts) as labelled lines in the document's language: the start names the process, the batch's
 * identifiers and its donor or patient as the cover does; any other entry's fields by their labels,
 * step ids by the steps' titles, never as JSON. The verifier reads the pages through this function.
 */
export function otherEntryLines(r: Reader, e: { kind: string; payload: Record<string, unknown> }): string[] {
  const { m } = r;
  if (e.kind === 'batch-created') {
    const c = e.payload as BatchCreatedPayload;
    return [
      `${m.cover.process}: ${c.processId} v${c.processVersion}${c.processStatus ? ` · ${m.draftProcess[c.processStatus] ?? m.draft}` : ''}`,
      `${m.cover.processHash}: ${c.processHash}`,
      `${m.cover.batchNumber}: ${c.batchNumber}`, `${m.cover.din}: ${c.din} ${c.dinCheck}`, `${m.cover.chainOfIdentity}: ${c.chainOfIdentityId}`,
      ...subjectRows(r, { ...c, patient: c.patient ?? null }).map(([k, v]) => `${k}: ${cellText(v)}`),
      `${m.payload.training}: ${c.training ? m.yes : m.no}`,
    ];
  }
  const word = (k: string, v: unknown): string => {
    if (k === 'decision' && typeof v === 'string') return m.decision[v] ?? v;
    if (Array.isArray(v)) return v.length ? v.map((x) => (typeof x === 'string' ? r.steps.get(x)?.title[r.lang] ?? x : word('', x))).join(', ') : '—';
    if (typeof v === 'string') return /^\d{4}-\d{2}-\d{2}T/.test(v) ? time(r, v) : v;
    if (v !== null && typeof v === 'object') return Object.entries(v).map(([kk, x]) => `${m.payload[kk] ?? kk}: ${word(kk, x)}`).join(', ');
    return valueText(r, undefined, v);
  };
  return Object.entries(e.payload).map(([k, v]) => `${m.payload[k] ?? k}: ${word(k, v)}`);
}

/** Who and what the document is about (regulations.md R3: the identity an inspector checks first; a patient by id, never by name). */
function subjectRows(r: Reader, b: Identified['batch']): [string, Cell][] {
  const { m } = r;
  if (r.def.autologous) return [[m.cover.patientId, b.patient?.id ?? '—'], [m.cover.weight, b.patient ? `${num(r, b.patient.weightKg)} kg` : '—']];
  return [
    [m.cover.donorId, b.donor ? [{ text: b.donor.id, bold: true }] : '—'],
    ...(b.donor ? [[m.cover.donorEligibility, m.cover.eligibility[b.donor.eligibility] ?? b.donor.eligibility] as [string, Cell]] : []),
    ...(b.patient
      ? [[m.cover.recipientId, b.patient.id], [m.cover.recipientWeight, `${num(r, b.patient.weightKg)} kg`]] as [string, Cell][]
      : [[m.cover.recipientId, m.cover.noRecipient] as [string, Cell]]),
    ...(b.parents?.length ? [[m.cover.parents, b.parents.map((p) => p.batchNumber).join(', ')] as [string, Cell]] : []),
  ];
}

export function identification(r: Reader, record: Identified): [string, Cell][] {
  const { m } = r;
  const b = record.batch;
  return [
    [m.cover.batchNumber, [{ text: b.batchNumber, bold: true }]],
    [m.cover.din, [{ text: `${b.din} ${b.dinCheck}`, bold: true }]],
    [m.cover.chainOfIdentity, b.chainOfIdentityId],
    // An autologous product is the patient's own cells; an allogeneic one comes from a donor and is
    // issued to a recipient, who may not be known at manufacture (21 CFR 1271.290(c): codes, never names).
    ...subjectRows(r, b),
    [m.cover.productType, r.def.productType],
    [m.cover.process, record.process.status && record.process.status !== 'effective'
      ? [{ text: `${record.process.id} v${record.process.version}: ${r.def.name}` }, { text: m.draftProcess[record.process.status] ?? m.draft, bold: true, color: RED }]
      : `${record.process.id} v${record.process.version}: ${r.def.name}`],
    [m.cover.processHash, record.process.hash],
  ];
}

export function dispositionText(r: Reader, record: { disposition?: unknown }): string {
  const d = record.disposition as { decision?: string; conditional?: boolean } | undefined | null;
  if (!d?.decision) return r.m.cover.noDisposition;
  return [r.m.decision[d.decision] ?? d.decision, d.conditional ? r.m.decision.conditional : ''].filter(Boolean).join(' · ');
}

export const resultCell = (r: Reader, result: Result | undefined): Cell =>
  result ? [{ text: r.m.step[result], bold: true, ...(result !== 'pass' && { color: RED }) }] : '';

export function releaseResults(s: Sheet, r: Reader, record: BatchRecordExport) {
  const { m } = r;
  const release = r.def.phases.flatMap((p) => p.steps).filter((st) => st.stage === 'release');
  if (release.length === 0) return;
  const rows: Cell[][] = release.map((st) => {
    const entries = record.entries.filter((e) => e.kind === 'step' && e.stepId === st.id);
    const last = entries[entries.length - 1];
    if (!last) return [st.title[r.lang], st.fields.map((f) => specText(r, f.spec, f)).filter(Boolean).join('; '), [{ text: m.coa.notDone, color: '#555555' }], ''];
    const corr = record.entries.filter((e) => e.kind === 'correction' && (e.payload as unknown as CorrectionPayload).correctsEntryId === last.id);
    const p = last.payload as unknown as StepPayload;
    const values = { ...p.values, ...Object.assign({}, ...corr.map((c) => (c.payload as unknown as CorrectionPayload).values)) } as Record<string, unknown>;
    const results = corr.length ? (corr[corr.length - 1].payload as unknown as CorrectionPayload).results : p.results;
    const failed = Object.values(results).some((x) => x === 'fail');
    return [
      st.title[r.lang],
      [...st.fields.map((f) => specText(r, f.spec, f)).filter(Boolean), ...st.criteria.map((c) => c.label[r.lang])].join('; '),
      st.fields.filter((f) => f.name in values).map((f) => ({ text: `${f.label[r.lang]}: ${valueText(r, f, values[f.name])}` })),
      resultCell(r, failed ? 'fail' : Object.keys(results).length ? 'pass' : undefined),
    ];
  });
  s.table([{ header: m.coa.test, width: 0.25 }, { header: m.coa.specification, width: 0.3 }, { header: m.coa.result, width: 0.3 }, { header: m.coa.conclusion, width: 0.15 }], rows, { heading: { text: m.sections.coa, level: 2 } });
}


