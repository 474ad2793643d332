import { useState, type FormEvent } from 'react';
import { api, ApiError, read, setCsrfToken } from '../api/client';
import type { Session, User } from '../api/types';
import { useI18n } from './i18n';
import { LanguageSwitch } from '../ui/LanguageSwitch';
import { TextField } from '../ui/fields';
import { ProblemMessage } from '../ui/ProblemMessage';

export function LoginForm({ onLoggedIn, username: knownUser, embedded }: { onLoggedIn: (u: User) => void; username?: string; embedded?: boolean }) {
  const { t } = useI18n();
  const [username, setUsername] = useState(knownUser ?? '');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      const s = await read(api.POST('/api/v1/auth/login', { body: { username, password } }));
      setCsrfToken(s.csrfToken);
      onLoggedIn({ ...s.user, mustChangePassword: s.mustChangePassword });
    } catch (err) {
      setError(err instanceof ApiError ? err : null);
      setPassword('');
    } finally {
      setBusy(false);
    }
  };

  const form = (
    <form onSubmit={submit} className="stack" aria-label={t('login.title')}>
      <TextField label={t('login.username')} value={username} onChange={setUsername} autoComplete="username" autoFocus={!knownUser} required />
      <TextField label={t('login.password')} type="password" value={password} onChange={setPassword} autoComplete="current-password" autoFocus={!!knownUser} required />
      <ProblemMessage error={error} />
      <button type="submit" className="primary" disabled={busy}>{t('login.submit')}</button>
    </form>
  );
  if (embedded) return form;
  return (
    <main className="login">
      <div className="card">
        <div className="row between"><h1>cellbatch</h1><LanguageSwitch /></div>
        <h2>{t('login.title')}</h2>
        {form}
      </div>
    </main>
  );
}

export function PasswordChangeForm({ user, onChanged }: { user: User; onChanged: (u: User) => void }) {
  const { t } = useI18n();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await read(api.POST('/api/v1/me/password', { body: { currentPassword: current, newPassword: next } }));
      onChanged({ ...user, mustChangePassword: false });
    } catch (err) {
      setError(err instanceof ApiError ? err : null);
    }
  };
  return (
    <main className="login">
      <div className="card">
        <h1>{t('password.title')}</h1>
        <p>{t('password.why')}</p>
        <form onSubmit={submit} className="stack">
          <TextField label={t('password.current')} type="password" value={current} onChange={setCurrent} autoComplete="current-password" autoFocus required error={error?.fieldMessage('currentPassword')} />
          <TextField label={t('password.new')} type="password" value={next} onChange={setNext} autoComplete="new-password" required error={error?.fieldMessage('newPassword')} />
          <ProblemMessage error={error} />
          <button type="submit" className="primary">{t('password.submit')}</button>
        </form>
      </div>
    </main>
  );
}
