// The training clock: reading it, never moving it back (409), one key at a time (400), who may move it
// (admin, supervisor: 403 otherwise), and that it does not exist in GMP mode (404).
import { afterEach, describe, expect, it } from 'vitest';
import { call, harness, HOUR, type Harness } from '../../helpers.js';
import { expectProblem, iso, nowMs } from './support.js';

let h: Harness;
afterEach(async () => h?.close());

const clock = (user: string | null, body: unknown) => call(h, user, 'POST', '/training/clock', body);

describe('training clock', () => {
  it('answers {advanceHours: 0} with the current simulated time and moves nothing', async () => {
    h = await harness();
    const r = await clock('sup1', { advanceHours: 0 });
    expect(r.status).toBe(200);
    expect(Object.keys(r.body)).toEqual(['now']);
    expect(Date.parse(r.body.now)).toBe(nowMs(h));
    expect((await clock('admin', { advanceHours: 0 })).body.now).toBe(r.body.now);
  });

  it('refuses {set} to a time before now with 409 and leaves the clock where it was', async () => {
    h = await harness();
    await clock('sup1', { advanceHours: 5 });
    const before = nowMs(h);
    expectProblem(await clock('sup1', { set: iso(before - HOUR) }), 409);
    expect(nowMs(h)).toBe(before);
    const later = await clock('sup1', { set: iso(before + HOUR) });
    expect(later.status).toBe(200);
    expect(Date.parse(later.body.now)).toBe(before + HOUR);
  });

  it('refuses both keys at once, and neither, with 400', async () => {
    h = await harness();
    const before = nowMs(h);
    expectProblem(await clock('sup1', { advanceHours: 1, set: iso(before + 2 * HOUR) }), 400);
    expectProblem(await clock('sup1', {}), 400);
    expect(nowMs(h)).toBe(before);
  });

  it('refuses a negative, textual or unknown-keyed advance with 400 naming the field', async () => {
    h = await harness();
    expectProblem(await clock('sup1', { advanceHours: -1 }), 400, ['advanceHours']);
    expectProblem(await clock('sup1', { advanceHours: '2' }), 400, ['advanceHours']);
    expectProblem(await clock('sup1', { set: 'next monday' }), 400, ['set']);
    expectProblem(await clock('sup1', { advanceDays: 1 }), 400, ['advanceDays']);
  });

  it('refuses operator, QC, QA and inspector sessions with 403', async () => {
    h = await harness();
    const before = nowMs(h);
    for (const user of ['op1', 'qc1', 'qa1', 'insp1']) expectProblem(await clock(user, { advanceHours: 1 }), 403);
    expect(nowMs(h)).toBe(before);
  });

  it('refuses moving the clock without a token with 401', async () => {
    h = await harness();
    expectProblem(await clock(null, { advanceHours: 1 }), 401);
  });

  it('does not exist in GMP mode: 404', async () => {
    h = await harness({ training: false });
    expectProblem(await clock('sup1', { advanceHours: 0 }), 404);
    expectProblem(await clock('admin', { advanceHours: 1 }), 404);
  });
});
