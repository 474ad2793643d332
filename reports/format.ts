// How the printed documents write times and numbers in each language. Pure: the time zone comes from
// the record (the site's zone), never from the machine that renders.
import type { ReportLang } from './messages/index.js';

const timeFormats = new Map<string, Intl.DateTimeFormat>();

function partsOf(iso: string, timeZone: string) {
  let f = timeFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'shortOffset',
    });
    timeFormats.set(timeZone, f);
  }
  const p = Object.fromEntries(f.formatToParts(new Date(iso)).map((x) => [x.type, x.value]));
  // "GMT" / "GMT+7" from ICU, written as UTC / UTC+7: the zone is always printed (21 CFR 11.50(a)(2)).
  const raw = p.timeZoneName ?? 'GMT';
  const zone = raw === 'GMT' || raw === 'GMT+0' ? 'UTC' : raw.replace(/^GMT/, 'UTC');
  return { y: p.year, m: p.month, d: p.day, hh: p.hour, mm: p.minute, ss: p.second, zone };
}

// A record prints the same moments again and again (each signature, the audit appendix, the
// footer): each is formatted once. Bounded like the font's word cache (archival.ts).
const formatted = new Map<string, string>();

/** A moment with its time zone: 2026-03-02 15:04:05 UTC+7 (en) or 15:04:05 02/03/2026 UTC+7 (vi). */
export function formatTime(iso: string, lang: ReportLang, timeZone: string): string {
  const key = `${lang}|${timeZone}|${iso}`;
  const known = formatted.get(key);
  if (known !== undefined) return known;
  if (formatted.size > 100_000) formatted.clear();
  const text = formatTimeOnce(iso, lang, timeZone);
  formatted.set(key, text);
  return text;
}

function formatTimeOnce(iso: string, lang: ReportLang, timeZone: string): string {
  if (Number.isNaN(Date.parse(iso))) return iso;
  const t = partsOf(iso, timeZone);
  return lang === 'vi' ? `${t.hh}:${t.mm}:${t.ss} ${t.d}/${t.m}/${t.y} ${t.zone}` : `${t.y}-${t.m}-${t.d} ${t.hh}:${t.mm}:${t.ss} ${t.zone}`;
}

/** A calendar day (YYYY-MM-DD as stored): unchanged in English, DD/MM/YYYY in Vietnamese. */
export function formatDay(day: string, lang: ReportLang): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  return m && lang === 'vi' ? `${m[3]}/${m[2]}/${m[1]}` : day;
}

const numberFormats = new Map<string, Intl.NumberFormat>();

/** A number in the language's notation (vi: 1.234,5), with at least `decimals` places when given. */
export function formatNumber(n: number, lang: ReportLang, decimals?: number): string {
  const key = `${lang}:${decimals ?? ''}`;
  let f = numberFormats.get(key);
  if (!f) {
    f = new Intl.NumberFormat(lang === 'vi' ? 'vi-VN' : 'en-US', { minimumFractionDigits: decimals ?? 0, maximumFractionDigits: Math.max(decimals ?? 0, 6) });
    numberFormats.set(key, f);
  }
  return f.format(n);
}

// Signs the embedded font (Noto Sans) has no glyph for, written as a reader would type them: a text
// the record states with them (a specification "≥ 70 %" in a deviation's description or an audit
// row) must not print as empty boxes. Whoever compares the pages with the record applies the same.
const MISSING: Record<string, string> = { '≥': '>=', '≤': '<=', '→': '->', '←': '<-' };
export const printable = (t: string) => (/[≥≤→←]/.test(t) ? t.replace(/[≥≤→←]/g, (c) => MISSING[c]) : t);
