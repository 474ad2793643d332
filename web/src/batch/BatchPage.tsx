// A batch at the bench: the process as a timeline (done, available, locked with its reason, culture
// day numbers) beside the form of the step being recorded; witness verification and corrections from
// the entries themselves.
import { useCallback, useEffect, useRef, useState } from 'react';
import { api, ApiError, read } from '../api/client';
import type { Batch, Deviation, Entry, Equipment, Material, ProcessDefinition } from '../api/types';
import { formatTime, useI18n } from '../app/i18n';
import { useSession } from '../app/session';
import { StepForm } from './StepForm';
import { SignatureDialog, type Credentials } from './SignatureDialog';
import { Timeline } from './Timeline';
import { fieldsOf, loadProcess } from './process';
import { rawValue } from './values';
import { DeviationList, ReportDeviation } from './DeviationList';
import { BATCH_REFRESH_MS, usePolling } from '../app/poll';

type Selection = { kind: 'record'; stepId: string } | { kind: 'correct'; entryId: string } | null;

/** An entry's values as they stand after the corrections made to it. */
export function currentValues(entries: Entry[], entry: Entry): Record<string, unknown> {
  return entries.filter((e) => e.kind === 'correction' && e.correctsEntryId === entry.id)
    .reduce((v, c) => ({ ...v, ...c.values }), { ...entry.values });
}

export function BatchPage({ id }: { id: string }) {
  const { t, lang } = useI18n();
  const { site } = useSession();
  const [batch, setBatch] = useState<Batch | null>(null);
  const [def, setDef] = useState<ProcessDefinition | null>(null);
  const [deviations, setDeviations] = useState<Deviation[]>([]);
  const [selected, setSelected] = useState<Selection>(null);
  const [verifying, setVerifying] = useState<Entry | null>(null);
  const [notice, setNotice] = useState('');
  const [focusAfter, setFocusAfter] = useState<string | null>(null);
  const [names, setNames] = useState<Record<string, string>>({});
  /** The batch as someone else changed it while a form was open here: shown only when asked. */
  const [changed, setChanged] = useState<Batch | null>(null);

  // Lots and equipment are stored by id; the timeline shows their lot numbers and asset ids.
  useEffect(() => {
    void Promise.all([
      read(api.GET('/api/v1/materials', { params: { query: { limit: 500 } } })),
      read(api.GET('/api/v1/equipment', { params: { query: { limit: 500 } } })),
    ]).then(([m, e]) => setNames(Object.fromEntries([
      ...m.items.map((x) => [x.id, `${x.lotNumber} (${x.name})`]),
      ...e.items.map((x) => [x.id, `${x.assetId} (${x.name})`]),
    ]))).catch(() => {});
  }, []);

  /** The ETag of the last batch read: the refresh sends it back and gets a 304 while nothing shown changed. */
  const etag = useRef<string | null>(null);
  /** Reads the batch (null: the answer held is still the current one). */
  const readBatch = useCallback(async (ifNoneMatch?: string | null) => {
    const answer = await api.GET('/api/v1/batches/{id}', { params: { path: { id }, header: ifNoneMatch ? { 'if-none-match': ifNoneMatch } : undefined } });
    if (answer.response.status === 304) return null;
    const b = await read(Promise.resolve(answer));
    etag.current = answer.response.headers.get('etag');
    return b;
  }, [id]);

  const load = useCallback(async () => {
    const [b, devs] = await Promise.all([
      readBatch().then((x) => x!),
      read(api.GET('/api/v1/batches/{id}/deviations', { params: { path: { id }, query: { limit: 500 } } })),
    ]);
    setDef(await loadProcess(b.processId));
    setBatch(b);
    setDeviations(devs.items);
  }, [id, readBatch]);
  // The language is part of the answer (step titles, reasons): read again when it changes.
  useEffect(() => { void load(); }, [load, lang]);

  // Someone else may advance the batch (a witness at another terminal, QC, QA): read it again now and
  // then. With no form open the page follows at once; under an open form the batch it was opened on
  // stays (its expectedVersion lets the server refuse a stale signature, 409) and a notice offers
  // the changes.
  const formOpen = selected !== null || verifying !== null;
  usePolling(async () => {
    if (!batch) return;
    void site.refresh();
    const b = await readBatch(etag.current);
    if (!b || b.version === (changed ?? batch).version) return;
    if (formOpen) return setChanged(b);
    setBatch(b);
    setChanged(null);
    setNotice(t('batch.updated'));
    setDeviations((await read(api.GET('/api/v1/batches/{id}/deviations', { params: { path: { id }, query: { limit: 500 } } }))).items);
  }, BATCH_REFRESH_MS);
  const showChanges = () => { if (changed) setBatch(changed); setChanged(null); };
  /** A signature refused as stale (409): the page shows the batch as it is now; the form keeps its values. */
  const reloadAfterStale = async () => { setChanged(null); await load(); };

  // A link from the QA desk names an entry or a step (#entry-…, #step-…): one click to it.
  const ready = !!batch && !!def;
  useEffect(() => {
    if (!ready || !location.hash) return;
    const el = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    el?.scrollIntoView({ block: 'center' });
    el?.focus();
  }, [ready]);

  useEffect(() => {
    if (!focusAfter) return;
    document.getElementById(focusAfter)?.focus();
    setFocusAfter(null);
  }, [focusAfter, batch]);

  if (!batch || !def) return <p className="loading">{t('common.loading')}</p>;
  const entries = batch.entries ?? [];
  const active = batch.status === 'in_process' || batch.status === 'qc_testing';

  const recorded = (b: Batch, entryId: string, title: string) => {
    setBatch(b);
    setChanged(null);
    setSelected(null);
    setNotice(t('batch.recorded', { title }));
    const entry = b.entries?.find((e) => e.id === entryId);
    // The witness is usually beside the performer: their button gets the focus.
    setFocusAfter(entry?.verified === false ? `verify-${entryId}` : b.availableSteps[0] ? `record-${b.availableSteps[0].stepId}` : null);
    void read(api.GET('/api/v1/batches/{id}/deviations', { params: { path: { id }, query: { limit: 500 } } })).then((p) => setDeviations(p.items));
  };

  const verify = async ({ username, password }: Credentials) => {
    const r = await read(api.POST('/api/v1/batches/{id}/entries/{entryId}/verify', {
      params: { path: { id: batch.id, entryId: verifying!.id } }, body: { signature: { username, password }, expectedVersion: batch.version },
    })).catch(async (err: unknown) => {
      if (err instanceof ApiError && err.isStale) await reloadAfterStale();
      throw err;
    });
    setVerifying(null);
    setBatch(r.batch);
    setNotice(t('batch.verified'));
    setFocusAfter(r.batch.availableSteps[0] ? `record-${r.batch.availableSteps[0].stepId}` : null);
  };

  // Said where the eyes are: above the Sign button of the open form, else under the header.
  const outdated = changed && (
    <div role="alert" className="problem row between">
      <span>{t('batch.changedWhileOpen', { n: Math.max(1, changed.entries.length - batch.entries.length) })}</span>
      <button type="button" onClick={showChanges}>{t('batch.showChanges')}</button>
    </div>
  );
  const stepDef = (stepId: string | undefined) => def.phases.flatMap((p) => p.steps).find((s) => s.id === stepId);
  let form = null;
  if (selected?.kind === 'record') {
    const step = batch.availableSteps.find((s) => s.stepId === selected.stepId);
    if (step) {
      form = <StepForm key={`r-${step.stepId}`} batch={batch} fields={step.fields} title={step.title} instructions={step.instructions}
        mode={{ kind: 'record', stepId: step.stepId }} onDone={(b, e) => recorded(b, e, step.title)} onCancel={() => setSelected(null)} onStale={reloadAfterStale} outdated={outdated} />;
    }
  } else if (selected?.kind === 'correct') {
    const entry = entries.find((e) => e.id === selected.entryId);
    const step = stepDef(entry?.stepId);
    if (entry && step) {
      const fields = fieldsOf(step, lang);
      const values = currentValues(entries, entry);
      const initial = Object.fromEntries(fields.map((f) => [f.name, rawValue(f, values[f.name])]));
      form = <StepForm key={`c-${entry.id}`} batch={batch} fields={fields} title={step.title[lang]} mode={{ kind: 'correct', entry }} initial={initial}
        onDone={(b, e) => recorded(b, e, step.title[lang])} onCancel={() => setSelected(null)} onStale={reloadAfterStale} outdated={outdated} />;
    }
  }

  return (
    <div className="batch-page">
      <header className="batch-head card">
        <h1>{batch.batchNumber}</h1>
        {batch.draftProcess && <p role="note" className="draft-mark">{t('batch.draftProcess', { version: batch.processVersion })}</p>}
        <dl className="facts">
          <div><dt>{t('batch.process')}</dt><dd>{def.title[lang]} (v{batch.processVersion})</dd></div>
          <div><dt>{t('batch.status')}</dt><dd>{t(`status.${batch.status}`)}</dd></div>
          <div><dt>{t('batch.din')}</dt><dd className="mono">{batch.din} {batch.dinCheck}</dd></div>
          {batch.patient && <div><dt>{t('batch.patient')}</dt><dd>{batch.patient.id} · {batch.patient.weightKg} kg</dd></div>}
          <div><dt>{t('batch.started')}</dt><dd>{formatTime(batch.createdAt, lang)}</dd></div>
          <div><dt>{t('batch.deviations')}</dt><dd>{t('batch.openDeviations', { n: batch.openDeviations })}</dd></div>
        </dl>
        {batch.integrity === false && <p role="alert" className="problem">{t('batch.integrityFailed')}</p>}
      </header>
      <p role="status" className="notice">{notice}</p>
      {changed && !form && outdated}
      <div className="columns">
        <Timeline batch={batch} def={def} now={site.now()} names={names} selectedStep={selected?.kind === 'record' ? selected.stepId : undefined}
          onRecord={(stepId) => { setNotice(''); setSelected({ kind: 'record', stepId }); }}
          onVerify={active ? setVerifying : undefined}
          onCorrect={active ? (e) => { setNotice(''); setSelected({ kind: 'correct', entryId: e.id }); } : undefined} />
        <div className="side">
          {form ?? <p className="card muted">{active ? t('batch.chooseStep') : t('batch.closed')}</p>}
          <DeviationList deviations={deviations} def={def} />
          {active && <ReportDeviation batch={batch} def={def} onDone={() => { setNotice(t('deviation.reported')); void load(); }} />}
        </div>
      </div>
      {verifying && (
        <SignatureDialog meaning="verified" subject={stepDef(verifying.stepId)?.title[lang] ?? ''} onSign={verify} onClose={() => setVerifying(null)} />
      )}
    </div>
  );
}
