// Business rules on what a step uses: released, unexpired lots of the right type; known equipment of
// the right type in calibration (21 CFR 211.188(b), R10); identity scans that match the batch.
// Each returns the reason for a refusal, in words, or null.
import type { AppContext } from '../context.js';
import type { Field, Step } from '../../workflows/definition.js';
import type { BatchRow } from '../store/store.js';
import { parseDin } from './isbt128.js';
import type { UsedSnapshot } from '../../schemas/entries.js';
import type { Said } from '../errors.js';
import { LOT_STATUS_VI } from '../problem-texts.js';

/** Today's date (YYYY-MM-DD) in the site's time zone: expiry and calibration dates are last valid days. */
export function siteDate(now: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
}

export async function lotProblem(ctx: AppContext, f: Field, id: string, now: Date): Promise<Said | null> {
  const lot = await ctx.store.getMaterial(id);
  if (!lot) return { en: `material lot ${id} is not registered`, vi: `lô vật tư ${id} chưa được đăng ký` };
  const label = { en: `lot ${lot.lotNumber} (${lot.name})`, vi: `lô vật tư ${lot.lotNumber} (${lot.name})` };
  if (lot.type !== f.materialType) return { en: `${label.en} is ${lot.type}, but ${f.label.en} needs ${f.materialType}`, vi: `${label.vi} là ${lot.type}, nhưng «${f.label.vi}» cần ${f.materialType}` };
  if (lot.status !== 'released') return { en: `${label.en} is ${lot.status}, not released for use`, vi: `${label.vi} ${LOT_STATUS_VI[lot.status] ?? lot.status}, chưa được phê duyệt để sử dụng` };
  const today = siteDate(now, ctx.config.timeZone);
  if (lot.expiresOn < today) return { en: `${label.en} expired on ${lot.expiresOn}`, vi: `${label.vi} đã hết hạn ngày ${lot.expiresOn}` };
  return null;
}

export async function equipmentProblem(ctx: AppContext, f: Field, id: string, now: Date): Promise<Said | null> {
  const eq = await ctx.store.getEquipment(id);
  if (!eq) return { en: `equipment ${id} is not registered`, vi: `thiết bị ${id} chưa được đăng ký` };
  const label = { en: `equipment ${eq.assetId} (${eq.name})`, vi: `thiết bị ${eq.assetId} (${eq.name})` };
  if (eq.type !== f.equipmentType) return { en: `${label.en} is a ${eq.type}, but ${f.label.en} needs a ${f.equipmentType}`, vi: `${label.vi} là ${eq.type}, nhưng «${f.label.vi}» cần ${f.equipmentType}` };
  const today = siteDate(now, ctx.config.timeZone);
  if (eq.calibrationDueOn < today) return { en: `${label.en} is out of calibration since ${eq.calibrationDueOn}`, vi: `${label.vi} đã quá hạn hiệu chuẩn từ ngày ${eq.calibrationDueOn}` };
  return null;
}

/**
 * What the signer sees of each lot and instrument the values name, to keep in the signed entry
 * (21 CFR 11.10(a), 211.188(b)): lot number, expiry and status; asset id and calibration due date.
 */
export async function usedSnapshots(ctx: AppContext, step: Step, values: Record<string, unknown>): Promise<Record<string, UsedSnapshot> | undefined> {
  const out: Record<string, UsedSnapshot> = {};
  for (const f of step.fields) {
    const id = values[f.name];
    if (typeof id !== 'string') continue;
    if (f.kind === 'lot') {
      const m = await ctx.store.getMaterial(id);
      if (m) out[f.name] = { kind: 'lot', id: m.id, type: m.type, name: m.name, lotNumber: m.lotNumber, expiresOn: m.expiresOn, status: m.status };
    }
    if (f.kind === 'equipment') {
      const q = await ctx.store.getEquipment(id);
      if (q) out[f.name] = { kind: 'equipment', id: q.id, type: q.type, name: q.name, assetId: q.assetId, calibrationDueOn: q.calibrationDueOn };
    }
  }
  return Object.keys(out).length ? out : undefined;
}

/** Identity scans: a DIN (either form) for `din`, the batch number for `batchNumber`. */
export function identityProblem(f: Field, value: string, batch: BatchRow): { status: 400 | 422; message: string; vi?: string } | null {
  if (f.identity === 'batchNumber') {
    return value.toUpperCase() === batch.batchNumber.toUpperCase() ? null
      : { status: 422, message: `the scanned label ${value} does not match batch ${batch.batchNumber}`, vi: `nhãn quét ${value} không khớp với lô ${batch.batchNumber}` };
  }
  const din = parseDin(value);
  if (!din.ok) return { status: 400, message: `not a valid DIN: ${din.reason}` };
  return din.din === batch.din ? null
    : { status: 422, message: `the scanned DIN ${din.din} does not match this batch's DIN ${batch.din}`, vi: `mã DIN quét ${din.din} không khớp với DIN của lô này ${batch.din}` };
}

/** Scans that are not a DIN at all are typing errors (400), judged with the other values before the signature. */
export function malformedScans(step: Step, values: Record<string, unknown>): { field: string; message: string }[] {
  return step.fields.flatMap((f) => {
    const v = values[f.name];
    if (f.kind !== 'identity' || f.identity !== 'din' || typeof v !== 'string') return [];
    const din = parseDin(v);
    return din.ok ? [] : [{ field: `values.${f.name}`, message: `not a valid DIN: ${din.reason}` }];
  });
}
