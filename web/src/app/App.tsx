// The page frame: language, the TRAINING banner, login, and the pages of the logged-in user.
// An ended session does not unmount the page: the login comes over it, so that the values typed
// into an unsigned form are still there after logging in again (issue 14, item 5).
import { useCallback, useEffect, useMemo, useState } from 'react';
import { api, onSessionExpired, read, setApiLanguage, setCsrfToken } from '../api/client';
import type { Lang, Site, User } from '../api/types';
import { LangContext, translator } from './i18n';
import { SessionContext, type SessionState } from './session';
import { LoginForm, PasswordChangeForm } from './LoginForm';
import { Shell } from './Shell';
import { Dialog } from '../ui/Dialog';

/** The language chosen on this terminal before, else the first of the browser's languages the UI speaks, else English. */
const initialLang = (): Lang => {
  const chosen = localStorage.getItem('cellbatch.lang');
  if (chosen === 'vi' || chosen === 'en') return chosen;
  const first = navigator.languages.map((l) => l.slice(0, 2).toLowerCase()).find((l) => l === 'vi' || l === 'en');
  return first === 'vi' ? 'vi' : 'en';
};

export function App() {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [expired, setExpired] = useState(false);
  const [site, setSite] = useState<{ training: boolean; offset: number; timeZone: string }>({ training: false, offset: 0, timeZone: 'UTC' });

  const setLang = useCallback((l: Lang) => {
    localStorage.setItem('cellbatch.lang', l);
    setApiLanguage(l);
    document.documentElement.lang = l;
    setLangState(l);
  }, []);
  useEffect(() => { setApiLanguage(lang); document.documentElement.lang = lang; }, [lang]);

  const refreshSite = useCallback(async () => {
    const s = await read(api.GET('/api/v1/site'));
    setSite({ training: s.training, offset: Date.parse(s.now) - Date.now(), timeZone: s.timeZone });
  }, []);

  useEffect(() => {
    void refreshSite();
    // A reload keeps the cookie session: ask who we are and for a CSRF token for this page.
    (async () => {
      // Both at once (a page load waits for them): the CSRF token is only used when there is a session.
      const [me, csrf] = await Promise.all([api.GET('/api/v1/me'), api.GET('/api/v1/auth/csrf')]);
      if (!me.data || !csrf.data) return setUser(null);
      setCsrfToken(csrf.data.csrfToken);
      setUser(me.data);
    })().catch(() => setUser(null));
    return onSessionExpired(() => setExpired(true));
  }, [refreshSite]);

  const i18n = useMemo(() => ({ lang, t: translator(lang), setLang }), [lang, setLang]);
  const { t } = i18n;

  const loggedIn = (u: User) => { setUser(u); setExpired(false); void refreshSite(); };
  const session: SessionState | null = useMemo(() => user ? {
    user,
    site: { training: site.training, timeZone: site.timeZone, now: () => Date.now() + site.offset, refresh: refreshSite },
    logout: async () => {
      await api.POST('/api/v1/auth/logout');
      setCsrfToken('');
      setUser(null);
    },
  } : null, [user, site, refreshSite]);

  return (
    <LangContext.Provider value={i18n}>
      {site.training && <div className="training-banner" role="note">{t('training.banner')}</div>}
      {user === undefined ? <p className="loading">{t('common.loading')}</p>
        : user === null || !session ? <LoginForm onLoggedIn={loggedIn} />
        : user.mustChangePassword ? <PasswordChangeForm user={user} onChanged={loggedIn} />
        : (
          <SessionContext.Provider value={session}>
            <Shell />
          </SessionContext.Provider>
        )}
      {expired && user && (
        <Dialog title={t('login.expiredTitle')} onClose={() => {}}>
          <p>{t('login.expired')}</p>
          <LoginForm onLoggedIn={loggedIn} username={user.username} embedded />
        </Dialog>
      )}
    </LangContext.Provider>
  );
}
