// Accounts, sessions and password history in SQLite (21 CFR 11.300).
import { and, asc, desc, eq, gt, lte, ne, sql } from 'drizzle-orm';
import { decodeCursor, page, type UserStore } from '../store.js';
import * as t from '../tables.js';
import type { SqliteConnection } from './connection.js';

export function sqliteUsers(c: SqliteConnection): UserStore {
  const { db, q } = c;
  return {
    findUserByUsername: (username) => c.run(() => q.userByUsernameKey.get({ usernameKey: username.toLowerCase() })),
    findUserById: (id) => c.run(() => q.userById.get({ id })),
    listUsers: (limit, cursor) => c.run(() => {
      const after = decodeCursor(cursor);
      const rows = db.select().from(t.users).where(after ? gt(t.users.usernameKey, after) : undefined)
        .orderBy(asc(t.users.usernameKey)).limit(limit + 1).all();
      return page(rows, limit, (r) => r.usernameKey);
    }),
    activeAdminIds: () => c.run(() => db.select({ id: t.users.id, roles: t.users.roles }).from(t.users).where(eq(t.users.active, true)).all()
      .filter((u) => u.roles.includes('admin')).map((u) => u.id)),
    countUsers: () => c.run(() => db.select({ n: sql<number>`count(*)` }).from(t.users).get()?.n ?? 0),
    insertUser: (row) => c.run(() => void db.insert(t.users).values(row).run()),
    updateUser: (id, patch) => c.run(() => void db.update(t.users).set(patch).where(eq(t.users.id, id)).run()),
    addPasswordHistory: (userId, passwordHash, changedAt) => c.run(() => void db.insert(t.passwordHistory).values({ userId, passwordHash, changedAt }).run()),
    recentPasswordHashes: (userId, n) => c.run(() => db.select({ h: t.passwordHistory.passwordHash }).from(t.passwordHistory)
      .where(eq(t.passwordHistory.userId, userId)).orderBy(desc(t.passwordHistory.id)).limit(n).all().map((r) => r.h)),
    insertSession: (row) => c.run(() => void db.insert(t.sessions).values(row).run()),
    findSession: (tokenHash) => c.run(() => q.session.get({ tokenHash })),
    touchSession: (tokenHash, at) => c.run(() => void db.update(t.sessions).set({ lastSeenAt: at }).where(eq(t.sessions.tokenHash, tokenHash)).run()),
    revokeSession: (tokenHash, at) => c.run(() => void db.update(t.sessions).set({ revokedAt: at }).where(eq(t.sessions.tokenHash, tokenHash)).run()),
    revokeSessionsOf: (userId, at, except) => c.run(() => void db.update(t.sessions).set({ revokedAt: at })
      .where(and(eq(t.sessions.userId, userId), sql`${t.sessions.revokedAt} is null`, except ? ne(t.sessions.tokenHash, except) : undefined)).run()),
    countAttempt: (key, now, windowEndsAt) => c.run(() => {
      db.delete(t.attemptWindows).where(lte(t.attemptWindows.windowEndsAt, now)).run();
      return db.insert(t.attemptWindows).values({ key, windowEndsAt, hits: 1 })
        .onConflictDoUpdate({ target: t.attemptWindows.key, set: attemptCounted(now) })
        .returning({ hits: t.attemptWindows.hits, windowEndsAt: t.attemptWindows.windowEndsAt }).get();
    }),
  };
}

/** The window still running counts one more; one that has ended (not yet deleted) starts again. */
const attemptCounted = (now: string) => {
  const ended = sql`${t.attemptWindows.windowEndsAt} <= ${now}`;
  return {
    hits: sql`case when ${ended} then 1 else ${t.attemptWindows.hits} + 1 end`,
    windowEndsAt: sql`case when ${ended} then excluded.window_ends_at else ${t.attemptWindows.windowEndsAt} end`,
  };
};
