// Equipment and its calibration: registered by a supervisor or QA; a calibration records the new due date.
import { useState } from 'react';
import { api, read } from '../api/client';
import type { Equipment } from '../api/types';
import { useI18n } from '../app/i18n';
import { useSession } from '../app/session';
import { TextField } from '../ui/fields';
import { ReasonForm } from '../ui/ReasonForm';
import { siteDate } from '../batch/pickers';
import { AdminList, RegisterForm, useRegister, useRegisterForm } from './AdminList';

export function EquipmentPage() {
  const { t } = useI18n();
  const { site } = useSession();
  const today = siteDate(site.now(), site.timeZone);
  const { items, load } = useRegister(async () => (await read(api.GET('/api/v1/equipment', { params: { query: { limit: 500 } } }))).items);
  const register = useRegisterForm({ assetId: '', type: '', name: '', calibrationDueOn: '' },
    (body) => read(api.POST('/api/v1/equipment', { body })), { keep: ['type', 'calibrationDueOn'], then: load });
  const [calibrating, setCalibrating] = useState<Equipment | null>(null);
  const [due, setDue] = useState('');
  const overdue = (x: Equipment) => x.calibrationDueOn < today;

  return (
    <AdminList id="equipment-title" title={t('equipment.title')} items={items}
      columns={[
        { header: t('equipment.assetId'), cell: (x) => x.assetId },
        { header: t('equipment.name'), cell: (x) => x.name },
        { header: t('equipment.type'), cell: (x) => x.type },
        { header: t('equipment.due'), cell: (x) => `${x.calibrationDueOn}${overdue(x) ? ` (${t('equipment.overdue')})` : ''}`, className: (x) => (overdue(x) ? 'overdue' : undefined) },
      ]}
      actions={(x) => <button type="button" onClick={() => { setCalibrating(x); setDue(''); }}>{t('equipment.calibrate', { asset: x.assetId })}</button>}
      side={<>
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
        <RegisterForm id="register-equipment" title={t('equipment.register')} submitLabel={t('equipment.submit')} error={register.error} onSubmit={register.submit}>
          <TextField label={t('equipment.assetId')} {...register.field('assetId')} required />
          <TextField label={t('equipment.type')} {...register.field('type')} required hint={t('materials.typeHint')} />
          <TextField label={t('equipment.name')} {...register.field('name')} required />
          <TextField label={t('equipment.due')} type="date" {...register.field('calibrationDueOn')} required />
        </RegisterForm>
      </>} />
  );
}
