// Material lots: registered by a supervisor (quarantined) or QA; QA releases, quarantines or rejects
// them with a reason (21 CFR 211.84: production does not release its own materials).
import { useState } from 'react';
import { api, read } from '../api/client';
import type { Material } from '../api/types';
import { useI18n } from '../app/i18n';
import { hasRole, useSession } from '../app/session';
import { SelectField, TextField } from '../ui/fields';
import { ReasonForm } from '../ui/ReasonForm';
import type { MessageKey } from '../i18n/en';
import { siteDate } from '../batch/pickers';
import { AdminList, RegisterForm, useRegister, useRegisterForm } from './AdminList';

type Status = Material['status'];

export function Materials() {
  const { t } = useI18n();
  const { user, site } = useSession();
  const qa = hasRole(user, 'qa');
  const today = siteDate(site.now(), site.timeZone);
  const { items, load } = useRegister(async () => (await read(api.GET('/api/v1/materials', { params: { query: { limit: 500 } } }))).items);
  const register = useRegisterForm({ type: '', name: '', lotNumber: '', expiresOn: '', status: qa ? 'released' : 'quarantined' },
    (form) => read(api.POST('/api/v1/materials', { body: { ...form, status: form.status as 'released' | 'quarantined' } })),
    { keep: ['type', 'expiresOn', 'status'], then: load });
  const [changing, setChanging] = useState<{ m: Material; to: Status } | null>(null);
  const expired = (m: Material) => m.expiresOn < today;

  return (
    <AdminList id="materials-title" title={t('materials.title')} items={items}
      columns={[
        { header: t('materials.lotNumber'), cell: (m) => m.lotNumber },
        { header: t('materials.name'), cell: (m) => m.name },
        { header: t('materials.type'), cell: (m) => m.type },
        { header: t('materials.expiresOn'), cell: (m) => `${m.expiresOn}${expired(m) ? ` (${t('materials.expired')})` : ''}`, className: (m) => (expired(m) ? 'overdue' : undefined) },
        { header: t('materials.status'), cell: (m) => <span className={`badge ${m.status === 'released' ? 'done' : 'pending'}`}>{t(`materials.${m.status}` as MessageKey)}</span> },
      ]}
      actions={qa ? (m) => (['released', 'quarantined', 'rejected'] as Status[]).filter((s) => s !== m.status).map((s) => (
        <button key={s} type="button" onClick={() => setChanging({ m, to: s })}>{t(`materials.to.${s}` as MessageKey, { lot: m.lotNumber })}</button>
      )) : undefined}
      side={<>
        {changing && (
          <ReasonForm title={t(`materials.to.${changing.to}` as MessageKey, { lot: changing.m.lotNumber })} submitLabel={t('common.save')} onCancel={() => setChanging(null)}
            onSubmit={async (reason) => {
              await read(api.PATCH('/api/v1/materials/{id}', { params: { path: { id: changing.m.id } }, body: { status: changing.to, reason } }));
              setChanging(null);
              await load();
            }} />
        )}
        <RegisterForm id="register-lot" title={t('materials.register')} submitLabel={t('materials.submit')} error={register.error} onSubmit={register.submit}>
          <TextField label={t('materials.type')} {...register.field('type')} required hint={t('materials.typeHint')} />
          <TextField label={t('materials.name')} {...register.field('name')} required />
          <TextField label={t('materials.lotNumber')} {...register.field('lotNumber')} required />
          <TextField label={t('materials.expiresOn')} type="date" {...register.field('expiresOn')} required />
          <SelectField label={t('materials.status')} {...register.field('status')} placeholder={t('step.choose')} required
            options={(qa ? ['released', 'quarantined'] : ['quarantined']).map((s) => ({ value: s, label: t(`materials.${s}` as MessageKey) }))} />
        </RegisterForm>
      </>} />
  );
}
