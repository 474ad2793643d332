// English and Vietnamese, switchable at any time: the UI's own words come from the catalogues here;
// step titles, field labels and locked-step reasons come from the API in the same language
// (Accept-Language on every request).
import { createContext, useContext } from 'react';
import { en, type MessageKey } from '../i18n/en';
import { vi } from '../i18n/vi';
import type { Lang } from '../api/types';

const CATALOGUES: Record<Lang, Record<MessageKey, string>> = { en, vi };

export type Translate = (key: MessageKey, vars?: Record<string, string | number>) => string;

export function translator(lang: Lang): Translate {
  return (key, vars) => {
    const text = CATALOGUES[lang][key] ?? en[key];
    return vars ? text.replace(/\{(\w+)\}/g, (m, k: string) => (k in vars ? String(vars[k]) : m)) : text;
  };
}

export const LangContext = createContext<{ lang: Lang; t: Translate; setLang: (l: Lang) => void }>({
  lang: 'en', t: translator('en'), setLang: () => {},
});
export const useI18n = () => useContext(LangContext);

/** A date-time in the terminal's locale and time zone. */
export const formatTime = (iso: string | undefined, lang: Lang) =>
  iso ? new Date(iso).toLocaleString(lang === 'vi' ? 'vi-VN' : 'en-GB', { dateStyle: 'medium', timeStyle: 'short' }) : '';
