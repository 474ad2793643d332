// Reading again what someone else may have changed: every `ms` while the page is visible, and at once
// when the terminal comes back into view (a technician returning to the bench). A hidden tab asks
// nothing. The interval is a trade: a 500-entry batch costs the server ~0.3 s to replay, so the batch
// page asks every 20 s, not every second (docs/ui.md "Auto-refresh").
import { useEffect, useRef } from 'react';

export const BATCH_REFRESH_MS = 20_000;
export const LIST_REFRESH_MS = 30_000;

export function usePolling(read: () => void | Promise<void>, ms: number) {
  const latest = useRef(read);
  latest.current = read;
  useEffect(() => {
    const tick = () => { if (document.visibilityState === 'visible') void Promise.resolve(latest.current()).catch(() => {}); };
    const timer = setInterval(tick, ms);
    document.addEventListener('visibilitychange', tick);
    return () => { clearInterval(timer); document.removeEventListener('visibilitychange', tick); };
  }, [ms]);
}
