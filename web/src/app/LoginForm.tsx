import { useState, type FormEvent } from 'react';
import { api, ApiError, read, setCsrfToken } from '../api/client';
import type { User } from '../api/types';
import { useI18n } from './i18n';
import { LanguageSwitch } from '../ui/LanguageSwitch';
import { TextField } from '../ui/fields';
import { ProblemMessage } from '../ui/ProblemMessage';
import { CredentialForm, type Credentials } from '../ui/CredentialForm';

export function LoginForm({ onLoggedIn, username: knownUser, embedded }: { onLoggedIn: (u: User) => void; username?: string; embedded?: boolean }) {
  const { t } = useI18n();
  const logIn = async ({ username, password }: Credentials) => {
    const s = await read(api.POST('/api/v1/auth/login', { body: { username, password } }));
    setCsrfToken(s.csrfToken);
    onLoggedIn({ ...s.user, mustChangePassword: s.mustChangePassword });
  };
  const form = (
    <CredentialForm username={knownUser} login ariaLabel={t('login.title')} onSubmit={logIn}
      labels={{ username: t('login.username'), password: t('login.password'), submit: t('login.submit') }} />
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
