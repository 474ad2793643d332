import { useI18n } from '../app/i18n';
import type { Lang } from '../api/types';

const NAMES: Record<Lang, string> = { en: 'English', vi: 'Tiếng Việt' };

/** Switches the language at any time; nothing typed is lost (the pages keep their state). */
export function LanguageSwitch() {
  const { lang, setLang, t } = useI18n();
  return (
    <div role="group" aria-label={t('nav.language')} className="lang-switch">
      {(Object.keys(NAMES) as Lang[]).map((l) => (
        <button key={l} type="button" aria-pressed={lang === l} onClick={() => setLang(l)} lang={l}>{NAMES[l]}</button>
      ))}
    </div>
  );
}
