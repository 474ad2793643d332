// The process as a timeline: each step done (with its entries), available (with its window), or
// locked (with the reason in words); culture days counted from the definition's day 0.
import { useState } from 'react';
import type { Batch, DefinitionStep, Entry, ProcessDefinition } from '../api/types';
import { formatTime, useI18n } from '../app/i18n';
import { cultureDay, dayZero, fieldsOf } from './process';
import { currentValues } from './BatchPage';

type Status = 'done' | 'available' | 'locked' | 'waiting';

/** A repeatable step shows its latest entries; the rest on demand (a long culture stays quick to open). */
const SHOWN = 5;

export function Timeline({ batch, def, now, names, selectedStep, onRecord, onVerify, onCorrect }: {
  batch: Batch; def: ProcessDefinition; now: number; names: Record<string, string>; selectedStep?: string;
  onRecord: (stepId: string) => void; onVerify?: (e: Entry) => void; onCorrect?: (e: Entry) => void;
}) {
  const { t, lang } = useI18n();
  const entries = batch.entries ?? [];
  const day0 = dayZero(def, entries);
  // A link to one entry (#entry-…) opens its step's full list.
  const [expanded, setExpanded] = useState<Set<string>>(() => {
    const target = location.hash.startsWith('#entry-') ? location.hash.slice(7) : '';
    const e = entries.find((x) => x.id === target);
    const stepId = e?.stepId ?? entries.find((x) => x.id === e?.correctsEntryId)?.stepId;
    return new Set(stepId ? [stepId] : []);
  });
  const dayLabel = (at: string | undefined) => {
    const d = cultureDay(day0, at);
    return d === undefined || d < 0 ? null : <span className="day">{t('batch.day', { n: d })}</span>;
  };

  const stepItem = (step: DefinitionStep) => {
    const done = entries.filter((e) => e.kind === 'step' && e.stepId === step.id);
    const available = batch.availableSteps.find((s) => s.stepId === step.id);
    const locked = batch.lockedSteps.find((s) => s.stepId === step.id);
    const status: Status = available ? 'available' : done.length ? 'done' : locked ? 'locked' : 'waiting';
    const title = available?.title ?? locked?.title ?? step.title[lang];
    const win = available?.window;
    const overdue = win?.closesAt && Date.parse(win.closesAt) < now && (!step.repeatable || (available?.remaining ?? 0) > 0);
    const notYet = win?.opensAt && Date.parse(win.opensAt) > now;
    const fields = fieldsOf(step, lang);
    return (
      <li key={step.id} id={`step-${step.id}`} tabIndex={-1} className={`step ${status}${selectedStep === step.id ? ' selected' : ''}`}>
        <div className="step-head">
          <span className={`badge ${status}`}>{t(`timeline.${status}`)}</span>
          <span className="step-title">{title}</span>
          {available?.repeatable && available.remaining !== undefined && <span className="muted">{t('timeline.remaining', { n: available.remaining })}</span>}
        </div>
        {done.length > SHOWN && !expanded.has(step.id) && (
          <button type="button" className="link" onClick={() => setExpanded(new Set([...expanded, step.id]))}>
            {t('timeline.showAll', { n: done.length })}
          </button>
        )}
        {(expanded.has(step.id) ? done : done.slice(-SHOWN)).map((e) => {
          const values = currentValues(entries, e);
          const corrections = entries.filter((c) => c.kind === 'correction' && c.correctsEntryId === e.id);
          const performer = e.signatures.find((s) => s.meaning === 'performed');
          const witness = [e, ...corrections].flatMap((x) => x.signatures).filter((s) => s.meaning === 'verified').pop();
          const pending = corrections.length ? corrections[corrections.length - 1].verified === false : e.verified === false;
          return (
            <div key={e.id} id={`entry-${e.id}`} tabIndex={-1} className="entry">
              <div className="entry-line">
                {dayLabel(e.recordedAt)}
                <span>{formatTime(e.recordedAt, lang)}</span>
                {performer && <span>{t('timeline.by', { name: performer.printedName })}</span>}
                {witness && <span className="ok">{t('timeline.verifiedBy', { name: witness.printedName })}</span>}
                {pending && <span className="badge pending">{t('timeline.awaitingVerification')}</span>}
              </div>
              <ul className="values">
                {fields.filter((f) => values[f.name] !== undefined).map((f) => (
                  <li key={f.name}><span className="muted">{f.label}:</span> {f.kind === 'datetime' ? formatTime(String(values[f.name]), lang)
                    : f.kind === 'lot' || f.kind === 'equipment' ? names[String(values[f.name])] ?? String(values[f.name]) : String(values[f.name])}{f.unit ? ` ${f.unit}` : ''}</li>
                ))}
              </ul>
              {corrections.map((c) => (
                <p key={c.id} id={`entry-${c.id}`} tabIndex={-1} className="correction">{t('timeline.corrected', { name: c.signatures[0]?.printedName ?? '', at: formatTime(c.recordedAt, lang), reason: c.reason ?? '' })}</p>
              ))}
              <div className="row">
                {pending && onVerify && (
                  <button type="button" id={`verify-${corrections.length ? corrections[corrections.length - 1].id : e.id}`}
                    onClick={() => onVerify(corrections.length ? corrections[corrections.length - 1] : e)}>
                    {t('timeline.verify', { title })}
                  </button>
                )}
                {onCorrect && <button type="button" onClick={() => onCorrect(e)}>{t('timeline.correct', { title })}</button>}
              </div>
            </div>
          );
        })}
        {available && (
          <div className="entry">
            {win && (win.opensAt || win.closesAt) && (
              <p className={overdue ? 'overdue' : 'muted'}>
                {overdue ? t('timeline.overdue', { at: formatTime(win.closesAt, lang) })
                  : notYet ? t('timeline.opensAt', { at: formatTime(win.opensAt, lang) })
                  : win.closesAt ? t('timeline.dueBy', { at: formatTime(win.closesAt, lang) }) : null}
                {' '}{dayLabel(win.opensAt)}
              </p>
            )}
            <button type="button" id={`record-${step.id}`} className="primary" onClick={() => onRecord(step.id)} aria-label={t('timeline.recordStep', { title })}>
              {t('timeline.record')}
            </button>
          </div>
        )}
        {locked && !available && <p className="reason">{locked.reason}</p>}
      </li>
    );
  };

  return (
    <section className="timeline card" aria-label={t('timeline.title')}>
      {def.phases.map((phase) => (
        <div key={phase.id} className="phase">
          <h2>{phase.title[lang]}</h2>
          <ol>{phase.steps.map(stepItem)}</ol>
        </div>
      ))}
    </section>
  );
}
