// The QA desk's queue: what QA can do now (GET /me/pending), batch by batch, and the batches awaiting
// review or released.
import { useEffect, useState } from 'react';
import { api, read } from '../api/client';
import type { BatchSummary, PendingItem } from '../api/types';
import { useI18n } from '../app/i18n';
import { Link } from '../ui/Link';
import type { MessageKey } from '../i18n/en';

export function ReviewQueue() {
  const { t, lang } = useI18n();
  const [pending, setPending] = useState<PendingItem[] | null>(null);
  const [batches, setBatches] = useState<BatchSummary[]>([]);
  useEffect(() => {
    void read(api.GET('/api/v1/me/pending', { params: { query: { limit: 500 } } })).then((p) => setPending(p.items)).catch(() => setPending([]));
    void Promise.all((['qc_testing', 'qa_review', 'released'] as const).map((status) =>
      read(api.GET('/api/v1/batches', { params: { query: { status, limit: 200 } } })))).then((ps) => setBatches(ps.flatMap((p) => p.items))).catch(() => {});
  }, [lang]);
  const byBatch = new Map<string, PendingItem[]>();
  for (const p of pending ?? []) byBatch.set(p.batchId, [...(byBatch.get(p.batchId) ?? []), p]);
  return (
    <section aria-labelledby="queue-title">
      <h1 id="queue-title">{t('review.queue')}</h1>
      <table className="card">
        <thead><tr><th>{t('review.batch')}</th><th>{t('batch.status')}</th><th>{t('batch.deviations')}</th><th>{t('review.todo')}</th></tr></thead>
        <tbody>
          {batches.map((b) => (
            <tr key={b.id}>
              <td><Link to={`/review/${b.id}`}>{b.batchNumber}</Link></td>
              <td>{t(`status.${b.status}`)}</td>
              <td>{b.openDeviations > 0 ? <span className="badge overdue">{t('batch.openDeviations', { n: b.openDeviations })}</span> : '—'}</td>
              <td>
                <ul className="plain">
                  {(byBatch.get(b.id) ?? []).map((p, i) => <li key={i}>{t(`pending.${p.action}` as MessageKey)}: {p.title}</li>)}
                </ul>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {batches.length === 0 && <p className="card muted">{t('review.none')}</p>}
    </section>
  );
}
