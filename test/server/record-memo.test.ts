// A batch's record is folded once per process and reused while its entries are the same rows
// (server/record/memo.ts), and stored payloads are parsed once (schemas/entries.ts). Neither may change
// what a request sees: after every kind of write, the batch as this server answers it (its memo warm from
// the write) is byte for byte what a second server on the same record answers from a replay of its own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../server/app.js';
import type { AppContext } from '../../server/context.js';
import type { TrainingClock } from '../../server/clock.js';
import { call, createBatch, harness, registerCatalogue, type Harness } from '../helpers.js';
import { BatchDriver, CART_PLAN, type Catalogue } from './lifecycle-driver.js';

let h: Harness;
let other: FastifyInstance;
let otherCtx: AppContext;
let catalogue: Catalogue;
beforeAll(async () => {
  h = await harness();
  catalogue = await registerCatalogue(h, 'car-t');
  // A second app server on the same record: its own memo starts empty, so it replays what it reads.
  ({ app: other, ctx: otherCtx } = await buildApp({ ...h.location, training: true, now: () => h.wall.now }));
});
afterAll(async () => { await other.close(); await h.close(); });

/** The training clock lives in each server's memory: the second one is set to the first one's time. */
function sameTime() {
  const [mine, theirs] = [h.ctx.clock as TrainingClock, otherCtx.clock as TrainingClock];
  theirs.advance(mine.offset - theirs.offset);
}

async function bothSee(id: string, lang: 'en' | 'vi' = 'en') {
  sameTime();
  const url = `/api/v1/batches/${id}?lang=${lang}`;
  const headers = { authorization: `Bearer ${h.tokens.qa1}` };
  const [here, there] = [await h.app.inject({ method: 'GET', url, headers }), await other.inject({ method: 'GET', url, headers })];
  expect(here.statusCode).toBe(200);
  expect(there.statusCode).toBe(200);
  expect(here.body).toBe(there.body);
  expect(here.headers.etag).toBe(there.headers.etag);
  return here.json();
}

describe('the record kept between requests', () => {
  it('answers every read and write exactly as a replay of the entries does: steps, verifications, a correction, a deviation', async () => {
    const d = new BatchDriver(h, await createBatch(h, 'car-t', 61), catalogue);
    await bothSee(d.id);
    for (let i = 0; i < 4; i++) {
      await d.run([CART_PLAN[i]]);
      const seen = await bothSee(d.id);
      // The 201 that carried the write is the batch as both servers show it afterwards.
      expect(seen).toEqual(d.batch);
    }
    const original = d.entriesOf('starting-material-sample')[0];
    const corrected = await d.correct(original.id, { viability: 60 }, 'Re-read of the viability: 60 %');
    expect(corrected.status).toBe(201);
    expect(await bothSee(d.id)).toEqual(d.batch);
    const opened = await call(h, 'op1', 'POST', `/batches/${d.id}/deviations`, { description: 'Bag label smudged', severity: 'minor' });
    expect(opened.status).toBe(201);
    await bothSee(d.id);
    await bothSee(d.id, 'vi');
    // A write refused as stale changes nothing either server shows.
    const stale = await call(h, 'op1', 'POST', `/batches/${d.id}/steps/${CART_PLAN[4].stepId}`, { values: {}, signature: { username: 'op1', password: 'x' }, expectedVersion: 1 });
    expect(stale.status).toBe(409);
    await bothSee(d.id);
  });

  it('is not used once the other server has written: this one reads the new rows and folds them', async () => {
    const d = new BatchDriver(h, await createBatch(h, 'car-t', 62), catalogue);
    await d.run([CART_PLAN[0]]);
    await bothSee(d.id);
    // The next step written through the other server, which this one did not see.
    const viaOther = new BatchDriver({ ...h, app: other, ctx: otherCtx }, d.batch, catalogue);
    sameTime();
    await viaOther.run([{ ...CART_PLAN[1], advance: undefined }]);
    const seen = await bothSee(d.id);
    expect(seen.version).toBe(viaOther.batch.version);
    expect(seen).toEqual(viaOther.batch);
  });
});
