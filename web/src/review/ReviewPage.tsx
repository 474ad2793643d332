// Review by exception: what QA must look at (each exception with what it points to, one click to it),
// the deviations with their investigation and closure, the release tests, the review signature and the
// disposition — release, conditional release and exceptional release said plainly — and the records
// to download.
import { useCallback, useEffect, useState } from 'react';
import { api, read } from '../api/client';
import type { Deviation, Review, ReviewException } from '../api/types';
import { formatTime, useI18n } from '../app/i18n';
import { hasRole, useSession } from '../app/session';
import { Link } from '../ui/Link';
import { SignatureDialog, type Credentials, type Meaning } from '../batch/SignatureDialog';
import { SelectField, TextArea, TextField } from '../ui/fields';
import type { MessageKey } from '../i18n/en';

type Signing = { meaning: Meaning; subject: string; send: (c: Credentials) => Promise<unknown> };

function targetLink(batchId: string, x: ReviewException): string {
  if (x.target.type === 'deviation') return `#deviation-${x.target.id}`;
  if (x.target.type === 'entry') return `/batches/${batchId}#entry-${x.target.id}`;
  if (x.target.type === 'step' || x.stepId) return `/batches/${batchId}#step-${x.stepId ?? x.target.id}`;
  return `/batches/${batchId}`;
}

function DeviationCard({ d, qa, sign }: { d: Deviation; qa: boolean; sign: (s: Signing) => void }) {
  const { t, lang } = useI18n();
  const [chosen, setOpen] = useState<'investigate' | 'close' | null>(null);
  // Once signed, the deviation moves on and its form goes away.
  const open = chosen === 'investigate' && d.status !== 'open' ? null : d.status === 'closed' ? null : chosen;
  const [f, setF] = useState({ rootCause: '', productImpact: '', otherBatchesImpact: '', capaReference: '', investigation: '', conclusion: '' });
  const field = (k: keyof typeof f) => ({ value: f[k], onChange: (v: string) => setF({ ...f, [k]: v }) });
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    if (open === 'investigate') {
      sign({ meaning: 'investigated', subject: d.description, send: (signature) => read(api.POST('/api/v1/deviations/{id}/investigation', { params: { path: { id: d.id } },
        body: { rootCause: f.rootCause, productImpact: f.productImpact, otherBatchesImpact: f.otherBatchesImpact, ...(f.capaReference.trim() && { capaReference: f.capaReference }), signature } })) });
    } else {
      sign({ meaning: 'approved', subject: t('review.closeSubject', { what: d.description }), send: (signature) => read(api.POST('/api/v1/deviations/{id}/close', { params: { path: { id: d.id } },
        body: { investigation: f.investigation, conclusion: f.conclusion, signature } })) });
    }
  };
  return (
    <li id={`deviation-${d.id}`} className={`deviation ${d.status}`} tabIndex={-1}>
      <div className="row">
        <span className={`badge ${d.status === 'closed' ? 'done' : 'pending'}`}>{t(`deviation.status.${d.status}` as MessageKey)}</span>
        <strong>{t(`deviation.kind.${d.kind}` as MessageKey)}</strong> · {t(`severity.${d.severity}` as MessageKey)} · {formatTime(d.openedAt, lang)}
      </div>
      <p>{d.description}</p>
      {d.investigation && <p className="muted">{t('review.investigated', { who: d.investigation.signature?.printedName ?? '' })}: {d.investigation.rootCause} — {d.investigation.productImpact}</p>}
      {d.closure && <p className="ok">{t('review.closedBy', { who: d.closure.signature?.printedName ?? '' })}: {d.closure.conclusion}</p>}
      {qa && d.status !== 'closed' && !open && (
        <div className="row">
          {d.status === 'open' && <button type="button" onClick={() => setOpen('investigate')}>{t('review.investigate')}</button>}
          <button type="button" onClick={() => setOpen('close')}>{t('review.close')}</button>
        </div>
      )}
      {open && (
        <form className="stack inline-form" onSubmit={submit} aria-label={t(open === 'investigate' ? 'review.investigate' : 'review.close')}>
          {open === 'investigate' ? (
            <>
              <TextArea label={t('review.rootCause')} {...field('rootCause')} required autoFocus />
              <TextArea label={t('review.productImpact')} {...field('productImpact')} required />
              <TextArea label={t('review.otherBatches')} {...field('otherBatchesImpact')} required />
              <TextField label={t('review.capa')} {...field('capaReference')} />
            </>
          ) : (
            <>
              <TextArea label={t('review.investigation')} {...field('investigation')} required autoFocus />
              <TextArea label={t('review.conclusion')} {...field('conclusion')} required />
            </>
          )}
          <div className="row">
            <button type="submit" className="primary">{t('step.sign')}</button>
            <button type="button" onClick={() => setOpen(null)}>{t('common.cancel')}</button>
          </div>
        </form>
      )}
    </li>
  );
}

export function ReviewPage({ id }: { id: string }) {
  const { t, lang } = useI18n();
  const { user } = useSession();
  const qa = hasRole(user, 'qa');
  const [review, setReview] = useState<Review | null>(null);
  const [signing, setSigning] = useState<Signing | null>(null);
  const [comment, setComment] = useState('');
  const [decision, setDecision] = useState('');
  const [justification, setJustification] = useState('');
  const [physicianRequest, setPhysicianRequest] = useState('');
  const [notice, setNotice] = useState('');

  const load = useCallback(async () => setReview(await read(api.GET('/api/v1/batches/{id}/review', { params: { path: { id } } }))), [id]);
  useEffect(() => { void load(); }, [load, lang]);

  if (!review) return <p className="loading">{t('common.loading')}</p>;
  const b = review.batch;
  const disposition = review.disposition;
  const base = `/api/v1/batches/${encodeURIComponent(id)}`;
  // The disposition names release tests by step id: said with the test's name.
  const testNames = (stepIds: string[]) => stepIds.map((s) => review.releaseTests.find((r) => r.stepId === s)?.test ?? s).join(', ');

  const sign = async (c: Credentials) => {
    await signing!.send(c);
    setSigning(null);
    setNotice(t('review.signed'));
    await load();
  };

  return (
    <div className="review-page">
      <header className="card">
        <div className="row between">
          <h1>{t('review.title', { batch: b.batchNumber })}</h1>
          <Link to={`/batches/${id}`} className="touch">{t('review.openRecord')}</Link>
        </div>
        <dl className="facts">
          <div><dt>{t('batch.status')}</dt><dd>{t(`status.${b.status}`)}</dd></div>
          <div><dt>{t('batch.din')}</dt><dd className="mono">{b.din} {b.dinCheck}</dd></div>
          {b.patient && <div><dt>{t('batch.patient')}</dt><dd>{b.patient.id}</dd></div>}
          <div><dt>{t('batch.deviations')}</dt><dd>{t('batch.openDeviations', { n: b.openDeviations })}</dd></div>
        </dl>
        <nav className="row downloads" aria-label={t('review.downloads')}>
          <a className="button" href={`${base}/record.pdf`} download>{t('review.pdf')}</a>
          <a className="button" href={`${base}/coa?lang=${lang}`} download={`coa-${b.batchNumber}.json`}>{t('review.coa')}</a>
          <a className="button" href={`${base}/review?lang=${lang}`} download={`evidence-${b.batchNumber}.json`}>{t('review.evidence')}</a>
          <a className="button" href={`${base}/export`} download={`record-${b.batchNumber}.json`}>{t('review.export')}</a>
        </nav>
      </header>
      <p role="status" className="notice">{notice}</p>
      <div className="columns">
        <div>
          <section className="card" aria-labelledby="exceptions-title">
            <h2 id="exceptions-title">{t('review.exceptions', { n: review.exceptions.length })}</h2>
            {review.exceptions.length === 0 ? <p className="muted">{t('review.noExceptions')}</p> : (
              <ul className="exceptions">
                {review.exceptions.map((x) => (
                  <li key={x.id}>
                    <span className={`badge ${x.covered ? 'done' : 'pending'}`}>{t(`exception.${x.kind}` as MessageKey)}</span>{' '}
                    <span className="muted">{formatTime(x.at, lang)}</span> {x.why}{' '}
                    {x.target.type === 'deviation' ? <a className="touch" href={targetLink(id, x)}>{t('review.goTo')}</a> : <Link to={targetLink(id, x)} className="touch">{t('review.goTo')}</Link>}
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section className="card" aria-labelledby="tests-title">
            <h2 id="tests-title">{t('review.tests')}</h2>
            <table>
              <thead><tr><th>{t('review.test')}</th><th>{t('review.specification')}</th><th>{t('review.result')}</th></tr></thead>
              <tbody>
                {review.releaseTests.map((r) => (
                  <tr key={r.stepId}>
                    <td>{r.test}{r.followsRelease && <span className="muted"> · {t('review.followsRelease')}</span>}</td>
                    <td>{r.specification.join('; ')}</td>
                    <td><span className={`badge ${r.outcome === 'pass' ? 'done' : r.outcome === 'fail' ? 'overdue' : 'pending'}`}>{t(`outcome.${r.outcome}` as MessageKey)}</span>{' '}
                      {r.results?.map((x) => `${x.value ?? ''}${x.unit ? ` ${x.unit}` : ''}`).filter(Boolean).join(', ')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        </div>
        <div className="side">
          <section className="card" aria-labelledby="deviations-title">
            <h2 id="deviations-title">{t('deviation.title')}</h2>
            {review.deviations.length === 0 ? <p className="muted">{t('review.noDeviations')}</p> : (
              <ul className="deviations">{review.deviations.map((d) => <DeviationCard key={d.id} d={d} qa={qa} sign={setSigning} />)}</ul>
            )}
          </section>
          <section className="card stack" aria-labelledby="sign-review-title">
            <h2 id="sign-review-title">{t('review.signTitle')}</h2>
            {review.currentReview && <p className="ok">{t('review.reviewedAt', { at: formatTime(review.currentReview.signedAt, lang) })}</p>}
            {review.voidedReview && <p className="overdue">{t('review.voided')}</p>}
            {qa && !disposition && (review.reviewable ? (
              <form className="stack" onSubmit={(e) => { e.preventDefault(); setSigning({ meaning: 'reviewed', subject: b.batchNumber,
                send: (signature) => read(api.POST('/api/v1/batches/{id}/review', { params: { path: { id } }, body: { ...(comment.trim() && { comment }), signature, expectedVersion: b.version } })) }); }}>
                <TextArea label={t('review.comment')} value={comment} onChange={setComment} />
                <button type="submit" className="primary">{t('review.signReview')}</button>
              </form>
            ) : <p className="muted">{review.blockedBy?.length ? t('review.blocked', { n: review.blockedBy.length }) : t('review.notYet')}</p>)}
          </section>
          <section className="card stack" aria-labelledby="disposition-title">
            <h2 id="disposition-title">{t('review.disposition')}</h2>
            {disposition ? (
              <div>
                <p><strong>{t(`decision.${disposition.decision}` as MessageKey)}</strong> · {formatTime(disposition.decidedAt, lang)} · {disposition.signature?.printedName}</p>
                {disposition.decision === 'exceptional-release' && <p className="overdue">{t('review.exceptionalSaid', { failed: testNames(disposition.failedTests) })}</p>}
                {disposition.conditional && <p className="warning-text">{t('review.conditionalSaid', { tests: testNames(disposition.stillPending) || '—' })}</p>}
                {disposition.justification && <p>{t('review.justification')}: {disposition.justification}</p>}
              </div>
            ) : qa && review.currentReview ? (
              <form className="stack" onSubmit={(e) => { e.preventDefault(); setSigning({ meaning: decision === 'reject' ? 'rejected' : 'released', subject: b.batchNumber,
                send: (signature) => read(api.POST('/api/v1/batches/{id}/disposition', { params: { path: { id } }, body: {
                  decision: decision as 'release' | 'reject' | 'exceptional-release', ...(justification.trim() && { justification }),
                  ...(decision === 'exceptional-release' && { physicianRequest }), signature, expectedVersion: b.version } })) }); }}>
                <SelectField label={t('review.decision')} value={decision} onChange={setDecision} required placeholder={t('step.choose')}
                  options={(['release', 'reject', 'exceptional-release'] as const).map((d) => ({ value: d, label: t(`decision.${d}` as MessageKey) }))} />
                {decision === 'release' && review.releaseTests.some((r) => r.outcome === 'pending' && r.followsRelease) && <p className="warning-text">{t('review.willBeConditional')}</p>}
                {decision && decision !== 'release' && <TextArea label={t('review.justification')} value={justification} onChange={setJustification} required />}
                {decision === 'exceptional-release' && <TextArea label={t('review.physicianRequest')} value={physicianRequest} onChange={setPhysicianRequest} required />}
                <button type="submit" className="primary" disabled={!decision}>{t('review.signDisposition')}</button>
              </form>
            ) : <p className="muted">{t('review.dispositionAfterReview')}</p>}
          </section>
        </div>
      </div>
      {signing && <SignatureDialog meaning={signing.meaning} subject={signing.subject} username={user.username} onSign={sign} onClose={() => setSigning(null)} />}
    </div>
  );
}
