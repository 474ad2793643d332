import type { MouseEvent, ReactNode } from 'react';
import { navigate } from '../app/router';

/** An ordinary link (keyboard, middle click, copy address) that changes page without a reload. */
export function Link({ to, children, className, current }: { to: string; children: ReactNode; className?: string; current?: boolean }) {
  const go = (e: MouseEvent) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={go} className={className} aria-current={current ? 'page' : undefined}>{children}</a>;
}
