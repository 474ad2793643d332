// The evidence packet as an archival PDF (issue 12 item 2, issue 13 item 5): what QA sends an auditor
// about one batch's review by exception, or about one of its deviations — the exceptions QA had to
// look at and why each is listed, whether the signed review covers them, the deviations with their
// investigation and closure, the release tests and the disposition (21 CFR 211.192; EU GMP Part IV
// §6.5; Annex 11 §9). A pure function of the packet GET /batches/{id}/review serves (attached as
// review.json), the batch's process definition and a language; the same packet gives the same bytes.
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import type { ProcessDefinition } from '../workflows/definition.js';
import type { ReviewViewSchema } from '../schemas/qa-responses.js';
import { openBatchReport } from './document.js';
import type { Cell, Line, Sheet } from './layout.js';
import { fill, messages, type ReportLang } from './messages/index.js';
import {
  deviationBlocks, dispositionBlock, dispositionText, identification, RED, resultCell, signedBy,
  type DeviationDoc, type DispositionDoc, type Identified,
} from './record-parts.js';
import { readerFor, signatureText, specText, time, valueText, type Reader } from './values.js';

export type EvidencePacket = z.infer<typeof ReviewViewSchema> & {
  /** The packet of one deviation: only its exceptions and itself (the reviews, tests and disposition stay). */
  scope?: { deviationId: string };
};

export interface EvidencePacketInput {
  packet: EvidencePacket;
  /** The packet's bytes as attached (review.json). */
  packetJson: Buffer;
  definition: ProcessDefinition;
  timeZone: string;
  lang: ReportLang;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export async function renderEvidencePacket({ packet, packetJson, definition, timeZone, lang }: EvidencePacketInput): Promise<Buffer> {
  const m = messages[lang];
  const r = readerFor(definition, timeZone, lang, m);
  const b = packet.batch;
  const deviationId = packet.scope?.deviationId;
  const jsonSha = sha256(packetJson);
  const title = deviationId ? fill(m.packet.deviationTitle, { id: deviationId }) : m.packet.title;
  // The master record's status when the batch started, as the packet's batch says it (absent in
  // packets made before it did: effective).
  const identified: Identified = { batch: b, process: { id: b.processId, version: b.processVersion, hash: b.processHash, ...(b.processStatusAtStart && { status: b.processStatusAtStart }) } };
  const { sheet, end } = openBatchReport({
    title: `${title} · ${b.batchNumber}`,
    subject: fill(deviationId ? m.packet.deviationSubject : m.packet.subject, { batch: b.batchNumber, id: deviationId ?? '' }),
    lang, keywords: `review.json SHA-256 ${jsonSha}`,
    attachment: { name: 'review.json', data: packetJson, mimeType: 'application/json', description: `The evidence packet of batch ${b.batchNumber} (GET /batches/{id}/review)` },
    r, record: { ...identified, asOf: packet.generatedAt, training: b.training }, heading: title, subheading: definition.title[lang],
  });
  sheet.keyValues([
    ...identification(r, identified),
    [m.cover.status, [{ text: m.status[b.status] ?? b.status, bold: true }]],
    [m.cover.disposition, [{ text: dispositionText(r, packet), bold: true }]],
    [m.packet.review, reviewState(r, packet)],
    [m.packet.scope, deviationId ? fill(m.packet.scopeDeviation, { id: deviationId }) : m.packet.scopeBatch],
    [m.cover.attachment, fill(m.packet.attachmentText, { sha: jsonSha })],
  ]);
  exceptions(sheet, r, packet);
  sheet.heading(m.sections.deviations, 2);
  deviationBlocks(sheet, r, packet.deviations as DeviationDoc[]);
  releaseTests(sheet, r, packet);
  reviews(sheet, r, packet);
  return end();
}

function reviewState(r: Reader, p: EvidencePacket): Cell {
  const { m } = r;
  const lines: Line[] = [];
  if (p.currentReview) lines.push({ text: fill(m.packet.current, { time: time(r, p.currentReview.signedAt) }), bold: true });
  else if (p.voidedReview) lines.push({ text: fill(m.packet.voided, { time: time(r, p.voidedReview.signedAt), n: p.voidedReview.voidedBy.length }), bold: true, color: RED });
  else lines.push({ text: m.packet.noReview });
  if (p.blockedBy?.length) lines.push({ text: `${m.packet.blockedBy}: ${p.blockedBy.join(', ')}`, color: RED });
  else if (p.reviewable && !p.currentReview) lines.push({ text: m.packet.reviewable });
  return lines;
}

function exceptions(s: Sheet, r: Reader, p: EvidencePacket) {
  const { m } = r;
  s.heading(m.packet.exceptions, 2);
  if (p.exceptions.length === 0) return s.note(m.packet.none);
  s.note(m.packet.whyNote);
  s.table(
    [{ header: m.packet.kind, width: 0.15 }, { header: m.packet.at, width: 0.16 }, { header: m.packet.about, width: 0.19 }, { header: m.packet.why, width: 0.36 }, { header: m.packet.covered, width: 0.14 }],
    p.exceptions.map((x) => [
      [{ text: m.packet.kinds[x.kind] ?? x.kind, bold: true }],
      time(r, x.at),
      [
        { text: fill(m.packet.targets[x.target.type] ?? x.target.type, { id: x.target.id }) },
        ...(x.stepId ? [{ text: r.steps.get(x.stepId)?.title[r.lang] ?? x.stepId, color: '#555555' }] : []),
      ],
      x.why,
      [
        x.covered ? { text: m.packet.isCovered } : { text: m.packet.notCovered, bold: true, color: RED },
        { text: x.voidsReview ? m.packet.voids : m.packet.listed, color: '#555555' },
      ],
    ]),
    { size: 7.5 },
  );
}

function releaseTests(s: Sheet, r: Reader, p: EvidencePacket) {
  const { m } = r;
  if (p.releaseTests.length === 0) return;
  s.heading(m.packet.tests, 2);
  s.table(
    [{ header: m.coa.test, width: 0.2 }, { header: m.coa.specification, width: 0.25 }, { header: m.coa.result, width: 0.25 }, { header: m.packet.outcome, width: 0.1 }, { header: m.by, width: 0.2 }],
    p.releaseTests.map((t) => [
      t.test,
      specificationOf(r, t.stepId) || t.specification.join('; '),
      // A composite criterion has no value of its own: its result is what it records.
      (t.results ?? []).map((x) => ({
        text: x.value === null ? `${x.label}: ${x.result ? m.step[x.result] : ''}` : `${x.label}: ${resultValue(r, t.stepId, x)}${x.result && x.result !== 'pass' ? ` (${m.step[x.result]})` : ''}`,
        ...(x.result === 'fail' && { color: RED }),
      })),
      t.outcome === 'pending' ? [{ text: m.packet.pending, color: '#555555' }] : resultCell(r, t.outcome),
      [
        ...t.recordedBy.map((sg) => ({ text: `${m.packet.recordedBy}: ${signatureText(r, sg)}` })),
        ...t.verifiedBy.map((sg) => ({ text: `${m.packet.verifiedBy}: ${signatureText(r, sg)}` })),
      ],
    ]),
    { size: 7.5 },
  );
}

/** A release test's value as the record prints it: with its unit, an option by its label (the field from the definition). */
function resultValue(r: Reader, stepId: string, x: { name: string; value: unknown; unit?: string }): string {
  const f = r.steps.get(stepId)?.fields.find((y) => y.name === x.name);
  return f ? valueText(r, f, x.value) : `${valueText(r, undefined, x.value)}${x.unit ? ` ${x.unit}` : ''}`;
}

/** A release test's specification from the definition, in the document's words (as the record and the CoA print it). */
function specificationOf(r: Reader, stepId: string): string {
  const st = r.steps.get(stepId);
  return st ? [...st.fields.map((f) => specText(r, f.spec, f)).filter(Boolean), ...st.criteria.map((c) => c.label[r.lang])].join('; ') : '';
}

function reviews(s: Sheet, r: Reader, p: EvidencePacket) {
  const { m } = r;
  s.heading(m.sections.review, 2);
  if (p.reviews.length === 0 && !p.disposition) return s.note(m.review.none);
  for (const v of p.reviews) {
    s.heading(`${m.review.reviewed} · ${time(r, v.signedAt)} · ${v.current ? m.packet.currentReview : v.entryId === p.voidedReview?.entryId ? m.packet.voidedReview : m.packet.earlierReview}`, 3);
    s.keyValues([
      ...(v.comment ? [[m.review.comment, v.comment] as [string, Cell]] : []),
      [m.review.covered, String(v.covered.length)],
      signedBy(r, v),
    ], 0.22);
  }
  if (p.disposition) dispositionBlock(s, r, p.disposition as DispositionDoc);
}
