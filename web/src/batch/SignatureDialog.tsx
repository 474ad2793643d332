// One signature dialog for every signed action (21 CFR 11.50, 11.200(a)(1)): the signer's username and
// password are entered each time, and the meaning of the signature is said in words above them.
// A witness signs in the same dialog on the same terminal: their own credentials, not the session's.
import { useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import { useI18n } from '../app/i18n';
import { Dialog } from '../ui/Dialog';
import { TextField } from '../ui/fields';
import { ProblemMessage } from '../ui/ProblemMessage';
import type { MessageKey } from '../i18n/en';

export type Meaning = 'performed' | 'verified' | 'investigated' | 'reviewed' | 'approved' | 'released' | 'rejected';
export interface Credentials { username: string; password: string }

export function SignatureDialog({ meaning, subject, username: suggested, onSign, onClose }: {
  meaning: Meaning;
  /** What is signed, e.g. the step's title. */
  subject: string;
  /** The logged-in user for a performer; empty for a witness, who types their own. */
  username?: string;
  /** Resolves when signed; an ApiError stays in the dialog unless it names a form field. */
  onSign: (c: Credentials) => Promise<void>;
  onClose: () => void;
}) {
  const { t } = useI18n();
  const [username, setUsername] = useState(suggested ?? '');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onSign({ username: username.trim(), password });
    } catch (err) {
      setPassword('');
      if (err instanceof ApiError) setError(err);
      else throw err;
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog title={t(`sign.title.${meaning}` as MessageKey)} onClose={onClose}>
      <form onSubmit={submit} className="stack signature">
        <p className="meaning">{t(`sign.meaning.${meaning}` as MessageKey, { subject })}</p>
        <TextField label={t('sign.username')} value={username} onChange={setUsername} autoComplete="off" autoFocus={!suggested} required
          error={error?.fieldMessage('signature.username')} />
        <TextField label={t('sign.password')} type="password" value={password} onChange={setPassword} autoComplete="off" autoFocus={!!suggested} required
          error={error?.fieldMessage('signature.password')} />
        <ProblemMessage error={error} />
        <div className="row">
          <button type="submit" className="primary" disabled={busy}>{t('sign.submit')}</button>
          <button type="button" onClick={onClose}>{t('common.cancel')}</button>
        </div>
      </form>
    </Dialog>
  );
}
