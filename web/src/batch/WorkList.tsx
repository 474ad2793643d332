// "What waits for me": the batches in process, each with what is due now, what is overdue and what
// waits for a witness, most urgent first.
import { useCallback, useEffect, useState } from 'react';
import { api, read } from '../api/client';
import type { BatchSummary, PendingItem } from '../api/types';
import type { MessageKey } from '../i18n/en';
import { formatTime, useI18n } from '../app/i18n';
import { hasRole, useSession } from '../app/session';
import { Link } from '../ui/Link';
import { LIST_REFRESH_MS, usePolling } from '../app/poll';

interface Due { title: string; stepId: string; state: 'overdue' | 'due' | 'upcoming'; at?: string }

export function dueSteps(b: BatchSummary, now: number): Due[] {
  return b.availableSteps.filter((s) => !s.repeatable || (s.remaining ?? 1) > 0).map((s) => {
    const opens = s.window?.opensAt ? Date.parse(s.window.opensAt) : undefined;
    const closes = s.window?.closesAt ? Date.parse(s.window.closesAt) : undefined;
    const state = closes !== undefined && closes < now ? 'overdue' : opens !== undefined && opens > now ? 'upcoming' : 'due';
    return { title: s.title, stepId: s.stepId, state, at: state === 'upcoming' ? s.window?.opensAt : s.window?.closesAt };
  });
}

const urgency = (b: BatchSummary, now: number) => {
  const d = dueSteps(b, now);
  return d.some((x) => x.state === 'overdue') ? 0 : (b.state?.pendingVerification?.length ?? 0) > 0 ? 1 : d.some((x) => x.state === 'due') ? 2 : 3;
};

export function WorkList() {
  const { t, lang } = useI18n();
  const { user, site } = useSession();
  const [batches, setBatches] = useState<BatchSummary[] | null>(null);
  const [pending, setPending] = useState<PendingItem[]>([]);
  const load = useCallback(() => {
    void read(api.GET('/api/v1/me/pending', { params: { query: { limit: 200 } } }))
      .then((p) => setPending(p.items.filter((i) => i.due !== 'upcoming'))).catch(() => {});
    (async () => {
      const statuses = hasRole(user, 'qc') && !hasRole(user, 'operator', 'supervisor') ? ['qc_testing'] as const : ['in_process', 'qc_testing'] as const;
      const pages = await Promise.all(statuses.map((status) => read(api.GET('/api/v1/batches', { params: { query: { status, limit: 200 } } }))));
      setBatches(pages.flatMap((p) => p.items));
    })().catch(() => setBatches((b) => b ?? []));
  }, [user, lang]);
  useEffect(load, [load]);
  // What others recorded meanwhile, and the process clock (due, overdue), without a reload.
  usePolling(() => { load(); void site.refresh(); }, LIST_REFRESH_MS);
  const now = site.now();
  return (
    <section aria-labelledby="work-title">
      <div className="row between">
        <h1 id="work-title">{t('work.title')}</h1>
        {hasRole(user, 'operator', 'supervisor') && <Link to="/batches/new" className="button primary">{t('work.newBatch')}</Link>}
      </div>
      {pending.length > 0 && (
        <section className="card" aria-labelledby="pending-title">
          <h2 id="pending-title">{t('work.pending', { n: pending.length })}</h2>
          <ul className="due">
            {pending.map((p, i) => (
              <li key={i} className={p.due}>
                {p.due && <span className={`badge ${p.due}`}>{t(`work.${p.due}`)}</span>}{' '}
                <Link to={`/batches/${p.batchId}${p.entryId ? `#entry-${p.entryId}` : p.stepId ? `#step-${p.stepId}` : ''}`}>
                  {t(`pending.${p.action}` as MessageKey)}: {p.title} · {p.batchNumber}
                </Link>
                {p.detail && <span className="muted"> · {p.detail}</span>}
              </li>
            ))}
          </ul>
        </section>
      )}
      {batches === null ? <p className="loading">{t('common.loading')}</p> : batches.length === 0 ? <p className="card muted">{t('work.none')}</p> : (
        <ul className="work-list">
          {[...batches].sort((a, b) => urgency(a, now) - urgency(b, now)).map((b) => {
            const due = dueSteps(b, now);
            const waiting = b.state?.pendingVerification?.length ?? 0;
            return (
              <li key={b.id} className="card work-item">
                <Link to={`/batches/${b.id}`} className="work-link">
                  <span className="batch-number">{b.batchNumber}</span>
                  <span className="muted">{[b.processId.toUpperCase(), b.patient && `${t('batch.patient')} ${b.patient.id}`, t(`status.${b.status}`)].filter(Boolean).join(' · ')}</span>
                </Link>
                <ul className="due">
                  {due.map((d) => (
                    <li key={d.stepId} className={d.state}>
                      <span className={`badge ${d.state}`}>{t(`work.${d.state}`)}</span> {d.title}
                      {d.at && <span className="muted"> · {d.state === 'upcoming' ? t('work.opens', { at: formatTime(d.at, lang) }) : t('work.closes', { at: formatTime(d.at, lang) })}</span>}
                    </li>
                  ))}
                  {waiting > 0 && <li><span className="badge pending">{t('work.witness')}</span> {t('work.witnessCount', { n: waiting })}</li>}
                  {b.openDeviations > 0 && <li><span className="badge overdue">{t('batch.deviations')}</span> {t('batch.openDeviations', { n: b.openDeviations })}</li>}
                </ul>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
