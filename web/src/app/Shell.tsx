// The logged-in frame: navigation by role, language, who is logged in; then the page for the path.
import type { ReactNode } from 'react';
import { useI18n } from './i18n';
import { hasRole, useSession } from './session';
import { match, usePath } from './router';
import { Link } from '../ui/Link';
import { LanguageSwitch } from '../ui/LanguageSwitch';
import { WorkList } from '../batch/WorkList';
import { BatchPage } from '../batch/BatchPage';
import { NewBatch } from '../batch/NewBatch';
import { ReviewQueue } from '../review/ReviewQueue';
import { ReviewPage } from '../review/ReviewPage';
import { Materials } from '../admin/Materials';
import { EquipmentPage } from '../admin/EquipmentPage';
import { Users } from '../admin/Users';
import { TrainingClock } from '../admin/TrainingClock';
import type { MessageKey } from '../i18n/en';
import type { Role } from '../api/types';

const NAV: { to: string; label: MessageKey; roles: Role[]; training?: boolean }[] = [
  { to: '/', label: 'nav.work', roles: ['operator', 'supervisor', 'qc'] },
  { to: '/review', label: 'nav.review', roles: ['qa', 'inspector'] },
  { to: '/admin/materials', label: 'nav.materials', roles: ['supervisor', 'qa'] },
  { to: '/admin/equipment', label: 'nav.equipment', roles: ['supervisor', 'qa'] },
  { to: '/admin/users', label: 'nav.users', roles: ['admin'] },
  { to: '/admin/training', label: 'nav.training', roles: ['admin', 'supervisor'], training: true },
];

function page(path: string, home: ReactNode): ReactNode {
  let m;
  if (path === '/') return home;
  if (path === '/batches/new') return <NewBatch />;
  if ((m = match('/batches/:id', path))) return <BatchPage key={m.id} id={m.id} />;
  if (path === '/review') return <ReviewQueue />;
  if ((m = match('/review/:id', path))) return <ReviewPage key={m.id} id={m.id} />;
  if (path === '/admin/materials') return <Materials />;
  if (path === '/admin/equipment') return <EquipmentPage />;
  if (path === '/admin/users') return <Users />;
  if (path === '/admin/training') return <TrainingClock />;
  return null;
}

export function Shell() {
  const { t } = useI18n();
  const { user, logout, site } = useSession();
  const path = usePath();
  const links = NAV.filter((n) => hasRole(user, ...n.roles) && (!n.training || site.training));
  const home = hasRole(user, 'operator', 'supervisor', 'qc') ? <WorkList />
    : hasRole(user, 'qa', 'inspector') ? <ReviewQueue />
    : hasRole(user, 'admin') ? <Users /> : null;
  const content = page(path, home) ?? <p>{t('nav.notFound')}</p>;
  return (
    <>
      <header className="top">
        <Link to="/" className="brand">cellbatch</Link>
        <nav aria-label={t('nav.main')}>
          {links.map((n) => <Link key={n.to} to={n.to} current={path === n.to}>{t(n.label)}</Link>)}
        </nav>
        <div className="row">
          <LanguageSwitch />
          <span className="who">{user.fullName} ({user.username})</span>
          <button type="button" onClick={() => void logout()}>{t('nav.logout')}</button>
        </div>
      </header>
      <main>{content}</main>
    </>
  );
}
