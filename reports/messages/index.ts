// The message catalogues of the printed documents, by language.
import { en, type Messages } from './en.js';
import { vi } from './vi.js';

export type ReportLang = 'en' | 'vi';
export type { Messages };

export const messages: Record<ReportLang, Messages> = { en, vi };

/** Fills `{name}` placeholders. */
export function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in values ? String(values[k]) : m));
}
