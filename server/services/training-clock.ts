// The simulated clock of training mode: moves only forward, survives restarts (its offset is a
// setting), and every move is audited.
import type { AppContext } from '../context.js';
import { TrainingClock } from '../clock.js';
import { conflict, notFound } from '../errors.js';
import { assertMay } from '../permissions.js';
import type { Store, UserRow } from '../store/store.js';
import { writeAudit } from './audit.js';

const KEY = 'training.clockOffsetMs';

export const storedOffset = async (store: Store) => Number(await store.getSetting(KEY) ?? 0) || 0;

export async function moveTrainingClock(ctx: AppContext, actor: UserRow, body: { advanceHours?: number; set?: string }) {
  if (!(ctx.clock instanceof TrainingClock)) throw notFound('route', 'POST /training/clock (GMP mode)');
  const clock = ctx.clock;
  assertMay(actor, 'training.clock');
  const before = clock.now();
  const target = body.set !== undefined ? Date.parse(body.set) : before.getTime() + (body.advanceHours ?? 0) * 3_600_000;
  if (target < before.getTime()) throw conflict('clock-backwards', `the training clock never goes back: it is ${before.toISOString()}`).inVietnamese(`đồng hồ đào tạo không bao giờ chạy lùi: bây giờ là ${before.toISOString()}`);
  const delta = target - before.getTime();
  if (delta === 0) return { now: before.toISOString() };
  await ctx.store.transaction(async () => {
    clock.advance(delta);
    await ctx.store.putSetting(KEY, String(clock.offset));
    await writeAudit(ctx.store, ctx.clock, { userId: actor.id, action: 'training.clock-moved', entity: 'clock', before: { now: before.toISOString() }, after: { now: clock.now().toISOString() } });
  });
  return { now: clock.now().toISOString() };
}
