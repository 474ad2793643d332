// Parts of the record more than one document prints: the release results (as a certificate of
// analysis) and the disposition in words. Pure, like the documents.
import type { BatchRecordExport } from '../schemas/export.js';
import type { Cell, Sheet } from './layout.js';
import { num, specText, valueText, type Reader } from './values.js';

export type Result = 'pass' | 'fail' | 'alert';
export interface StepPayload { stepId: string; values: Record<string, unknown>; results: Record<string, Result>; occurrence?: number; performedAt?: string }
export interface CorrectionPayload extends StepPayload { correctsEntryId: string; reason: string }

export const RED = '#b00020';

/** Who and what the document is about (regulations.md R3: the identity an inspector checks first; a patient by id, never by name). */
export function identification(r: Reader, record: Pick<BatchRecordExport, 'batch' | 'process'>): [string, Cell][] {
  const { m } = r;
  const b = record.batch;
  return [
    [m.cover.batchNumber, [{ text: b.batchNumber, bold: true }]],
    [m.cover.din, [{ text: `${b.din} ${b.dinCheck}`, bold: true }]],
    [m.cover.chainOfIdentity, b.chainOfIdentityId],
    [m.cover.patientId, b.patient?.id ?? '—'],
    [m.cover.weight, b.patient ? `${num(r, b.patient.weightKg)} kg` : '—'],
    [m.cover.productType, r.def.productType],
    [m.cover.process, `${record.process.id} v${record.process.version}: ${r.def.name}`],
    [m.cover.processHash, record.process.hash],
  ];
}

export function dispositionText(r: Reader, record: BatchRecordExport): string {
  const d = record.disposition as { decision?: string; conditional?: boolean } | undefined;
  if (!d?.decision) return r.m.cover.noDisposition;
  return [r.m.decision[d.decision] ?? d.decision, d.conditional ? r.m.decision.conditional : ''].filter(Boolean).join(' · ');
}

export const resultCell = (r: Reader, result: Result | undefined): Cell =>
  result ? [{ text: r.m.step[result], bold: true, ...(result !== 'pass' && { color: RED }) }] : '';

export function releaseResults(s: Sheet, r: Reader, record: BatchRecordExport) {
  const { m } = r;
  const release = r.def.phases.flatMap((p) => p.steps).filter((st) => st.stage === 'release');
  if (release.length === 0) return;
  s.heading(m.sections.coa, 2);
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
  s.table([{ header: m.coa.test, width: 0.25 }, { header: m.coa.specification, width: 0.3 }, { header: m.coa.result, width: 0.3 }, { header: m.coa.conclusion, width: 0.15 }], rows);
}


