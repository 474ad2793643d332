import { useState, type FormEvent } from 'react';
import { api, ApiError, read } from '../api/client';
import type { Batch, Deviation, ProcessDefinition } from '../api/types';
import { formatTime, useI18n } from '../app/i18n';
import type { MessageKey } from '../i18n/en';
import { SelectField, TextArea } from '../ui/fields';
import { ProblemMessage } from '../ui/ProblemMessage';

/** A deviation reported by hand at the bench (what happened, how serious, at which step). */
export function ReportDeviation({ batch, def, onDone }: { batch: Batch; def: ProcessDefinition; onDone: () => void }) {
  const { t, lang } = useI18n();
  const [open, setOpen] = useState(false);
  const [description, setDescription] = useState('');
  const [severity, setSeverity] = useState('minor');
  const [stepId, setStepId] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  if (!open) return <button type="button" onClick={() => setOpen(true)}>{t('deviation.report')}</button>;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await read(api.POST('/api/v1/batches/{id}/deviations', { params: { path: { id: batch.id } }, body: {
        description, severity: severity as 'minor' | 'major' | 'critical', ...(stepId && { stepId }), expectedVersion: batch.version } }));
      setOpen(false);
      setDescription('');
      onDone();
    } catch (err) {
      if (err instanceof ApiError) setError(err);
    }
  };
  return (
    <form className="card stack" onSubmit={submit} aria-label={t('deviation.report')}>
      <h2>{t('deviation.report')}</h2>
      <TextArea label={t('deviation.description')} value={description} onChange={setDescription} required autoFocus error={error?.fieldMessage('description')} />
      <SelectField label={t('deviation.severity')} value={severity} onChange={setSeverity} required placeholder={t('step.choose')}
        options={(['minor', 'major', 'critical'] as const).map((s) => ({ value: s, label: t(`severity.${s}`) }))} />
      <SelectField label={t('deviation.step')} value={stepId} onChange={setStepId} placeholder={t('deviation.noStep')}
        options={def.phases.flatMap((p) => p.steps).map((s) => ({ value: s.id, label: s.title[lang] }))} />
      <ProblemMessage error={error} />
      <div className="row">
        <button type="submit" className="primary">{t('deviation.submit')}</button>
        <button type="button" onClick={() => setOpen(false)}>{t('common.cancel')}</button>
      </div>
    </form>
  );
}

/** A batch's deviations, newest last: what opened them and whether they are still open. */
export function DeviationList({ deviations, def }: { deviations: Deviation[]; def: ProcessDefinition }) {
  const { t, lang } = useI18n();
  if (!deviations.length) return null;
  const stepTitle = (id?: string) => def.phases.flatMap((p) => p.steps).find((s) => s.id === id)?.title[lang];
  return (
    <section className="card" aria-labelledby="deviations-title">
      <h2 id="deviations-title">{t('deviation.title')}</h2>
      <ul className="deviations">
        {deviations.map((d) => (
          <li key={d.id} id={`deviation-${d.id}`} className={`deviation ${d.status}`}>
            <span className={`badge ${d.status === 'closed' ? 'done' : 'pending'}`}>{t(`deviation.status.${d.status}` as MessageKey)}</span>{' '}
            <strong>{t(`deviation.kind.${d.kind}` as MessageKey)}</strong>{stepTitle(d.stepId) ? ` · ${stepTitle(d.stepId)}` : ''} · {formatTime(d.openedAt, lang)}
            <p>{d.description}</p>
          </li>
        ))}
      </ul>
    </section>
  );
}
