// GET /me/pending: across every batch, what the caller can do now — verifications they may sign (not of
// their own steps), steps due or overdue for their roles, release results to enter, deviations to
// investigate or close, reviews and dispositions. Served from the read model `pending_work`
// (record/list-rows.ts), written with every write to a batch: the store selects the rows the caller's
// roles may do and that do not exclude them, batch by batch; this chooses each step's window and
// whether it is due at the time of the read, in the caller's language.
import type { AppContext } from '../context.js';
import type { UserRow } from '../store/store.js';
import type { StoredPendingItem } from '../record/list-rows.js';
import { t, type Lang } from './text.js';
import { readModelGate } from '../services/projection.js';

export { PENDING_ACTIONS, type PendingAction } from '../record/list-rows.js';

export interface PendingItem {
  action: StoredPendingItem['action']; batchId: string; batchNumber: string; status: string;
  stepId?: string; entryId?: string; deviationId?: string; title: string;
  due?: 'due' | 'overdue' | 'upcoming'; opensAt?: string; closesAt?: string; detail?: string;
}

/** Only those who work on batches have work waiting; admin and inspector have none. */
const WORKING_ROLES = ['operator', 'supervisor', 'qc', 'qa'];

function shown(stored: StoredPendingItem, lang: Lang, now: number): PendingItem {
  const { windows, title, ...item } = stored;
  if (!windows) return { ...item, title: t(title, lang) };
  // The next window still open (a step recorded by the day), else the last (workflows/schedule.ts, scheduleOf).
  const window = windows.find((w) => w.closesAt !== undefined && Date.parse(w.closesAt) > now) ?? windows[windows.length - 1];
  const opens = window?.opensAt ? Date.parse(window.opensAt) : undefined;
  const closes = window?.closesAt ? Date.parse(window.closesAt) : undefined;
  const due = closes !== undefined && closes < now ? 'overdue' : opens !== undefined && opens > now ? 'upcoming' : 'due';
  return { ...item, title: t(title, lang), due, ...(window?.opensAt && { opensAt: window.opensAt }), ...(window?.closesAt && { closesAt: window.closesAt }) };
}

/** A page of what the user can do now, batch by batch (in the order of batch ids), each batch's items in a fixed order. */
export async function pendingFor(ctx: AppContext, user: UserRow, q: { limit: number; cursor?: string }, lang: Lang = 'en') {
  if (!user.roles.some((r) => WORKING_ROLES.includes(r))) return { items: [] };
  readModelGate(ctx);
  const page = await ctx.store.listPendingRows({ id: user.id, roles: user.roles }, q.limit, q.cursor);
  const now = ctx.clock.now().getTime();
  return { items: page.items.map((r) => shown(JSON.parse(r.item) as StoredPendingItem, lang, now)), ...(page.nextCursor && { nextCursor: page.nextCursor }) };
}
