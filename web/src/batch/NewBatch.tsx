// Starting a batch: the process, the DIN scanned from the apheresis bag, the patient.
import { useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, read } from '../api/client';
import type { Batch, ProcessSummary } from '../api/types';
import { useI18n } from '../app/i18n';
import { navigate } from '../app/router';
import { SelectField, TextField } from '../ui/fields';
import { ProblemMessage } from '../ui/ProblemMessage';

export function NewBatch() {
  const { t, lang } = useI18n();
  const [processes, setProcesses] = useState<ProcessSummary[]>([]);
  const [processId, setProcessId] = useState('');
  const [din, setDin] = useState('');
  const [patientId, setPatientId] = useState('');
  const [weight, setWeight] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => { void read(api.GET('/api/v1/processes')).then(setProcesses); }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const b = await read(api.POST('/api/v1/batches', {
        body: { processId, din: din.trim(), patient: { id: patientId.trim(), weightKg: Number(weight.replace(',', '.')) } },
      }));
      navigate(`/batches/${b.id}`);
    } catch (err) {
      if (err instanceof ApiError) setError(err);
    }
  };
  return (
    <section className="card narrow" aria-labelledby="new-title">
      <h1 id="new-title">{t('newBatch.title')}</h1>
      <form onSubmit={submit} className="stack">
        <SelectField label={t('newBatch.process')} value={processId} onChange={setProcessId} required autoFocus placeholder={t('step.choose')}
          options={processes.map((p) => ({ value: p.id, label: p.title?.[lang] ?? p.name }))} error={error?.fieldMessage('processId')} />
        <TextField label={t('newBatch.din')} value={din} onChange={setDin} required hint={t('newBatch.dinHint')} error={error?.fieldMessage('din')} />
        <TextField label={t('newBatch.patientId')} value={patientId} onChange={setPatientId} required hint={t('newBatch.patientHint')} error={error?.fieldMessage('patient.id')} />
        <TextField label={t('newBatch.weight')} value={weight} onChange={setWeight} required inputMode="decimal" suffix="kg" error={error?.fieldMessage('patient.weightKg')} />
        <ProblemMessage error={error} />
        <button type="submit" className="primary">{t('newBatch.submit')}</button>
      </form>
    </section>
  );
}
