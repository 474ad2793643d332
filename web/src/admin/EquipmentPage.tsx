// Equipment and its calibration: registered by a supervisor or QA; a calibration records the new due date.
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, read } from '../api/client';
import type { Equipment } from '../api/types';
import { useI18n } from '../app/i18n';
import { useSession } from '../app/session';
import { TextField } from '../ui/fields';
import { ProblemMessage } from '../ui/ProblemMessage';
import { ReasonForm } from '../ui/ReasonForm';

export function EquipmentPage() {
  const { t } = useI18n();
  const { site } = useSession();
  const [items, setItems] = useState<Equipment[]>([]);
  const [form, setForm] = useState({ assetId: '', type: '', name: '', calibrationDueOn: '' });
  const [error, setError] = useState<ApiError | null>(null);
  const [calibrating, setCalibrating] = useState<Equipment | null>(null);
  const [due, setDue] = useState('');
  const today = new Date(site.now()).toISOString().slice(0, 10);

  const load = useCallback(async () => setItems((await read(api.GET('/api/v1/equipment', { params: { query: { limit: 500 } } }))).items), []);
  useEffect(() => { void load(); }, [load]);

  const register = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await read(api.POST('/api/v1/equipment', { body: form }));
      setForm({ ...form, assetId: '', name: '' });
      setError(null);
      await load();
    } catch (err) {
      if (err instanceof ApiError) setError(err);
    }
  };
  const f = (k: keyof typeof form) => ({ value: form[k], onChange: (v: string) => setForm({ ...form, [k]: v }), error: error?.fieldMessage(k) });

  return (
    <section aria-labelledby="equipment-title">
      <h1 id="equipment-title">{t('equipment.title')}</h1>
      <div className="columns wide-left">
        <div className="card">
          <table>
            <thead><tr><th>{t('equipment.assetId')}</th><th>{t('equipment.name')}</th><th>{t('equipment.type')}</th><th>{t('equipment.due')}</th><th>{t('common.actions')}</th></tr></thead>
            <tbody>
              {items.map((x) => (
                <tr key={x.id}>
                  <td>{x.assetId}</td><td>{x.name}</td><td>{x.type}</td>
                  <td className={x.calibrationDueOn < today ? 'overdue' : undefined}>{x.calibrationDueOn}{x.calibrationDueOn < today ? ` (${t('equipment.overdue')})` : ''}</td>
                  <td><button type="button" onClick={() => { setCalibrating(x); setDue(''); }}>{t('equipment.calibrate', { asset: x.assetId })}</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div className="side">
          {calibrating && (
            <ReasonForm title={t('equipment.calibrate', { asset: calibrating.assetId })} submitLabel={t('common.save')} onCancel={() => setCalibrating(null)}
              onSubmit={async (reason) => {
                await read(api.PATCH('/api/v1/equipment/{id}', { params: { path: { id: calibrating.id } }, body: { calibrationDueOn: due, reason } }));
                setCalibrating(null);
                await load();
              }}>
              <TextField label={t('equipment.newDue')} type="date" value={due} onChange={setDue} required />
            </ReasonForm>
          )}
          <form onSubmit={register} className="stack card" aria-labelledby="register-equipment">
            <h2 id="register-equipment">{t('equipment.register')}</h2>
            <TextField label={t('equipment.assetId')} {...f('assetId')} required />
            <TextField label={t('equipment.type')} {...f('type')} required hint={t('materials.typeHint')} />
            <TextField label={t('equipment.name')} {...f('name')} required />
            <TextField label={t('equipment.due')} type="date" {...f('calibrationDueOn')} required />
            <ProblemMessage error={error} />
            <button type="submit" className="primary">{t('equipment.submit')}</button>
          </form>
        </div>
      </div>
    </section>
  );
}
