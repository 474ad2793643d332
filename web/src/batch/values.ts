// What the step form knows about a value before the server judges it: the typed value of what was
// keyed, whether it is out of specification (a warning before signing: the server records the value
// and opens a deviation), outside the possible limits (the server refuses it), and whether a scanned
// identity matches the batch (ISBT 128 DIN, API.md "Identifiers").
import type { Batch, Field, Spec } from '../api/types';

/** The value to send for what was keyed into a field, or undefined when nothing (or nothing valid) was. */
export function typedValue(field: Field, raw: string): unknown {
  const s = raw.trim();
  if (s === '') return undefined;
  switch (field.kind) {
    case 'number': case 'integer': {
      const n = Number(s.replace(',', '.'));
      return Number.isFinite(n) ? n : undefined;
    }
    case 'boolean': return s === 'true' ? true : s === 'false' ? false : undefined;
    case 'datetime': {
      const t = Date.parse(s);
      return Number.isNaN(t) ? undefined : new Date(t).toISOString();
    }
    case 'result': {
      if (field.options?.length) return s;
      const n = Number(s.replace(',', '.'));
      return Number.isFinite(n) && (field.spec?.min !== undefined || field.spec?.max !== undefined || field.unit) ? n : s;
    }
    default: return s;
  }
}

/** The keyed text of a stored value (for a correction form). */
export function rawValue(field: Field, value: unknown): string {
  if (value === undefined || value === null) return '';
  if (field.kind === 'datetime' && typeof value === 'string') return toLocalInput(Date.parse(value));
  return String(value);
}

/** A time as a datetime-local input shows it (the terminal's time zone, to the minute). */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function outside(spec: Spec | undefined, v: unknown): boolean {
  if (!spec || v === undefined) return false;
  if (spec.oneOf) return !spec.oneOf.some((o) => o === v);
  if (typeof v !== 'number') return false;
  return (spec.min !== undefined && v < spec.min) || (spec.max !== undefined && v > spec.max)
    || (spec.minExclusive !== undefined && v <= spec.minExclusive) || (spec.maxExclusive !== undefined && v >= spec.maxExclusive);
}

/** "2–25 °C", "≥ 70 %", "> 0", "absent": a spec in words and symbols. */
export function specText(spec: Spec | undefined, unit = ''): string {
  if (!spec) return '';
  const u = unit ? ` ${unit}` : '';
  if (spec.oneOf) return spec.oneOf.map(String).join(' / ');
  const lo = spec.min !== undefined ? `≥ ${spec.min}` : spec.minExclusive !== undefined ? `> ${spec.minExclusive}` : '';
  const hi = spec.max !== undefined ? `≤ ${spec.max}` : spec.maxExclusive !== undefined ? `< ${spec.maxExclusive}` : '';
  if (spec.min !== undefined && spec.max !== undefined) return `${spec.min}–${spec.max}${u}`;
  return [lo, hi].filter(Boolean).join(', ') + u;
}

// ISO/IEC 7064 Mod 37-2, the DIN's check character (ISBT 128).
const MOD37 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*';
const checkValue = (din: string) => (38 - [...din].reduce((p, c) => ((p + MOD37.indexOf(c)) * 2) % 37, 0)) % 37;

export type IdentityCheck = { ok: true } | { ok: false; reason: 'malformed' | 'mismatch'; read?: string };

/** Does a keyed (14) or scanned (=…, 16) DIN, or a batch number, name this batch? */
export function checkIdentity(field: Field, raw: string, batch: Pick<Batch, 'din' | 'dinCheck' | 'batchNumber'>): IdentityCheck {
  const s = raw.trim().toUpperCase();
  if (field.identity === 'batchNumber') return s === batch.batchNumber.toUpperCase() ? { ok: true } : { ok: false, reason: 'mismatch', read: s };
  let din: string;
  if (/^=[A-Z0-9]{13}[0-9A-Z]{2}$/.test(s)) {
    din = s.slice(1, 14);
    const flag = Number(s.slice(14));
    if (flag >= 60 && flag <= 96 && flag !== 60 + checkValue(din)) return { ok: false, reason: 'malformed', read: s };
  } else if (/^[A-Z0-9]{13}[A-Z0-9*]$/.test(s)) {
    din = s.slice(0, 13);
    if (MOD37[checkValue(din)] !== s[13]) return { ok: false, reason: 'malformed', read: s };
  } else {
    return { ok: false, reason: 'malformed', read: s };
  }
  return din === batch.din ? { ok: true } : { ok: false, reason: 'mismatch', read: din };
}
