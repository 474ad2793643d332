// Material lots: registered by a supervisor (quarantined) or QA; QA releases, quarantines or rejects
// them with a reason (21 CFR 211.84: production does not release its own materials).
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, read } from '../api/client';
import type { Material } from '../api/types';
import { useI18n } from '../app/i18n';
import { hasRole, useSession } from '../app/session';
import { SelectField, TextField } from '../ui/fields';
import { ProblemMessage } from '../ui/ProblemMessage';
import { ReasonForm } from '../ui/ReasonForm';
import type { MessageKey } from '../i18n/en';

type Status = Material['status'];

export function Materials() {
  const { t } = useI18n();
  const { user, site } = useSession();
  const qa = hasRole(user, 'qa');
  const [items, setItems] = useState<Material[]>([]);
  const [form, setForm] = useState({ type: '', name: '', lotNumber: '', expiresOn: '', status: qa ? 'released' : 'quarantined' });
  const [error, setError] = useState<ApiError | null>(null);
  const [changing, setChanging] = useState<{ m: Material; to: Status } | null>(null);
  const today = new Date(site.now()).toISOString().slice(0, 10);

  const load = useCallback(async () => setItems((await read(api.GET('/api/v1/materials', { params: { query: { limit: 500 } } }))).items), []);
  useEffect(() => { void load(); }, [load]);

  const register = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await read(api.POST('/api/v1/materials', { body: { ...form, status: form.status as 'released' | 'quarantined' } }));
      setForm({ ...form, name: '', lotNumber: '' });
      setError(null);
      await load();
    } catch (err) {
      if (err instanceof ApiError) setError(err);
    }
  };
  const f = (k: keyof typeof form) => ({ value: form[k], onChange: (v: string) => setForm({ ...form, [k]: v }), error: error?.fieldMessage(k) });

  return (
    <section aria-labelledby="materials-title">
      <h1 id="materials-title">{t('materials.title')}</h1>
      <div className="columns wide-left">
        <div className="card">
          <table>
            <thead><tr><th>{t('materials.lotNumber')}</th><th>{t('materials.name')}</th><th>{t('materials.type')}</th><th>{t('materials.expiresOn')}</th><th>{t('materials.status')}</th>{qa && <th>{t('common.actions')}</th>}</tr></thead>
            <tbody>
              {items.map((m) => (
                <tr key={m.id}>
                  <td>{m.lotNumber}</td><td>{m.name}</td><td>{m.type}</td>
                  <td className={m.expiresOn < today ? 'overdue' : undefined}>{m.expiresOn}{m.expiresOn < today ? ` (${t('materials.expired')})` : ''}</td>
                  <td><span className={`badge ${m.status === 'released' ? 'done' : 'pending'}`}>{t(`materials.${m.status}` as MessageKey)}</span></td>
                  {qa && (
                    <td><div className="row">
                      {(['released', 'quarantined', 'rejected'] as Status[]).filter((s) => s !== m.status).map((s) => (
                        <button key={s} type="button" onClick={() => setChanging({ m, to: s })}>{t(`materials.to.${s}` as MessageKey, { lot: m.lotNumber })}</button>
                      ))}
                    </div></td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div className="side">
          {changing && (
            <ReasonForm title={t(`materials.to.${changing.to}` as MessageKey, { lot: changing.m.lotNumber })} submitLabel={t('common.save')} onCancel={() => setChanging(null)}
              onSubmit={async (reason) => {
                await read(api.PATCH('/api/v1/materials/{id}', { params: { path: { id: changing.m.id } }, body: { status: changing.to, reason } }));
                setChanging(null);
                await load();
              }} />
          )}
          <form onSubmit={register} className="stack card" aria-labelledby="register-lot">
            <h2 id="register-lot">{t('materials.register')}</h2>
            <TextField label={t('materials.type')} {...f('type')} required hint={t('materials.typeHint')} />
            <TextField label={t('materials.name')} {...f('name')} required />
            <TextField label={t('materials.lotNumber')} {...f('lotNumber')} required />
            <TextField label={t('materials.expiresOn')} type="date" {...f('expiresOn')} required />
            <SelectField label={t('materials.status')} {...f('status')} placeholder={t('step.choose')} required
              options={(qa ? ['released', 'quarantined'] : ['quarantined']).map((s) => ({ value: s, label: t(`materials.${s}` as MessageKey) }))} />
            <ProblemMessage error={error} />
            <button type="submit" className="primary">{t('materials.submit')}</button>
          </form>
        </div>
      </div>
    </section>
  );
}
