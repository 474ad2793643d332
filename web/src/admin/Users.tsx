// Accounts (admin): create with a temporary password, change roles, deactivate (never delete), reset a
// password, unlock after a lockout — each with a reason (21 CFR 11.10(d), (g); Annex 11 §12).
import { useState } from 'react';
import { api, read } from '../api/client';
import type { Alert, Role, User } from '../api/types';
import { formatTime, useI18n } from '../app/i18n';
import { TextField } from '../ui/fields';
import { ReasonForm } from '../ui/ReasonForm';
import type { MessageKey } from '../i18n/en';
import { AdminList, RegisterForm, useRegister, useRegisterForm } from './AdminList';

const ROLES: Role[] = ['operator', 'supervisor', 'qc', 'qa', 'admin', 'inspector'];
type Action = 'roles' | 'active' | 'password' | 'unlock';

function RoleChoice({ value, onChange, legend }: { value: Role[]; onChange: (r: Role[]) => void; legend: string }) {
  const { t } = useI18n();
  return (
    <fieldset className="roles">
      <legend>{legend}</legend>
      {ROLES.map((r) => (
        <label key={r} className="check">
          <input type="checkbox" checked={value.includes(r)} onChange={(e) => onChange(e.target.checked ? [...value, r] : value.filter((x) => x !== r))} />
          {t(`role.${r}` as MessageKey)}
        </label>
      ))}
    </fieldset>
  );
}

export function Users() {
  const { t, lang } = useI18n();
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const { items: users, load } = useRegister(async () => {
    setAlerts((await read(api.GET('/api/v1/alerts')).catch(() => ({ items: [] }))).items.filter((a) => a.open));
    return (await read(api.GET('/api/v1/users', { params: { query: { limit: 500 } } }))).items;
  });
  const [roles, setRoles] = useState<Role[]>(['operator']);
  const register = useRegisterForm({ username: '', fullName: '', password: '' }, (form) => read(api.POST('/api/v1/users', { body: { ...form, roles } })), { then: load });
  const [acting, setActing] = useState<{ user: User; action: Action } | null>(null);
  const [newRoles, setNewRoles] = useState<Role[]>([]);
  const [tempPassword, setTempPassword] = useState('');

  const act = async (reason: string) => {
    const { user, action } = acting!;
    const path = { params: { path: { id: user.id } } };
    if (action === 'roles') await read(api.PATCH('/api/v1/users/{id}', { ...path, body: { roles: newRoles, reason } }));
    if (action === 'active') await read(api.PATCH('/api/v1/users/{id}', { ...path, body: { active: !user.active, reason } }));
    if (action === 'password') await read(api.POST('/api/v1/users/{id}/password', { ...path, body: { password: tempPassword, reason } }));
    if (action === 'unlock') await read(api.POST('/api/v1/users/{id}/unlock', { ...path, body: { reason } }));
    setActing(null);
    await load();
  };
  const start = (user: User, action: Action) => { setActing({ user, action }); setNewRoles(user.roles); setTempPassword(''); };
  const actionTitle = (a: Action, u: User) => t(a === 'active' ? (u.active ? 'users.deactivate' : 'users.activate') : a === 'roles' ? 'users.changeRoles' : `users.${a}` as MessageKey, { user: u.username });
  const rolesError = register.error?.fieldMessage('roles');

  return (
    <AdminList id="users-title" title={t('users.title')} items={users}
      above={alerts.length > 0 && (
        <div className="card" role="region" aria-label={t('users.alerts')}>
          <h2>{t('users.alerts')}</h2>
          {/* Each alert says what it is: a lockout, a record that failed verification, a clock that went back. */}
          <ul>{alerts.map((a) => <li key={a.id}><span className="badge overdue">{t(`alert.${a.kind}` as MessageKey)}</span> {formatTime(a.at, lang)} · {a.detail}</li>)}</ul>
        </div>
      )}
      columns={[
        { header: t('login.username'), cell: (u) => u.username },
        { header: t('users.fullName'), cell: (u) => u.fullName },
        { header: t('users.roles'), cell: (u) => u.roles.map((r) => t(`role.${r}` as MessageKey)).join(', ') },
        { header: t('materials.status'), cell: (u) => <>
          {!u.active && <span className="badge locked">{t('users.inactive')}</span>}{' '}
          {u.locked && <span className="badge overdue">{t('users.locked')}</span>}{' '}
          {u.mustChangePassword && <span className="badge pending">{t('users.temporary')}</span>}
        </> },
      ]}
      actions={(u) => <>
        {u.locked && <button type="button" onClick={() => start(u, 'unlock')} aria-label={actionTitle('unlock', u)}>{t('users.short.unlock')}</button>}
        <button type="button" onClick={() => start(u, 'roles')} aria-label={actionTitle('roles', u)}>{t('users.short.roles')}</button>
        <button type="button" onClick={() => start(u, 'password')} aria-label={actionTitle('password', u)}>{t('users.short.password')}</button>
        <button type="button" onClick={() => start(u, 'active')} aria-label={actionTitle('active', u)}>{t(u.active ? 'users.short.deactivate' : 'users.short.activate')}</button>
      </>}
      side={<>
        {acting && (
          <ReasonForm key={`${acting.user.id}-${acting.action}`} title={actionTitle(acting.action, acting.user)} submitLabel={t('common.save')} onCancel={() => setActing(null)} onSubmit={act}>
            {acting.action === 'roles' && <RoleChoice legend={t('users.roles')} value={newRoles} onChange={setNewRoles} />}
            {acting.action === 'password' && <TextField label={t('users.tempPassword')} type="password" value={tempPassword} onChange={setTempPassword} required autoComplete="new-password" hint={t('users.passwordRule')} />}
          </ReasonForm>
        )}
        <RegisterForm id="create-user" title={t('users.create')} submitLabel={t('users.submit')} error={register.error} onSubmit={register.submit}>
          <TextField label={t('login.username')} {...register.field('username')} required />
          <TextField label={t('users.fullName')} {...register.field('fullName')} required />
          <RoleChoice legend={t('users.roles')} value={roles} onChange={setRoles} />
          {rolesError && <p className="error" role="alert">{rolesError}</p>}
          <TextField label={t('users.tempPassword')} type="password" {...register.field('password')} required autoComplete="new-password" hint={t('users.passwordRule')} />
        </RegisterForm>
      </>} />
  );
}
