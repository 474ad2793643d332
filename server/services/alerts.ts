// What GET /alerts shows QA and the administrator: account lockouts (account-review.ts) and clocks that
// went back (a write refused because the server's clock read earlier than a chain's last row), newest
// first. Both are read from the audit trail: no second copy of the facts.
import type { AppContext } from '../context.js';
import { lockoutAlerts } from './account-review.js';

/**
 * 21 CFR 11.10(e); ALCOA consistent: a clock that went back stops every write (503) until it is put
 * right, and the people who must act see it here. Open while the clock still reads earlier than the
 * last recorded time the refused write met.
 */
export async function clockAlerts(ctx: AppContext) {
  const now = ctx.clock.now().toISOString();
  const items = [];
  for await (const row of ctx.store.iterateAudit({ action: 'clock.went-back' })) {
    const before = row.before ? (JSON.parse(row.before) as { lastRecordedAt?: string; chain?: string }) : {};
    const after = row.after ? (JSON.parse(row.after) as { clockReads?: string }) : {};
    items.push({
      id: String(row.seq), kind: 'clock-went-back' as const, at: row.at, userId: null,
      detail: `the server's clock read ${after.clockReads ?? '?'}, earlier than the last row of the ${before.chain ?? '?'} chain (${before.lastRecordedAt ?? '?'}): writes were refused`,
      open: !!before.lastRecordedAt && now < before.lastRecordedAt,
    });
  }
  return items;
}

/** Every alert, newest first. */
export async function listAlerts(ctx: AppContext) {
  return [...await lockoutAlerts(ctx), ...await clockAlerts(ctx)].sort((a, b) => b.at.localeCompare(a.at) || Number(b.id) - Number(a.id));
}
