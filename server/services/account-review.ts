// What administrators and QA review about accounts: lockout alerts, and the periodic review of users,
// roles, last logins, privilege changes and lockouts in a period (EU GMP Annex 11 §11, 21 CFR 11.300).
// Both are read from the audit trail and the users table: no second copy of the facts.
import type { AppContext } from '../context.js';
import type { AuditRow } from '../store/store.js';
import { userView } from './accounts.js';

const parse = (s: string | null) => (s === null ? undefined : (JSON.parse(s) as unknown));
const PRIVILEGE_ACTIONS = ['user.created', 'user.updated', 'password.reset', 'account.unlocked'];

/**
 * Lockouts, newest first. A lockout is open while the account is still locked by it: no unlock
 * followed it. An alert closed by an unlock stays closed when the account is locked again.
 */
export async function lockoutAlerts(ctx: AppContext) {
  const lastUnlock = new Map<string, number>();
  for await (const row of ctx.store.iterateAudit({ action: 'account.unlocked' })) if (row.entityId) lastUnlock.set(row.entityId, row.seq);
  const items = [];
  for await (const row of ctx.store.iterateAudit({ action: 'account.locked' })) {
    const user = row.entityId ? await ctx.store.findUserById(row.entityId) : undefined;
    const open = !!user?.locked && row.seq > (lastUnlock.get(user.id) ?? 0);
    items.push({
      id: String(row.seq), kind: 'account-locked' as const, at: row.at, userId: row.entityId, username: user?.username,
      detail: `${user?.username ?? row.entityId} was locked: ${row.reason ?? 'repeated failures'}`, open,
    });
  }
  return items.reverse();
}

export async function periodicReview(ctx: AppContext, from: string, to: string) {
  const rows = async (action: string) => {
    const found: AuditRow[] = [];
    for await (const r of ctx.store.iterateAudit({ from, to, action })) found.push(r);
    return found;
  };
  const view = (r: AuditRow) => ({ seq: r.seq, at: r.at, by: r.userId, action: r.action, userId: r.entityId, before: parse(r.before), after: parse(r.after), reason: r.reason });
  const failed = new Map<string, number>();
  for (const r of await rows('login.failed')) if (r.entityId) failed.set(r.entityId, (failed.get(r.entityId) ?? 0) + 1);
  const users = [];
  let cursor: string | undefined;
  do {
    const page = await ctx.store.listUsers(500, cursor);
    for (const u of page.items) {
      users.push({ ...userView(u), createdAt: u.createdAt, passwordChangedAt: u.passwordChangedAt, failedLoginsInPeriod: failed.get(u.id) ?? 0 });
    }
    cursor = page.nextCursor;
  } while (cursor);
  return {
    period: { from, to },
    generatedAt: ctx.clock.now().toISOString(),
    users,
    privilegeChanges: (await Promise.all(PRIVILEGE_ACTIONS.map(rows))).flat().sort((a, b) => a.seq - b.seq).map(view),
    lockouts: (await rows('account.locked')).map(view),
    unlocks: (await rows('account.unlocked')).map(view),
  };
}
