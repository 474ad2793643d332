// A small router over the History API: the server answers index.html for every page path, so a
// reload or a bookmark of /batches/… opens the same page.
import { useSyncExternalStore } from 'react';

const listeners = new Set<() => void>();
const subscribe = (l: () => void) => {
  listeners.add(l);
  window.addEventListener('popstate', l);
  return () => { listeners.delete(l); window.removeEventListener('popstate', l); };
};

export function navigate(path: string) {
  if (path === location.pathname + location.search) return;
  history.pushState(null, '', path);
  listeners.forEach((l) => l());
  window.scrollTo(0, 0);
}

export const usePath = () => useSyncExternalStore(subscribe, () => location.pathname);

/** `match('/batches/:id', path)` → {id} or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split('/'), s = path.split('/');
  if (p.length !== s.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(':')) params[p[i].slice(1)] = decodeURIComponent(s[i]);
    else if (p[i] !== s[i]) return null;
  }
  return params;
}
