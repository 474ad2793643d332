// Break-glass account recovery from the server's console (issue 10): when every administrator is locked
// out or has forgotten the password, whoever holds the server (the OS account that can open the
// database) unlocks an account or sets a temporary password. Both are audited like the API's own unlock
// and reset (21 CFR 11.10(e)), with no user id (nobody is logged in) and the OS user and a reason as the
// actor context. Run with the server stopped or running: SQLite serialises the writes.
import { randomBytes } from 'node:crypto';
import { SystemClock } from '../clock.js';
import { hashPassword } from '../auth/passwords.js';
import type { Store, UserRow } from '../store/store.js';
import { writeAudit } from './audit.js';

export class BreakGlassError extends Error {}

const by = (osUser: string) => ({ by: osUser, via: 'cli' as const });

async function target(store: Store, username: string, reason: string): Promise<UserRow> {
  if (!reason.trim()) throw new BreakGlassError('a --reason is required: it goes into the audit trail');
  const user = await store.findUserByUsername(username);
  if (!user) throw new BreakGlassError(`no user ${username}`);
  return user;
}

/** Unlocks an account (and zeroes its failure count). Returns false when it was not locked. */
export async function unlockFromConsole(store: Store, username: string, reason: string, osUser: string): Promise<boolean> {
  const clock = new SystemClock();
  return store.transaction(async () => {
    const user = await target(store, username, reason);
    if (!user.locked && user.failedAttempts === 0) return false;
    await store.updateUser(user.id, { locked: false, failedAttempts: 0 });
    await writeAudit(store, clock, {
      userId: null, action: 'account.unlocked', entity: 'user', entityId: user.id,
      before: { locked: user.locked }, after: { locked: false, ...by(osUser) }, reason,
    });
    return true;
  });
}

/**
 * Sets a generated temporary password (returned once, to be printed; it must be changed at the next
 * login, 21 CFR 11.300), ends the account's sessions and lifts a lock: the usual reason to come to the
 * console is an administrator who is locked out.
 */
export async function resetPasswordFromConsole(store: Store, username: string, reason: string, osUser: string): Promise<string> {
  await target(store, username, reason);
  const password = `Tmp-${randomBytes(12).toString('base64url')}`;
  const passwordHash = await hashPassword(password);
  const clock = new SystemClock();
  await store.transaction(async () => {
    const user = await target(store, username, reason);
    const now = clock.wall().toISOString();
    await store.updateUser(user.id, { passwordHash, mustChangePassword: true, passwordChangedAt: now, failedAttempts: 0, locked: false });
    await store.addPasswordHistory(user.id, passwordHash, now);
    await store.revokeSessionsOf(user.id, now);
    await writeAudit(store, clock, { userId: null, action: 'password.reset', entity: 'user', entityId: user.id, after: { mustChangePassword: true, ...by(osUser) }, reason });
    if (user.locked) {
      await writeAudit(store, clock, { userId: null, action: 'account.unlocked', entity: 'user', entityId: user.id, before: { locked: true }, after: { locked: false, ...by(osUser) }, reason });
    }
  });
  return password;
}
