// Accounts (admin): create with a temporary password, change roles, deactivate (never delete), reset a
// password, unlock after a lockout — each with a reason (21 CFR 11.10(d), (g); Annex 11 §12).
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, read } from '../api/client';
import type { Role, User } from '../api/types';
import { formatTime, useI18n } from '../app/i18n';
import { TextField } from '../ui/fields';
import { ProblemMessage } from '../ui/ProblemMessage';
import { ReasonForm } from '../ui/ReasonForm';
import type { MessageKey } from '../i18n/en';

const ROLES: Role[] = ['operator', 'supervisor', 'qc', 'qa', 'admin', 'inspector'];
type Action = 'roles' | 'active' | 'password' | 'unlock';
interface Alert { id: string; at: string; username?: string; detail: string; open: boolean }

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
  const [users, setUsers] = useState<User[]>([]);
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const [form, setForm] = useState({ username: '', fullName: '', password: '' });
  const [roles, setRoles] = useState<Role[]>(['operator']);
  const [error, setError] = useState<ApiError | null>(null);
  const [acting, setActing] = useState<{ user: User; action: Action } | null>(null);
  const [newRoles, setNewRoles] = useState<Role[]>([]);
  const [tempPassword, setTempPassword] = useState('');

  const load = useCallback(async () => {
    setUsers((await read(api.GET('/api/v1/users', { params: { query: { limit: 500 } } }))).items);
    setAlerts((await read(api.GET('/api/v1/alerts')).catch(() => ({ items: [] }))).items.filter((a) => a.open));
  }, []);
  useEffect(() => { void load(); }, [load]);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await read(api.POST('/api/v1/users', { body: { ...form, roles } }));
      setForm({ username: '', fullName: '', password: '' });
      setError(null);
      await load();
    } catch (err) {
      if (err instanceof ApiError) setError(err);
    }
  };

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

  return (
    <section aria-labelledby="users-title">
      <h1 id="users-title">{t('users.title')}</h1>
      {alerts.length > 0 && (
        <div className="card" role="region" aria-label={t('users.alerts')}>
          <h2>{t('users.alerts')}</h2>
          <ul>{alerts.map((a) => <li key={a.id}><span className="badge overdue">{t('users.locked')}</span> {formatTime(a.at, lang)} · {a.detail}</li>)}</ul>
        </div>
      )}
      <div className="columns wide-left">
        <div className="card">
          <table>
            <thead><tr><th>{t('login.username')}</th><th>{t('users.fullName')}</th><th>{t('users.roles')}</th><th>{t('materials.status')}</th><th>{t('common.actions')}</th></tr></thead>
            <tbody>
              {users.map((u) => (
                <tr key={u.id}>
                  <td>{u.username}</td><td>{u.fullName}</td>
                  <td>{u.roles.map((r) => t(`role.${r}` as MessageKey)).join(', ')}</td>
                  <td>
                    {!u.active && <span className="badge locked">{t('users.inactive')}</span>}{' '}
                    {u.locked && <span className="badge overdue">{t('users.locked')}</span>}{' '}
                    {u.mustChangePassword && <span className="badge pending">{t('users.temporary')}</span>}
                  </td>
                  <td><div className="row">
                    {u.locked && <button type="button" onClick={() => start(u, 'unlock')} aria-label={actionTitle('unlock', u)}>{t('users.short.unlock')}</button>}
                    <button type="button" onClick={() => start(u, 'roles')} aria-label={actionTitle('roles', u)}>{t('users.short.roles')}</button>
                    <button type="button" onClick={() => start(u, 'password')} aria-label={actionTitle('password', u)}>{t('users.short.password')}</button>
                    <button type="button" onClick={() => start(u, 'active')} aria-label={actionTitle('active', u)}>{t(u.active ? 'users.short.deactivate' : 'users.short.activate')}</button>
                  </div></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div className="side">
          {acting && (
            <ReasonForm key={`${acting.user.id}-${acting.action}`} title={actionTitle(acting.action, acting.user)} submitLabel={t('common.save')} onCancel={() => setActing(null)} onSubmit={act}>
              {acting.action === 'roles' && <RoleChoice legend={t('users.roles')} value={newRoles} onChange={setNewRoles} />}
              {acting.action === 'password' && <TextField label={t('users.tempPassword')} type="password" value={tempPassword} onChange={setTempPassword} required autoComplete="new-password" hint={t('users.passwordRule')} />}
            </ReasonForm>
          )}
          <form onSubmit={create} className="stack card" aria-labelledby="create-user">
            <h2 id="create-user">{t('users.create')}</h2>
            <TextField label={t('login.username')} value={form.username} onChange={(v) => setForm({ ...form, username: v })} required error={error?.fieldMessage('username')} />
            <TextField label={t('users.fullName')} value={form.fullName} onChange={(v) => setForm({ ...form, fullName: v })} required error={error?.fieldMessage('fullName')} />
            <RoleChoice legend={t('users.roles')} value={roles} onChange={setRoles} />
            {error?.fieldMessage('roles') && <p className="error" role="alert">{error.fieldMessage('roles')}</p>}
            <TextField label={t('users.tempPassword')} type="password" value={form.password} onChange={(v) => setForm({ ...form, password: v })} required autoComplete="new-password"
              hint={t('users.passwordRule')} error={error?.fieldMessage('password')} />
            <ProblemMessage error={error} />
            <button type="submit" className="primary">{t('users.submit')}</button>
          </form>
        </div>
      </div>
    </section>
  );
}
