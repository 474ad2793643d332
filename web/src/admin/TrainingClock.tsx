// Training mode: move the simulated clock (admin, supervisor) to reach the next window of a step.
import { useState, type FormEvent } from 'react';
import { api, ApiError, read } from '../api/client';
import { formatTime, useI18n } from '../app/i18n';
import { useSession } from '../app/session';
import { TextField } from '../ui/fields';
import { ProblemMessage } from '../ui/ProblemMessage';

export function TrainingClock() {
  const { t, lang } = useI18n();
  const { site } = useSession();
  const [hours, setHours] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [now, setNow] = useState(site.now());
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const r = await read(api.POST('/api/v1/training/clock', { body: { advanceHours: Number(hours.replace(',', '.')) } }));
      await site.refresh();
      setNow(Date.parse(r.now));
      setHours('');
      setError(null);
    } catch (err) {
      if (err instanceof ApiError) setError(err);
    }
  };
  return (
    <section className="card narrow" aria-labelledby="clock-title">
      <h1 id="clock-title">{t('clock.title')}</h1>
      <p role="status">{t('clock.now', { at: formatTime(new Date(now).toISOString(), lang) })}</p>
      <form onSubmit={submit} className="stack">
        <TextField label={t('clock.advance')} value={hours} onChange={setHours} inputMode="decimal" suffix="h" required error={error?.fieldMessage('advanceHours')} />
        <ProblemMessage error={error} />
        <button type="submit" className="primary">{t('clock.submit')}</button>
      </form>
    </section>
  );
}
