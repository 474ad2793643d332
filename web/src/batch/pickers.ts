// What a lot or equipment picker may offer, by the rules the server applies when the step is signed
// (server/domain/materials-rules.ts; 21 CFR 211.188(b)): a lot of the field's material type, released
// by QA and not past its expiry day; equipment of the field's type whose calibration is not overdue.
// Dates are last valid days in the site's time zone, compared with the process clock's today.
import type { Equipment, Field, Material } from '../api/types';
import type { MessageKey } from '../i18n/en';

/** Why a lot or equipment may not be used, as a message of the catalogues and its values. */
export interface Refusal { key: MessageKey; vars: Record<string, string> }

/** Today (YYYY-MM-DD) in the site's time zone. */
export const siteDate = (ms: number, timeZone: string) =>
  new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(ms);

export function lotRefusal(lot: Material, f: Field, today: string): Refusal | null {
  const what = `${lot.lotNumber} (${lot.name})`;
  if (lot.type !== f.materialType) return { key: 'pick.wrongType', vars: { what, type: lot.type, expected: f.materialType ?? '' } };
  if (lot.status === 'quarantined') return { key: 'pick.quarantined', vars: { lot: what } };
  if (lot.status === 'rejected') return { key: 'pick.rejected', vars: { lot: what } };
  if (lot.expiresOn < today) return { key: 'pick.expired', vars: { lot: what, date: lot.expiresOn } };
  return null;
}

export function equipmentRefusal(eq: Equipment, f: Field, today: string): Refusal | null {
  const what = `${eq.assetId} (${eq.name})`;
  if (eq.type !== f.equipmentType) return { key: 'pick.wrongType', vars: { what, type: eq.type, expected: f.equipmentType ?? '' } };
  if (eq.calibrationDueOn < today) return { key: 'pick.calibration', vars: { asset: what, date: eq.calibrationDueOn } };
  return null;
}

export interface Stock { lots: Material[]; equipment: Equipment[] }

/** The choices a lot or equipment field offers: only what may be used today. */
export function choicesFor(f: Field, stock: Stock, today: string): { value: string; label: string }[] {
  if (f.kind === 'lot') {
    return stock.lots.filter((m) => !lotRefusal(m, f, today)).map((m) => ({ value: m.id, label: `${m.lotNumber} · ${m.name} · ${m.expiresOn}` }));
  }
  return stock.equipment.filter((e) => !equipmentRefusal(e, f, today)).map((e) => ({ value: e.id, label: `${e.assetId} · ${e.name} · ${e.calibrationDueOn}` }));
}

/**
 * A scanned bar code (a lot number or an asset id, as printed on the label) resolved for a field:
 * the id to select, or why it cannot be. One of the field's type is preferred when a lot number is
 * used for several materials.
 */
export function resolveScan(f: Field, code: string, stock: Stock, today: string): { id: string } | Refusal {
  const c = code.trim().toUpperCase();
  if (f.kind === 'lot') {
    const found = stock.lots.filter((m) => m.lotNumber.toUpperCase() === c || m.id.toUpperCase() === c);
    const lot = found.find((m) => m.type === f.materialType) ?? found[0];
    if (!lot) return { key: 'pick.unknownLot', vars: { code: code.trim() } };
    return lotRefusal(lot, f, today) ?? { id: lot.id };
  }
  const found = stock.equipment.filter((e) => e.assetId.toUpperCase() === c || e.id.toUpperCase() === c);
  const eq = found.find((e) => e.type === f.equipmentType) ?? found[0];
  if (!eq) return { key: 'pick.unknownEquipment', vars: { code: code.trim() } };
  return equipmentRefusal(eq, f, today) ?? { id: eq.id };
}
