// Username and password, entered each time: the login and every signature (21 CFR 11.200(a)(1): a
// signing re-enters both components). One form for both; a refusal of the API is shown under the
// fields (and beside the one it names), and the password is cleared so it is typed again.
import { useState, type FormEvent, type ReactNode } from 'react';
import { ApiError } from '../api/client';
import { TextField } from './fields';
import { ProblemMessage } from './ProblemMessage';

export interface Credentials { username: string; password: string }

export function CredentialForm({ username: known, labels, login, onSubmit, cancel, className = 'stack', ariaLabel, children }: {
  /** Filled in (the focus then starts on the password); empty for a witness, who types their own. */
  username?: string;
  labels: { username: string; password: string; submit: string };
  /** A login lets the browser's password manager help; a signature never does. */
  login?: boolean;
  /** Resolves when accepted; an ApiError stays in the form. */
  onSubmit: (c: Credentials) => Promise<void>;
  cancel?: { label: string; onClick: () => void };
  className?: string;
  ariaLabel?: string;
  children?: ReactNode;
}) {
  const [username, setUsername] = useState(known ?? '');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onSubmit({ username: username.trim(), password });
    } catch (err) {
      setPassword('');
      if (err instanceof ApiError) setError(err);
      else throw err;
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} className={className} aria-label={ariaLabel}>
      {children}
      <TextField label={labels.username} value={username} onChange={setUsername} autoComplete={login ? 'username' : 'off'} autoFocus={!known} required
        error={error?.fieldMessage('signature.username')} />
      <TextField label={labels.password} type="password" value={password} onChange={setPassword} autoComplete={login ? 'current-password' : 'off'} autoFocus={!!known} required
        error={error?.fieldMessage('signature.password')} />
      <ProblemMessage error={error} />
      <div className="row">
        <button type="submit" className="primary" disabled={busy}>{labels.submit}</button>
        {cancel && <button type="button" onClick={cancel.onClick}>{cancel.label}</button>}
      </div>
    </form>
  );
}
