// Shared helpers of the Part 11 / Annex 11 suites: reading the audit trail through the API (as an
// auditor would), counting what one request wrote, sessions, and the user ids behind usernames.
import { expect } from 'vitest';
import { ADMIN_PASSWORD, call, PASSWORD, type Harness } from '../../helpers.js';
import { ATTEMPT_ACTIONS as ATTEMPT_KINDS } from '../../../schemas/audit-actions.js';

export interface AuditItem {
  seq: number; at: string; userId: string | null; username?: string; printedName?: string; action: string; entity: string; entityId: string | null; batchId: string | null;
  before?: unknown; after?: any; reason?: string; hash: string; prevHash: string;
}

/** The actions that record a refused attempt, never a change (API.md "Conventions", app.ts onRefusal): the registry's. */
export const ATTEMPT_ACTIONS: readonly string[] = ATTEMPT_KINDS;

/** Every audit row, walking GET /audit page by page (a read writes no audit row). */
export async function auditAll(h: Harness, reader = 'qa1', query = ''): Promise<AuditItem[]> {
  const items: AuditItem[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const r = await call(h, reader, 'GET', `/audit?limit=500${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    items.push(...r.body.items);
    cursor = r.body.nextCursor;
    if (!cursor) return items;
  }
  throw new Error('the audit trail did not end after 1000 pages');
}

/** The seq of the last audit row: a mark to count what comes after it. */
export async function lastSeq(h: Harness): Promise<number> {
  const all = await auditAll(h);
  return all.length ? all[all.length - 1].seq : 0;
}

/** Audit rows written after a mark. */
export async function auditSince(h: Harness, mark: number): Promise<AuditItem[]> {
  return (await auditAll(h)).filter((r) => r.seq > mark);
}

/** Runs a request and returns its reply and exactly the audit rows it wrote. */
export async function auditedBy<T>(h: Harness, request: () => Promise<T>): Promise<{ reply: T; rows: AuditItem[] }> {
  const mark = await lastSeq(h);
  const reply = await request();
  return { reply, rows: await auditSince(h, mark) };
}

/** The id of a user, by username (GET /users as admin). */
export async function userIdOf(h: Harness, username: string): Promise<string> {
  const r = await call(h, 'admin', 'GET', '/users?limit=500');
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  const u = r.body.items.find((x: { username: string }) => x.username.toLowerCase() === username.toLowerCase());
  if (!u) throw new Error(`no user ${username}`);
  return u.id;
}

export const passwordOf = (username: string) => (username === 'admin' ? ADMIN_PASSWORD : PASSWORD);

/** Logs a user in again (after logout, idle expiry, …) and keeps the new token in h.tokens. */
export async function relogin(h: Harness, username: string, password = passwordOf(username)) {
  const r = await call(h, null, 'POST', '/auth/login', { username, password });
  expect(r.status, `login ${username}: ${JSON.stringify(r.body)}`).toBe(200);
  h.tokens[username] = r.body.token;
  return r.body as { token: string; user: { id: string; mustChangePassword: boolean }; mustChangePassword: boolean };
}

/** The server's own now (the process clock in training mode) as an ISO string. */
export const serverNow = (h: Harness) => h.ctx.clock.now().toISOString();

export const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

export const DAY = 86_400_000;
