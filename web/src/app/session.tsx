// Who is logged in at this terminal and what the site is (training or not, the process clock).
import { createContext, useContext } from 'react';
import type { Role, User } from '../api/types';

export interface SiteState {
  training: boolean;
  /** The site's time zone: expiry and calibration dates are last valid days there. */
  timeZone: string;
  /** The process clock's now as the terminal reckons it (server's now + time since it was read). */
  now: () => number;
  refresh: () => Promise<void>;
}

export interface SessionState {
  user: User;
  logout: () => Promise<void>;
  site: SiteState;
}

export const SessionContext = createContext<SessionState | null>(null);

export function useSession(): SessionState {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a session');
  return s;
}

export const hasRole = (user: User, ...roles: Role[]) => user.roles.some((r) => roles.includes(r));
