// The form of a step, generated from its field definitions: units and acceptable ranges shown, an
// out-of-specification warning while typing (before signing), lot and equipment pickers offering only
// what may be used today, and identity fields that say at once when a scan does not match the batch.
// A routine step takes few touches: focus starts on the first value; Enter (which ends a scan) moves
// to the next empty required field, or opens the signature when none is left.
import { useEffect, useMemo, useRef, useState, type FormEvent, type KeyboardEvent, type ReactNode } from 'react';
import { api, ApiError, read } from '../api/client';
import type { Batch, Entry, Field } from '../api/types';
import { useI18n } from '../app/i18n';
import { useSession } from '../app/session';
import { SelectField, TextArea, TextField } from '../ui/fields';
import { ProblemMessage } from '../ui/ProblemMessage';
import { SignatureDialog, type Credentials } from './SignatureDialog';
import { checkIdentity, outside, specText, toLocalInput, typedValue } from './values';
import { useDraft } from './draft';
import { choicesFor, resolveScan, siteDate, type Stock } from './pickers';
import { Picker } from './Picker';

export type StepFormMode = { kind: 'record'; stepId: string } | { kind: 'correct'; entry: Entry };

/** The lots and equipment the pickers choose from and resolve scans against (all of them: a scan of
 *  one that may not be used says why). */
function useStock(fields: Field[]): Stock | null {
  const [stock, setStock] = useState<Stock | null>(null);
  const needed = fields.some((f) => f.kind === 'lot' || f.kind === 'equipment');
  useEffect(() => {
    if (!needed) return;
    let live = true;
    Promise.all([
      read(api.GET('/api/v1/materials', { params: { query: { limit: 500 } } })),
      read(api.GET('/api/v1/equipment', { params: { query: { limit: 500 } } })),
    ]).then(([lots, equipment]) => { if (live) setStock({ lots: lots.items, equipment: equipment.items }); }).catch(() => {});
    return () => { live = false; };
  }, [needed]);
  return stock;
}

export function StepForm({ batch, fields, title, instructions, mode, initial, onDone, onCancel, onStale, outdated }: {
  batch: Batch; fields: Field[]; title: string; instructions?: string; mode: StepFormMode;
  initial?: Record<string, string>; onDone: (batch: Batch, entryId: string) => void; onCancel: () => void;
  /** The signature was refused because the batch changed meanwhile: show the batch as it is now. */
  onStale: () => Promise<void>;
  /** The notice that someone else changed the batch since the form was opened. */
  outdated?: ReactNode;
}) {
  const { t } = useI18n();
  const { user, site } = useSession();
  const draftKey = `${batch.id}:${mode.kind === 'record' ? mode.stepId : `correct:${mode.entry.id}`}`;
  const [raw, setRaw] = useDraft(draftKey, initial ?? {});
  const [reason, setReason] = useState('');
  // ALCOA+ contemporaneous: when the work was done at the bench; empty means now. A time more than
  // the usual 30 min back asks why the entry is late (the server decides with the definition's tolerance).
  const [performedAt, setPerformedAt] = useState('');
  const [lateReason, setLateReason] = useState('');
  const [identityErrors, setIdentityErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<ApiError | null>(null);
  const [signing, setSigning] = useState(false);
  const [stale, setStale] = useState(false);
  const inputs = useRef<Record<string, HTMLInputElement | HTMLSelectElement | null>>({});
  const today = siteDate(site.now(), site.timeZone);
  const editable = useMemo(() => fields.filter((f) => !f.computed), [fields]);
  const stock = useStock(editable);

  const set = (name: string, v: string) => {
    setRaw({ ...raw, [name]: v });
    if (identityErrors[name]) setIdentityErrors({ ...identityErrors, [name]: '' });
  };

  const identityMessage = (f: Field, v: string): string => {
    if (f.kind !== 'identity' || !v.trim()) return '';
    const c = checkIdentity(f, v, batch);
    if (c.ok) return '';
    const expected = f.identity === 'batchNumber' ? batch.batchNumber : `${batch.din} ${batch.dinCheck}`;
    return c.reason === 'mismatch' ? t('step.identityMismatch', { read: c.read ?? v, expected }) : t('step.identityMalformed', { read: v.trim() });
  };

  /** Values to send: every keyed field (a correction sends only what changed). */
  const values = () => {
    const out: Record<string, unknown> = {};
    for (const f of editable) {
      const v = typedValue(f, raw[f.name] ?? '');
      if (v === undefined) continue;
      if (mode.kind === 'correct' && (raw[f.name] ?? '') === (initial?.[f.name] ?? '')) continue;
      out[f.name] = v;
    }
    return out;
  };

  const validateIdentities = () => {
    const errs: Record<string, string> = {};
    for (const f of editable) {
      const m = identityMessage(f, raw[f.name] ?? '');
      if (m) errs[f.name] = m;
    }
    setIdentityErrors(errs);
    return Object.keys(errs)[0];
  };

  const requestSignature = () => {
    const bad = validateIdentities();
    if (bad) return inputs.current[bad]?.focus();
    setSigning(true);
  };

  // Enter ends a scan or a typed value: check an identity at once, then move on or sign.
  const onKey = (f: Field) => (e: KeyboardEvent<HTMLInputElement | HTMLSelectElement>) => {
    if (e.key !== 'Enter') return;
    e.preventDefault();
    moveOn(f, (e.currentTarget as HTMLInputElement).value, e.currentTarget);
  };

  const moveOn = (f: Field, v: string, input: HTMLInputElement | HTMLSelectElement) => {
    const m = identityMessage(f, v);
    if (m) {
      setIdentityErrors({ ...identityErrors, [f.name]: m });
      (input as HTMLInputElement).select?.();
      return;
    }
    const filled = { ...raw, [f.name]: v };
    const at = editable.indexOf(f);
    const next = [...editable.slice(at + 1), ...editable.slice(0, at)].find((g) => g.required && !(filled[g.name] ?? '').trim());
    if (next && mode.kind === 'record') inputs.current[next.name]?.focus();
    else if (mode.kind === 'correct' && !reason.trim()) document.getElementById(`${draftKey}-reason`)?.querySelector('textarea')?.focus();
    else requestSignature();
  };

  const submit = (e: FormEvent) => { e.preventDefault(); setStale(false); requestSignature(); };

  const performedIso = typedValue({ kind: 'datetime' } as Field, performedAt) as string | undefined;
  const looksLate = !!performedIso && site.now() - Date.parse(performedIso) > 30 * 60_000;
  const askLateReason = looksLate || !!error?.fieldMessage('lateReason');

  const sign = async ({ username, password }: Credentials) => {
    const signature = { username, password };
    try {
      const r = mode.kind === 'record'
        ? await read(api.POST('/api/v1/batches/{id}/steps/{stepId}', {
          params: { path: { id: batch.id, stepId: mode.stepId } }, body: {
            values: values(), signature, expectedVersion: batch.version,
            ...(performedIso && { performedAt: performedIso }), ...(askLateReason && lateReason.trim() && { lateReason: lateReason.trim() }),
          },
        }))
        : await read(api.POST('/api/v1/batches/{id}/entries/{entryId}/corrections', {
          params: { path: { id: batch.id, entryId: mode.entry.id } }, body: { values: values(), reason, signature, expectedVersion: batch.version },
        }));
      setSigning(false);
      setRaw(null);
      onDone(r.batch, r.entry.id);
    } catch (err) {
      // A stale form never overwrites silently: the server refused it (expectedVersion); say so
      // plainly, show the batch as it is now and keep the typed values for a deliberate second signature.
      if (err instanceof ApiError && err.isStale) {
        setSigning(false);
        setStale(true);
        await onStale();
        return;
      }
      // A refusal about the values belongs beside the fields, not in the signature dialog.
      if (err instanceof ApiError && err.problem.errors?.some((x) => x.field.startsWith('values') || ['reason', 'performedAt', 'lateReason'].includes(x.field))) {
        setSigning(false);
        setError(err);
        const named = editable.find((f) => err.fieldMessage(`values.${f.name}`));
        if (named) inputs.current[named.name]?.focus();
        return;
      }
      throw err;
    }
  };

  const hint = (f: Field) => {
    const parts = [];
    if (f.spec) parts.push(t('step.spec', { spec: specText(f.spec, f.unit) }));
    if (f.alert) parts.push(t('step.alert', { spec: specText(f.alert, f.unit) }));
    if (f.limits && (f.limits.min !== undefined || f.limits.max !== undefined)) parts.push(t('step.limits', { spec: specText(f.limits, f.unit) }));
    return parts.join(' · ') || undefined;
  };

  const warning = (f: Field) => {
    const v = typedValue(f, raw[f.name] ?? '');
    if (outside(f.limits, v)) return t('step.outsideLimits', { spec: specText(f.limits, f.unit) });
    if (outside(f.spec, v)) return t('step.oos', { spec: specText(f.spec, f.unit) });
    if (outside(f.alert, v)) return t('step.alertWarning', { spec: specText(f.alert, f.unit) });
    if ((f.kind === 'number' || f.kind === 'integer') && (raw[f.name] ?? '').trim() && v === undefined) return t('step.notANumber');
    return undefined;
  };

  let first = true;
  const autoFocus = () => { const r = first; first = false; return r; };

  return (
    <section className="step-form card" aria-labelledby={`${draftKey}-title`}>
      <h2 id={`${draftKey}-title`}>{mode.kind === 'record' ? title : t('correct.title', { title })}</h2>
      {instructions && <p className="instructions">{instructions}</p>}
      <form onSubmit={submit} className="stack" noValidate>
        {fields.map((f) => {
          const common = {
            key: f.name, label: f.required || mode.kind === 'correct' ? f.label : t('step.optional', { label: f.label }), name: f.name, required: f.required && mode.kind === 'record', hint: hint(f),
            error: identityErrors[f.name] || error?.fieldMessage(`values.${f.name}`),
          };
          const ref = (el: HTMLInputElement | HTMLSelectElement | null) => { inputs.current[f.name] = el; };
          if (f.computed) {
            return <TextField {...common} key={f.name} value={raw[f.name] ?? ''} onChange={() => {}} hint={t('step.computed')} suffix={f.unit} />;
          }
          const value = raw[f.name] ?? '';
          switch (f.kind) {
            case 'lot': case 'equipment': {
              const options = stock ? choicesFor(f, stock, today) : [];
              return <Picker {...common} key={f.name} value={value} onChange={(v) => set(f.name, v)} inputRef={ref} autoFocus={autoFocus()}
                hint={[common.hint, t('pick.scanHint')].filter(Boolean).join(' · ')} options={options}
                placeholder={stock && options.length === 0 ? t(f.kind === 'lot' ? 'step.noLot' : 'step.noEquipment') : t('step.choose')}
                onEnter={(select) => moveOn(f, select.value, select)}
                onScan={(code, select) => {
                  if (!stock) return;
                  const r = resolveScan(f, code, stock, today);
                  if ('id' in r) { set(f.name, r.id); moveOn(f, r.id, select); }
                  else setIdentityErrors({ ...identityErrors, [f.name]: t(r.key, r.vars) });
                }} />;
            }
            case 'choice': case 'boolean': case 'result':
              if (f.kind === 'boolean' || f.options?.length) {
                const opts = f.kind === 'boolean' ? [{ value: 'true', label: t('common.yes') }, { value: 'false', label: t('common.no') }] : f.options!.map((o) => ({ value: o, label: f.optionLabels?.[o] ?? o }));
                return <SelectField {...common} key={f.name} value={value} onChange={(v) => set(f.name, v)} inputRef={ref} onKeyDown={onKey(f)} autoFocus={autoFocus()}
                  options={opts} placeholder={t('step.choose')} warning={warning(f)} />;
              }
              break;
            case 'datetime':
              return (
                <div className="with-action" key={f.name}>
                  <TextField {...common} type="datetime-local" value={value} onChange={(v) => set(f.name, v)} inputRef={ref} onKeyDown={onKey(f)} autoFocus={autoFocus()} />
                  <button type="button" onClick={() => set(f.name, toLocalInput(site.now()))} aria-label={t('step.nowFor', { label: f.label })}>{t('step.now')}</button>
                </div>
              );
            default:
          }
          const numeric = f.kind === 'number' || f.kind === 'integer';
          return <TextField {...common} key={f.name} value={value} onChange={(v) => set(f.name, v)} inputRef={ref} onKeyDown={onKey(f)} autoFocus={autoFocus()}
            inputMode={numeric ? 'decimal' : undefined} suffix={f.unit} warning={warning(f)}
            onBlur={f.kind === 'identity' ? () => setIdentityErrors({ ...identityErrors, [f.name]: identityMessage(f, value) }) : undefined} />;
        })}
        {mode.kind === 'record' && (
          <div className="with-action">
            <TextField label={t('step.performedAt')} name="performedAt" type="datetime-local" value={performedAt} onChange={setPerformedAt}
              hint={t('step.performedAtHint')} error={error?.fieldMessage('performedAt')} />
            <button type="button" onClick={() => setPerformedAt(toLocalInput(site.now()))} aria-label={t('step.nowFor', { label: t('step.performedAt') })}>{t('step.now')}</button>
          </div>
        )}
        {mode.kind === 'record' && askLateReason && (
          <TextArea label={t('step.lateReason')} value={lateReason} onChange={setLateReason} required error={error?.fieldMessage('lateReason')} />
        )}
        {mode.kind === 'correct' && (
          <div id={`${draftKey}-reason`}>
            <TextArea label={t('correct.reason')} value={reason} onChange={setReason} required error={error?.fieldMessage('reason')} />
          </div>
        )}
        <ProblemMessage error={error} />
        {stale && <div role="alert" className="problem">{t('step.staleVersion')}</div>}
        {outdated}
        <div className="row">
          <button type="submit" className="primary">{t('step.sign')}</button>
          <button type="button" onClick={onCancel}>{t('common.cancel')}</button>
        </div>
      </form>
      {signing && (
        <SignatureDialog meaning="performed" subject={title} username={user.username} onSign={sign} onClose={() => setSigning(false)} />
      )}
    </section>
  );
}
