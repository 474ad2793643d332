// Review by exception (21 CFR 211.192; EU GMP Part IV §6.5; C4): of a batch's record and audit trail,
// only what QA must look at, each a typed exception that says what it points to and why it is listed.
// Exceptions drawn from the record's entries can void a signed review (a correction or a deviation
// that appears after it); exceptions drawn from audit rows are listed but void nothing, because a
// refused attempt changes no record (API.md: a refusal writes at most its audit row). Pure.
import type { AuditRow } from '../store/store.js';
import { ATTEMPT_ACTIONS, type AuditAction } from '../../schemas/audit-actions.js';
import { parsePayload } from '../../schemas/entries.js';
import type { Step } from '../../workflows/definition.js';
import { describeSpec } from '../../workflows/values.js';
import { lateness } from '../../workflows/schedule.js';
import { findStep, type BatchRecord } from './record.js';
import { releaseTests } from './release-tests.js';
import type { ReviewRecord } from './qa-state.js';

/** A text in both languages of the terminal. */
export interface Text { en: string; vi: string }
const both = (same: string): Text => ({ en: same, vi: same });

const DEVIATION_KIND_VI: Record<string, string> = { oos: 'ngoài tiêu chuẩn', timing: 'ngoài cửa sổ thời gian', manual: 'được báo cáo', 'post-release': 'sau xuất xưởng' };
const SEVERITY_VI: Record<string, string> = { minor: 'nhẹ', major: 'nặng', critical: 'nghiêm trọng' };
const DEVIATION_STATUS_VI: Record<string, string> = { open: 'đang mở', investigating: 'đang điều tra', closed: 'đã đóng' };

export const EXCEPTION_KINDS = [
  'deviation', 'out-of-specification', 'alert', 'correction', 'late-entry', 'repeated-verifier-pair',
  'refused-attempt', 'pending-result', 'audit',
] as const;
export type ExceptionKind = (typeof EXCEPTION_KINDS)[number];

export interface BatchException {
  /** Stable: the same fact gives the same id on every read; a review records the ids it covered. */
  id: string;
  kind: ExceptionKind;
  /** What the exception points to. */
  target: { type: 'entry' | 'deviation' | 'audit' | 'step'; id: string };
  stepId?: string;
  at: string;
  /** Why it is listed, in both languages of the terminal (the view picks the caller's). */
  why: Text;
  /** Drawn from the record's entries: one that appears after a review voids it. */
  record: boolean;
}

/** A step entry recorded this long after the time it says the step was performed is late (ALCOA+: contemporaneous). */
export const LATE_AFTER_HOURS = 4;
/** A performer–verifier pair that verified at least this many steps, and most of the batch's, is listed (four eyes in name only). */
export const REPEATED_PAIR_MIN = 3;

/** Refused attempts audited on a batch (the registry's `attempt` kind): wrong credentials, refused signatures, identity mismatches, refused steps. */
export const REFUSAL_ACTIONS: readonly string[] = ATTEMPT_ACTIONS;
/** Audit rows every batch has, or whose facts are already listed from the record (corrections, deviations). */
export const ROUTINE_ACTIONS: readonly string[] = [
  'batch.created', 'step.recorded', 'step.verified', 'batch.status-changed', 'entry.corrected',
  'deviation.opened', 'deviation.investigated', 'deviation.closed', 'deviation.reclassified', 'review.signed', 'batch.disposed',
  'record.exported', 'record.frozen',
] satisfies AuditAction[];

const HOUR = 3_600_000;
const fmt = (v: unknown, unit?: string) => `${typeof v === 'string' ? v : JSON.stringify(v)}${unit ? ` ${unit}` : ''}`;

function judged(step: Step | undefined, name: string, values: Record<string, unknown>): Text {
  const f = step?.fields.find((x) => x.name === name);
  if (f) {
    const limits = (spec: string, alert: string) => [
      f.spec ? `${spec} ${describeSpec(f.spec, f.unit)}` : '', f.alert ? `${alert} ${describeSpec(f.alert, f.unit)}` : '',
    ].filter(Boolean).join(', ');
    const value = fmt(values[name], f.unit);
    return { en: `${f.label.en} ${value} (${limits('specification', 'alert limit')})`, vi: `${f.label.vi} ${value} (${limits('tiêu chuẩn', 'ngưỡng cảnh báo')})` };
  }
  const c = step?.criteria.find((x) => x.id === name);
  return c ? c.label : both(name);
}

/**
 * An entry as QA finds it in the batch record: its number in the batch (the PDF's "entry N") and its
 * step, rather than its identifier (the exception's `target` carries that).
 */
export function entryLabel(r: BatchRecord, entryId: string): Text {
  const e = r.entries.find((x) => x.id === entryId);
  if (!e) return { en: `entry ${entryId}`, vi: `bản ghi ${entryId}` };
  const title = e.stepId ? (findStep(r, e.stepId)?.title ?? both(e.stepId)) : undefined;
  return { en: `entry ${e.batchSeq}${title ? ` "${title.en}"` : ''}`, vi: `bản ghi ${e.batchSeq}${title ? ` «${title.vi}»` : ''}` };
}

const titleOf = (step: Step | undefined, id: string): Text => step?.title ?? both(id);

/** Exceptions drawn from the batch's entries. */
export function recordExceptions(r: BatchRecord): BatchException[] {
  const out: BatchException[] = [];
  const performer = new Map<string, string>();
  const printed = new Map<string, string>();
  for (const s of r.signatures) {
    printed.set(s.userId, s.printedName);
    if (s.meaning === 'performed') performer.set(s.entryId, s.userId);
  }
  for (const d of r.deviations) {
    out.push({
      id: `deviation:${d.id}`, kind: 'deviation', target: { type: 'deviation', id: d.id }, ...(d.stepId && { stepId: d.stepId }), at: d.openedAt, record: true,
      why: {
        en: `${d.kind} deviation, ${d.severity}, ${d.status}: ${d.description}`,
        vi: `sai lệch ${DEVIATION_KIND_VI[d.kind] ?? d.kind}, ${SEVERITY_VI[d.severity] ?? d.severity}, ${DEVIATION_STATUS_VI[d.status] ?? d.status}: ${d.description}`,
      },
    });
  }
  for (const e of r.entries) {
    if (e.kind !== 'step' && e.kind !== 'correction') continue;
    const p = e.kind === 'step' ? parsePayload('step', e.payload) : parsePayload('correction', e.payload);
    const step = findStep(r, p.stepId);
    for (const [name, result] of Object.entries(p.results)) {
      if (result === 'pass') continue;
      // A correction judges the values as they stand after it; a field it left as it was keeps the
      // exception of the entry it corrects (listed there, with its value), not a second one without.
      if (e.kind === 'correction' && step?.fields.some((f) => f.name === name) && !(name in p.values)) continue;
      const kind = result === 'fail' ? 'out-of-specification' : 'alert';
      const what = judged(step, name, p.values);
      out.push({
        id: `${kind}:${e.id}:${name}`, kind, target: { type: 'entry', id: e.id }, stepId: p.stepId, at: e.recordedAt, record: true,
        why: result === 'fail'
          ? { en: `outside its specification: ${what.en}`, vi: `ngoài tiêu chuẩn: ${what.vi}` }
          : { en: `outside its alert limit: ${what.en}`, vi: `ngoài ngưỡng cảnh báo: ${what.vi}` },
      });
    }
    if (e.kind === 'correction') {
      const c = parsePayload('correction', e.payload);
      const [fields, title, original] = [Object.keys(c.values).join(', '), titleOf(step, c.stepId), entryLabel(r, c.correctsEntryId)];
      out.push({
        id: `correction:${e.id}`, kind: 'correction', target: { type: 'entry', id: e.id }, stepId: c.stepId, at: e.recordedAt, record: true,
        why: { en: `${fields} of "${title.en}" corrected (${original.en}): ${c.reason}`, vi: `đã sửa ${fields} của «${title.vi}» (${original.vi}): ${c.reason}` },
      });
    }
    // ALCOA+ contemporaneous: an entry made later than the definition's tolerance after the work.
    if (e.kind === 'step' && step && 'performedAt' in p && p.performedAt) {
      const late = lateness(r.process.definition, step, p.performedAt, e.recordedAt);
      if (late) {
        out.push({
          id: `late-entry:${e.id}:performed`, kind: 'late-entry', target: { type: 'entry', id: e.id }, stepId: p.stepId, at: e.recordedAt, record: true,
          why: {
            en: `"${step.title.en}" was entered ${Math.round(late.minutes)} min after it was performed (${p.performedAt}), more than the ${late.tolerance} min allowed; reason: ${p.lateReason ?? 'none given'}`,
            vi: `«${step.title.vi}» được nhập ${Math.round(late.minutes)} phút sau khi thực hiện (${p.performedAt}), quá ${late.tolerance} phút cho phép; lý do: ${p.lateReason ?? 'không nêu'}`,
          },
        });
      }
    }
    if (e.kind === 'step' && step?.window?.at) {
      const performedAt = p.values[step.window.at.field];
      const t = typeof performedAt === 'string' ? Date.parse(performedAt) : NaN;
      const hours = (Date.parse(e.recordedAt) - t) / HOUR;
      if (hours > LATE_AFTER_HOURS) {
        out.push({
          id: `late-entry:${e.id}`, kind: 'late-entry', target: { type: 'entry', id: e.id }, stepId: p.stepId, at: e.recordedAt, record: true,
          why: {
            en: `"${step.title.en}" was recorded ${hours.toFixed(1)} h after it was performed (${performedAt}); more than ${LATE_AFTER_HOURS} h is a late entry`,
            vi: `«${step.title.vi}» được ghi ${hours.toFixed(1)} giờ sau khi thực hiện (${performedAt}); quá ${LATE_AFTER_HOURS} giờ là ghi muộn`,
          },
        });
      }
    }
  }
  // Four eyes in name only: the same two people performing and verifying step after step.
  const pairs = new Map<string, string[]>();
  let verified = 0;
  for (const s of r.signatures) {
    if (s.meaning !== 'verified') continue;
    const who = performer.get(s.entryId);
    if (!who) continue;
    verified++;
    const key = `${who}:${s.userId}`;
    pairs.set(key, [...(pairs.get(key) ?? []), s.entryId]);
  }
  for (const [key, entryIds] of pairs) {
    if (entryIds.length < REPEATED_PAIR_MIN || entryIds.length * 2 <= verified) continue;
    const [p, v] = key.split(':');
    out.push({
      id: `repeated-verifier-pair:${key}`, kind: 'repeated-verifier-pair', target: { type: 'entry', id: entryIds[0] },
      at: r.entries.find((e) => e.id === entryIds[entryIds.length - 1])?.recordedAt ?? r.row.createdAt, record: true,
      why: {
        en: `${printed.get(v) ?? v} verified ${entryIds.length} of the ${verified} verified steps performed by ${printed.get(p) ?? p}: ${entryIds.map((id) => entryLabel(r, id).en).join(', ')}`,
        vi: `${printed.get(v) ?? v} đã xác minh ${entryIds.length} trong ${verified} bước được xác minh do ${printed.get(p) ?? p} thực hiện: ${entryIds.map((id) => entryLabel(r, id).vi).join(', ')}`,
      },
    });
  }
  for (const t of releaseTests(r)) {
    if (t.outcome !== 'pending') continue;
    out.push({
      id: `pending-result:${t.step.id}`, kind: 'pending-result', target: { type: 'step', id: t.step.id }, stepId: t.step.id, at: r.row.createdAt, record: true,
      why: {
        en: `"${t.step.title.en}" has no result yet${t.step.mayFollowRelease ? ' (it may follow release: a release now is conditional)' : ''}`,
        vi: `«${t.step.title.vi}» chưa có kết quả${t.step.mayFollowRelease ? ' (kết quả có thể có sau khi xuất xưởng: xuất xưởng lúc này là xuất xưởng có điều kiện)' : ''}`,
      },
    });
  }
  return out;
}

/** Exceptions drawn from the batch's audit rows: refusals, and whatever is not routine. */
export function auditExceptions(rows: AuditRow[]): BatchException[] {
  const out: BatchException[] = [];
  for (const a of rows) {
    const refusal = REFUSAL_ACTIONS.includes(a.action);
    if (!refusal && ROUTINE_ACTIONS.includes(a.action)) continue;
    const detail = a.reason ?? (a.after ? a.after.slice(0, 300) : '');
    out.push({
      id: `${refusal ? 'refused-attempt' : 'audit'}:${a.seq}`, kind: refusal ? 'refused-attempt' : 'audit', target: { type: 'audit', id: String(a.seq) },
      // The action's code and what its row stored, as stored: the same in both languages.
      at: a.at, record: false, why: both(`${a.action}${detail ? `: ${detail}` : ''}`),
    });
  }
  return out;
}

export interface ReviewState {
  /** The latest review, if it still covers every exception of the record. */
  current?: ReviewRecord;
  /** The latest review when a later exception voided it, and the exceptions it did not cover. */
  voided?: { review: ReviewRecord; by: string[] };
}

export function reviewState(r: BatchRecord, reviews: ReviewRecord[], exceptions = recordExceptions(r)): ReviewState {
  const latest = reviews[reviews.length - 1];
  if (!latest) return {};
  const covered = new Set(latest.covered);
  const uncovered = exceptions.filter((x) => x.record && !covered.has(x.id)).map((x) => x.id);
  return uncovered.length ? { voided: { review: latest, by: uncovered } } : { current: latest };
}
