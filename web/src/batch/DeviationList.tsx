import type { Deviation, ProcessDefinition } from '../api/types';
import { formatTime, useI18n } from '../app/i18n';
import type { MessageKey } from '../i18n/en';

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
          <li key={d.id} className={`deviation ${d.status}`}>
            <span className={`badge ${d.status === 'closed' ? 'done' : 'pending'}`}>{t(`deviation.status.${d.status}` as MessageKey)}</span>{' '}
            <strong>{t(`deviation.kind.${d.kind}` as MessageKey)}</strong>{stepTitle(d.stepId) ? ` · ${stepTitle(d.stepId)}` : ''} · {formatTime(d.openedAt, lang)}
            <p>{d.description}</p>
          </li>
        ))}
      </ul>
    </section>
  );
}
