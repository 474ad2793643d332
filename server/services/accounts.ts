// Accounts, logins, sessions and signature re-authentication (21 CFR 11.100, 11.200, 11.300).
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { AppContext } from '../context.js';
import { AppError, alreadyAudited, conflict, badRequest, forbidden, locked, notFound, unauthorized } from '../errors.js';
import { checkPassword, dummyHash, hashPassword, passwordProblem } from '../auth/passwords.js';
import { passwordChecked } from '../auth/password-slot.js';
import type { UserRow } from '../store/store.js';
import { storable } from '../store/chain.js';
import { writeAudit } from './audit.js';
import { assertMay } from '../permissions.js';
import { ADMIN_COMBINATION_PROBLEM, adminCombinesWithSigning, type Role } from '../../workflows/definition.js';

export const LOCKOUT_AFTER = 5;
const TOUCH_EVERY_MS = 60_000;

export interface UserView { id: string; username: string; fullName: string; roles: Role[]; active: boolean; mustChangePassword: boolean; locked: boolean; lastLoginAt?: string }

export const userView = (u: UserRow): UserView => ({
  id: u.id, username: u.username, fullName: u.fullName, roles: u.roles as Role[], active: u.active,
  mustChangePassword: u.mustChangePassword, locked: u.locked, ...(u.lastLoginAt && { lastLoginAt: u.lastLoginAt }),
});

const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * `passwordHash`: an argon2id hash of `body.password` made beforehand by hashPassword (the test harness
 * hashes its users' passwords once per run, not once per test); it is not checked against the password.
 */
export async function createUser(ctx: AppContext, actor: UserRow | null, body: { username: string; fullName: string; roles: Role[]; password: string }, temporary = true, passwordHash?: string) {
  // 21 CFR 11.10(g): also for accounts made outside HTTP (first start, CLI, demo).
  if (adminCombinesWithSigning(body.roles)) throw badRequest('The roles combine admin with a signing role', [{ field: 'roles', message: ADMIN_COMBINATION_PROBLEM }]);
  const problem = passwordProblem(body.password, body.username);
  if (problem) throw badRequest('The password does not meet the password policy', [{ field: 'password', message: problem }]);
  // 21 CFR 11.100: a username is never reused, deactivated accounts included.
  if (await ctx.store.findUserByUsername(body.username)) throw conflict('username-taken', `username ${body.username} is already taken (usernames are never reused)`)
      .inVietnamese(`tên đăng nhập ${body.username} đã có người dùng (tên đăng nhập không bao giờ được dùng lại)`);
  passwordHash ??= await hashPassword(body.password);
  const now = ctx.clock.wall().toISOString();
  const row = {
    // The printed name as the database stores it (a lone surrogate becomes U+FFFD), as the audit row records it.
    id: randomUUID(), username: body.username, usernameKey: body.username.toLowerCase(), fullName: storable(body.fullName),
    roles: [...new Set(body.roles)], passwordHash, active: true, mustChangePassword: temporary, failedAttempts: 0,
    locked: false, passwordChangedAt: now, createdAt: now, lastLoginAt: null,
  };
  return ctx.store.transaction(async () => {
    if (await ctx.store.findUserByUsername(body.username)) throw conflict('username-taken', `username ${body.username} is already taken`)
        .inVietnamese(`tên đăng nhập ${body.username} đã có người dùng`);
    await ctx.store.insertUser(row);
    await ctx.store.addPasswordHistory(row.id, passwordHash, now);
    await writeAudit(ctx.store, ctx.clock, {
      userId: actor?.id ?? null, action: 'user.created', entity: 'user', entityId: row.id,
      after: { username: row.username, fullName: row.fullName, roles: row.roles, mustChangePassword: temporary },
    });
    return userView((await ctx.store.findUserById(row.id))!);
  });
}

/**
 * A failed password (login or signature) counts toward lockout; the fifth in a row locks (11.300(d)).
 * Runs inside the transaction that re-read the row, so exactly one failure is the fifth: one
 * `account.locked` row, and the account's sessions end with the lock.
 */
async function recordFailure(ctx: AppContext, user: UserRow | undefined, username: string, action: 'login.failed' | 'signature.failed', batchId?: string) {
  await writeAudit(ctx.store, ctx.clock, { userId: user?.id ?? null, action, entity: 'user', entityId: user?.id ?? null, batchId, after: { username } });
  if (!user) return;
  const failedAttempts = user.failedAttempts + 1;
  const lockNow = failedAttempts >= LOCKOUT_AFTER;
  await ctx.store.updateUser(user.id, { failedAttempts, ...(lockNow && { locked: true }) });
  if (lockNow) {
    await ctx.store.revokeSessionsOf(user.id, ctx.clock.wall().toISOString());
    await writeAudit(ctx.store, ctx.clock, {
      userId: user.id, action: 'account.locked', entity: 'user', entityId: user.id,
      before: { locked: false }, after: { locked: true }, reason: `${LOCKOUT_AFTER} consecutive failed logins or signatures`,
    });
  }
}

const lockedProblem = (user: UserRow) => locked(`the account ${user.username} is locked after repeated failures; an administrator must unlock it`);

/**
 * Checks a username and password for a login or a signature, counting failures toward lockout.
 * Serialised per username (server/app.ts perUserQueue, server/auth/bounded-pool.ts), and the outcome is decided inside one write
 * transaction on the row as it is after the argon2 check: a lock (or a password reset, or a
 * deactivation) that landed meanwhile wins. `onSuccess` runs in that same transaction (a login's
 * session is created there, so no session can start on an account that is locked by then).
 */
async function authenticate<T = void>(
  ctx: AppContext, username: string, password: string, action: 'login.failed' | 'signature.failed',
  { batchId, onSuccess, morePasswordWork = false }: { batchId?: string; onSuccess?: (user: UserRow) => Promise<T>; morePasswordWork?: boolean } = {},
): Promise<{ user: UserRow; result: T }> {
  return ctx.credentialQueue.run(username.toLowerCase(), async () => {
    const what = action === 'login.failed' ? 'login' : 'signature';
    const seen = await ctx.store.findUserByUsername(username);
    const refuseLocked = async (user: UserRow) => {
      await writeAudit(ctx.store, ctx.clock, { userId: user.id, action, entity: 'user', entityId: user.id, batchId, reason: 'account locked' });
    };
    if (seen?.locked) {
      await ctx.store.transaction(() => refuseLocked(seen));
      throw alreadyAudited(lockedProblem(seen));
    }
    // An unknown username costs one argon2 verification too: no timing difference tells it apart.
    const ok = seen ? await checkPassword(seen.passwordHash, password) : (await checkPassword(await dummyHash(), password), false);
    // The request's address slot bounds its password work, not the transaction and the write after it.
    if (!morePasswordWork) passwordChecked();
    const outcome = await ctx.store.transaction(async (): Promise<{ user: UserRow; result: T } | 'locked' | 'failed'> => {
      const user = seen && await ctx.store.findUserById(seen.id);
      if (user?.locked) {
        await refuseLocked(user);
        return 'locked';
      }
      if (!user || !ok || !user.active || user.passwordHash !== seen!.passwordHash) {
        await recordFailure(ctx, user?.active ? user : undefined, username, action, batchId);
        return 'failed';
      }
      // Read again only if this transaction changed it: the row read above is current otherwise.
      if (user.failedAttempts > 0) await ctx.store.updateUser(user.id, { failedAttempts: 0 });
      const fresh = user.failedAttempts > 0 ? (await ctx.store.findUserById(user.id))! : user;
      return { user: fresh, result: onSuccess ? await onSuccess(fresh) : (undefined as T) };
    });
    if (outcome === 'locked') throw alreadyAudited(lockedProblem(seen!));
    if (outcome === 'failed') {
      // The failure that locked the account is answered 401 like the others; the next attempt is 423.
      throw alreadyAudited(unauthorized(`${what} refused: the username or password is wrong, or the account is deactivated`));
    }
    return outcome;
  });
}

export async function login(ctx: AppContext, username: string, password: string) {
  const token = randomBytes(32).toString('base64url');
  const { user } = await authenticate(ctx, username, password, 'login.failed', { onSuccess: (user) => openSession(ctx, user, token) });
  const fresh = withEffectivePasswordState(ctx, (await ctx.store.findUserById(user.id))!);
  return { token, user: userView(fresh), mustChangePassword: fresh.mustChangePassword };
}

/**
 * The session a login opens for `token`, with its audit row (21 CFR 11.10(e)), inside the transaction
 * that checked the password. The test harness opens its users' sessions here too, without the argon2
 * check (it knows their passwords; the logins themselves are tested through POST /auth/login).
 */
export async function openSession(ctx: AppContext, user: UserRow, token: string) {
  const now = ctx.clock.wall().toISOString();
  await ctx.store.insertSession({ tokenHash: tokenHash(token), userId: user.id, createdAt: now, lastSeenAt: now, revokedAt: null });
  await ctx.store.updateUser(user.id, { lastLoginAt: now });
  await writeAudit(ctx.store, ctx.clock, { userId: user.id, action: 'login', entity: 'session', entityId: user.id });
}

/**
 * The user behind a bearer token; 401 for unknown, revoked, idle or too old sessions and deactivated
 * users (R5), 423 while the account is locked (its sessions were revoked with the lock; the holder of
 * one is told why).
 */
export async function sessionUser(ctx: AppContext, token: string): Promise<UserRow> {
  const hash = tokenHash(token);
  const session = await ctx.store.findSession(hash);
  if (!session) throw unauthorized('the session is not valid; log in again');
  const user = await ctx.store.findUserById(session.userId);
  if (user?.locked && user.active) throw lockedProblem(user);
  if (session.revokedAt) throw unauthorized('the session is not valid; log in again');
  const now = ctx.clock.wall();
  const idle = now.getTime() - Date.parse(session.lastSeenAt) > ctx.config.idleTimeoutMinutes * 60_000;
  // An absolute lifetime as well as the idle one: a stolen token is not good forever by being used.
  const tooOld = now.getTime() - Date.parse(session.createdAt) > ctx.config.sessionMaxHours * 3_600_000;
  if (idle || tooOld) {
    await ctx.store.transaction(async () => {
      await ctx.store.revokeSession(hash, now.toISOString());
      await writeAudit(ctx.store, ctx.clock, { userId: session.userId, action: 'session.expired', entity: 'session', entityId: session.userId, ...(tooOld && !idle && { reason: 'absolute session lifetime' }) });
    });
    throw unauthorized(idle
      ? `the session ended after ${ctx.config.idleTimeoutMinutes} minutes without activity; log in again`
      : `the session ended after ${ctx.config.sessionMaxHours} hours (the longest a session lasts); log in again`);
  }
  if (!user || !user.active) throw unauthorized('the account is deactivated');
  // The idle clock needs minute precision, not a write (and its fsync) on every request.
  if (now.getTime() - Date.parse(session.lastSeenAt) >= TOUCH_EVERY_MS) await ctx.store.touchSession(hash, now.toISOString());
  return withEffectivePasswordState(ctx, user);
}

/** 21 CFR 11.300(b): an expired password must be changed like a temporary one. */
export function passwordExpired(ctx: AppContext, user: UserRow): boolean {
  const days = ctx.config.passwordMaxAgeDays;
  return days > 0 && ctx.clock.wall().getTime() - Date.parse(user.passwordChangedAt) > days * 86_400_000;
}

/** The user as the rules see them: `mustChangePassword` also when the password has expired. */
export function withEffectivePasswordState(ctx: AppContext, user: UserRow): UserRow {
  return user.mustChangePassword || !passwordExpired(ctx, user) ? user : { ...user, mustChangePassword: true };
}

export const PASSWORD_HISTORY = 5;

/** A new password must differ from the last five (21 CFR 11.300(b)); returns the problem or null. */
async function reusedPassword(ctx: AppContext, userId: string, password: string): Promise<string | null> {
  for (const old of await ctx.store.recentPasswordHashes(userId, PASSWORD_HISTORY)) {
    if (await checkPassword(old, password)) return `the password must differ from the last ${PASSWORD_HISTORY} passwords`;
  }
  return null;
}

export async function logout(ctx: AppContext, token: string, user: UserRow) {
  await ctx.store.transaction(async () => {
    await ctx.store.revokeSession(tokenHash(token), ctx.clock.wall().toISOString());
    await writeAudit(ctx.store, ctx.clock, { userId: user.id, action: 'logout', entity: 'session', entityId: user.id });
  });
}

/**
 * The current session stays valid (API.md); every other session of the user ends: whoever changes a
 * password because it may be known to someone else must not leave that someone logged in.
 */
export async function changePassword(ctx: AppContext, user: UserRow, currentPassword: string, newPassword: string, currentToken?: string) {
  await authenticate(ctx, user.username, currentPassword, 'login.failed', { morePasswordWork: true }); // the history is checked next
  const problem = passwordProblem(newPassword, user.username) ?? (await reusedPassword(ctx, user.id, newPassword));
  if (problem) throw badRequest('The new password does not meet the password policy', [{ field: 'newPassword', message: problem }]);
  const passwordHash = await hashPassword(newPassword);
  const now = ctx.clock.wall().toISOString();
  await ctx.store.transaction(async () => {
    await ctx.store.updateUser(user.id, { passwordHash, mustChangePassword: false, passwordChangedAt: now });
    await ctx.store.addPasswordHistory(user.id, passwordHash, now);
    await ctx.store.revokeSessionsOf(user.id, now, currentToken && tokenHash(currentToken));
    await writeAudit(ctx.store, ctx.clock, { userId: user.id, action: 'password.changed', entity: 'user', entityId: user.id });
  });
}

/** An administrator sets a temporary password: the user must change it at next login (11.300). */
export async function resetPassword(ctx: AppContext, actor: UserRow, id: string, password: string, reason: string) {
  const user = await ctx.store.findUserById(id);
  if (!user) throw notFound('user', id);
  assertMay(actor, 'users.manage', 'resetting a password');
  const problem = passwordProblem(password, user.username) ?? (await reusedPassword(ctx, user.id, password));
  if (problem) throw badRequest('The password does not meet the password policy', [{ field: 'password', message: problem }]);
  const passwordHash = await hashPassword(password);
  const now = ctx.clock.wall().toISOString();
  return ctx.store.transaction(async () => {
    await ctx.store.updateUser(id, { passwordHash, mustChangePassword: true, passwordChangedAt: now, failedAttempts: 0 });
    await ctx.store.addPasswordHistory(id, passwordHash, now);
    await ctx.store.revokeSessionsOf(id, now);
    await writeAudit(ctx.store, ctx.clock, { userId: actor.id, action: 'password.reset', entity: 'user', entityId: id, after: { mustChangePassword: true }, reason });
    return userView((await ctx.store.findUserById(id))!);
  });
}

export async function updateUser(ctx: AppContext, actor: UserRow, id: string, patch: { active?: boolean; roles?: Role[]; reason: string }) {
  return ctx.store.transaction(async () => {
    const user = await ctx.store.findUserById(id);
    if (!user) throw notFound('user', id);
    assertMay(actor, 'users.manage', 'changing users');
    const before: Record<string, unknown> = {};
    const after: Record<string, unknown> = {};
    if (patch.active !== undefined && patch.active !== user.active) [before.active, after.active] = [user.active, patch.active];
    const roles = patch.roles && [...new Set(patch.roles)];
    if (roles && JSON.stringify([...roles].sort()) !== JSON.stringify([...user.roles].sort())) [before.roles, after.roles] = [user.roles, roles];
    if (Object.keys(after).length === 0) return userView(user); // a no-op writes no audit row
    // API.md's order: the state (409 last-admin) before separation of duties (403 self-*). Only an
    // administrator manages accounts, so the last one is only ever removed by themselves (or by a
    // request that raced another's): the guard must come first to be heard at all.
    await assertNotLastAdmin(ctx, user, after as { active?: boolean; roles?: string[] });
    // 21 CFR 11.10(g): authority is granted by someone else, never taken by oneself.
    if (user.id === actor.id && after.roles) throw forbidden('self-role-change', 'nobody may change their own roles; another administrator must');
    if (user.id === actor.id && after.active === false) throw forbidden('self-deactivation', 'an administrator cannot deactivate their own account');
    await ctx.store.updateUser(id, after);
    if (after.active === false) await ctx.store.revokeSessionsOf(id, ctx.clock.wall().toISOString());
    await writeAudit(ctx.store, ctx.clock, { userId: actor.id, action: 'user.updated', entity: 'user', entityId: id, before, after, reason: patch.reason });
    return userView((await ctx.store.findUserById(id))!);
  });
}

/**
 * The system keeps at least one administrator who can act (409 last-admin): without one nobody can
 * create, unlock or reset accounts except from the server's console (docs/security.md). A locked
 * administrator cannot act until someone else unlocks them, so a locked one does not count: whoever
 * would remove the last administrator who is not locked is told to unlock another or make one first.
 */
async function assertNotLastAdmin(ctx: AppContext, user: UserRow, after: { active?: boolean; roles?: string[] }) {
  const wasAdmin = user.active && user.roles.includes('admin');
  const staysAdmin = (after.active ?? user.active) && (after.roles ?? user.roles).includes('admin');
  if (!wasAdmin || staysAdmin) return;
  const others = (await Promise.all((await ctx.store.activeAdminIds()).filter((id) => id !== user.id).map((id) => ctx.store.findUserById(id))))
    .filter((u): u is UserRow => !!u);
  if (others.some((u) => !u.locked)) return;
  const field = after.active === false ? 'active' : 'roles';
  const what = after.active === false ? 'deactivated' : 'removed from the admin role';
  const whatVi = after.active === false ? 'bị vô hiệu hóa' : 'bị gỡ khỏi vai trò quản trị';
  const locked = others.map((u) => u.username).join(', ');
  const [detail, detailVi] = others.length === 0
    ? [`${user.username} is the last active administrator and cannot be ${what}: make another user admin first`,
      `${user.username} là quản trị viên cuối cùng còn hoạt động nên không thể ${whatVi}: hãy cấp quyền quản trị cho người dùng khác trước`]
    : [`${user.username} is the last administrator who is not locked out (${locked} locked) and cannot be ${what}: unlock another administrator or make another user admin first`,
      `${user.username} là quản trị viên cuối cùng không bị khóa (${locked} đang bị khóa) nên không thể ${whatVi}: hãy mở khóa một quản trị viên khác hoặc cấp quyền quản trị cho người dùng khác trước`];
  throw new AppError('last-admin', 409, detail, [{ field, message: detail }]).inVietnamese(detailVi, [detailVi]);
}

export async function unlockUser(ctx: AppContext, actor: UserRow, id: string, reason: string) {
  return ctx.store.transaction(async () => {
    const user = await ctx.store.findUserById(id);
    if (!user) throw notFound('user', id);
    assertMay(actor, 'users.manage', 'unlocking accounts');
    if (!user.locked && user.failedAttempts === 0) return userView(user);
    await ctx.store.updateUser(id, { locked: false, failedAttempts: 0 });
    await writeAudit(ctx.store, ctx.clock, { userId: actor.id, action: 'account.unlocked', entity: 'user', entityId: id, before: { locked: user.locked }, after: { locked: false }, reason });
    return userView((await ctx.store.findUserById(id))!);
  });
}

export interface SignatureInput { username: string; password: string; meaning?: string }

/**
 * 21 CFR 11.200(a)(1): every signing re-enters both components; the signer is whoever the credentials
 * name, not the session. Returns the signer; 401 wrong credentials, 423 locked, 403 password change due.
 */
export async function authenticateSigner(ctx: AppContext, sig: SignatureInput, batchId?: string): Promise<UserRow> {
  const user = withEffectivePasswordState(ctx, (await authenticate(ctx, sig.username, sig.password, 'signature.failed', { batchId })).user);
  // 21 CFR 11.10(g): the administrator signs nothing, whatever other roles an older account still holds.
  if (user.roles.includes('admin')) {
    await ctx.store.transaction(() => writeAudit(ctx.store, ctx.clock, { userId: user.id, action: 'signature.refused', entity: 'user', entityId: user.id, batchId, reason: 'an administrator signs nothing' }));
    throw alreadyAudited(forbidden('admin-signs-nothing', `${user.username} holds the admin role: an administrator manages accounts and signs no GMP record`));
  }
  if (user.mustChangePassword) {
    await ctx.store.transaction(() => writeAudit(ctx.store, ctx.clock, { userId: user.id, action: 'signature.refused', entity: 'user', entityId: user.id, batchId, reason: 'password change required' }));
    throw alreadyAudited(forbidden('password-change-required', `${user.username} must change the temporary or expired password before signing`));
  }
  return user;
}

export async function assertSignerRole(ctx: AppContext, signer: UserRow, roles: readonly string[], what: string, batchId?: string) {
  if (signer.roles.some((r) => roles.includes(r))) return;
  await ctx.store.transaction(() => writeAudit(ctx.store, ctx.clock, {
    userId: signer.id, action: 'signature.refused', entity: 'batch', entityId: batchId, batchId, reason: `role not allowed to sign ${what}`,
  }));
  throw alreadyAudited(forbidden('role-not-allowed', `${signer.username} (${signer.roles.join(', ')}) may not sign ${what}; it needs one of: ${roles.join(', ')}`));
}

