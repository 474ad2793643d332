// An action that needs a reason (21 CFR 11.10(e): the audit trail says why), asked for in place.
import { useState, type FormEvent, type ReactNode } from 'react';
import { ApiError } from '../api/client';
import { useI18n } from '../app/i18n';
import { TextArea } from './fields';
import { ProblemMessage } from './ProblemMessage';

export function ReasonForm({ title, submitLabel, onSubmit, onCancel, children }: {
  title: string; submitLabel: string; onSubmit: (reason: string) => Promise<void>; onCancel: () => void; children?: ReactNode;
}) {
  const { t } = useI18n();
  const [reason, setReason] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await onSubmit(reason);
    } catch (err) {
      if (err instanceof ApiError) setError(err);
      else throw err;
    }
  };
  return (
    <form onSubmit={submit} className="stack card inline-form" aria-label={title}>
      <h3>{title}</h3>
      {children}
      <TextArea label={t('common.reason')} value={reason} onChange={setReason} required autoFocus error={error?.fieldMessage('reason')} />
      <ProblemMessage error={error} />
      <div className="row">
        <button type="submit" className="primary">{submitLabel}</button>
        <button type="button" onClick={onCancel}>{t('common.cancel')}</button>
      </div>
    </form>
  );
}
