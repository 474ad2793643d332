// Issue 15 item 5 for the lists' read model: a database whose read-model rows are missing (as one
// written before they existed, or upgraded to a new version of them) is served from the first request.
// The server fills the rows in the background, a few batches per short transaction; meanwhile GET
// /batches replays a batch not filled yet and answers what it answers afterwards, and GET /deviations
// and GET /me/pending answer 503 read-model-filling with Retry-After (their pages are indexed queries
// over rows not all written yet). Once filled, every list answers what replaying every batch answers
// and every batch's rows rebuild to what is stored. `cellbatch verify` on such a database writes
// nothing: it is still unfilled when the server starts on it. The fill is held and released by the
// test (no sleeps); time is the harness's.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../../server/app.js';
import { runCliAsync } from '../../../server/cli.js';
import { fillReadModel, rebuildProjection } from '../../../server/services/projection.js';
import { advance, call, createBatch, harness, sign, type Harness } from '../../helpers.js';
import { expectProblem, receiptValues, record } from '../refusals/support.js';
import { replayedDeviations, replayedPending } from './support/replayed-lists.js';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => h.close());

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

/** Each listed batch equals GET /batches/{id} without its entries; the ids listed, in order. */
async function listEqualsBatches(label: string) {
  const list = await call(h, 'qa1', 'GET', '/batches?limit=50');
  expect(list.status, JSON.stringify(list.body)).toBe(200);
  for (const item of list.body.items) {
    const one = await call(h, 'qa1', 'GET', `/batches/${item.id}`);
    const { entries: _entries, ...withoutEntries } = one.body;
    expect(item, `${label}: batch ${item.batchNumber} in the list`).toEqual(withoutEntries);
  }
  return list.body.items.map((b: { id: string }) => b.id) as string[];
}

/** GET /deviations and GET /me/pending answer what replaying every batch answers, and every batch's rows rebuild to what is stored. */
async function listsAgree(label: string) {
  for (const username of ['op1', 'sup1', 'qc1', 'qa1']) {
    const user = (await h.ctx.store.findUserByUsername(username))!;
    const pending = await call(h, username, 'GET', '/me/pending?limit=500');
    expect(pending.status).toBe(200);
    expect(pending.body.items, `${label}: GET /me/pending as ${username}`).toEqual(JSON.parse(JSON.stringify(await replayedPending(h.ctx, user))));
  }
  const deviations = await call(h, 'qa1', 'GET', '/deviations?limit=500');
  expect(deviations.body.items, `${label}: GET /deviations`).toEqual(JSON.parse(JSON.stringify(await replayedDeviations(h.ctx))));
  for (const id of await h.ctx.store.allBatchIds()) {
    const p = (await rebuildProjection(h.ctx, id))!;
    expect(p.cached, `${label}: the read model of batch ${id}`).toEqual(p.rebuilt);
  }
}

/** The read model as a database written before it has it: no stored state, no rows of the lists, an older version. */
async function removeReadModel() {
  const { store } = h.ctx;
  await store.transaction(async () => {
    for (const id of await store.allBatchIds()) {
      const row = (await store.getBatch(id))!;
      await store.saveBatchState(id, { status: row.status, version: row.version, openDeviations: row.openDeviations, updatedAt: row.updatedAt, recordState: null });
      await store.replaceBatchLists(id, { deviations: [], pending: [] });
    }
    await store.putSetting('read-model.version', '1');
  });
}

async function unfilled(ids: string[]) {
  return (await Promise.all(ids.map(async (id) => (await h.ctx.store.getBatch(id))!.recordState === null))).filter(Boolean).length;
}

describe('the lists\' read model of an upgraded database', () => {
  it('is filled in the background while the server serves: GET /batches right from the first request, the other lists 503 until filled, then right; cellbatch verify fills nothing', async () => {
    // Five batches: fresh, with a step, with a deviation opened by hand, terminated with one open, another fresh.
    const fresh = await createBatch(h, 'car-t', 1);
    const stepped = await createBatch(h, 'car-t', 2);
    await record(h, stepped.id, 'apheresis-receipt', receiptValues(h, 2));
    const nk = await createBatch(h, 'nk', 3);
    expect((await call(h, 'op1', 'POST', `/batches/${nk.id}/deviations`, { description: 'Incubator door left ajar', severity: 'minor' })).status).toBe(201);
    const stopped = await createBatch(h, 'car-t', 4);
    expect((await call(h, 'op1', 'POST', `/batches/${stopped.id}/deviations`, { description: 'Bag punctured', severity: 'major' })).status).toBe(201);
    expect((await call(h, 'sup1', 'POST', `/batches/${stopped.id}/terminate`, { reason: 'bag punctured at receipt', signature: sign('sup1') })).status).toBe(201);
    await createBatch(h, 'car-t', 5);
    const before = await listEqualsBatches('before');
    const listed = (await call(h, 'qa1', 'GET', '/batches?limit=50')).body;
    await listsAgree('before');

    await removeReadModel();
    await h.app.close();

    // The command-line verification reads the record and writes nothing: the read model stays unfilled.
    const cli = await runCliAsync(['verify', '--db', h.location.dbFile, ...(h.databaseUrl ? ['--database-url', h.databaseUrl] : [])]);
    expect(cli.code, cli.lines.join('\n')).toBe(0);
    expect(JSON.parse(cli.lines[0]).valid).toBe(true);

    // The server starts on it; its fill waits for the test, then pauses after its first chunk of two batches.
    const start = deferred();
    const firstChunk = deferred();
    const go = deferred();
    let paused = false;
    const { app, ctx } = await buildApp({
      ...h.location, training: true, now: () => h.wall.now, awaitReadModel: false,
      fillReadModel: async (c, stopped) => {
        await start.promise;
        return fillReadModel(c, {
          chunk: 2, stopped,
          pause: async () => { if (paused) return; paused = true; firstChunk.resolve(); await go.promise; },
        });
      },
    });
    Object.assign(h, { app, ctx });
    expect(ctx.readModel.filled).toBe(false);
    expect(await ctx.store.getSetting('read-model.version')).toBe('1');
    expect(await unfilled(before), 'cellbatch verify filled nothing').toBe(before.length);

    // The first request is served: GET /batches replays the batches without stored state and answers as before.
    const first = await call(h, 'qa1', 'GET', '/batches?limit=50');
    expect(first.status).toBe(200);
    expect(first.body).toEqual(listed);
    for (const [user, url] of [['qa1', '/deviations?limit=50'], ['op1', '/me/pending?limit=50'], ['qa1', '/me/pending?limit=50&lang=vi']]) {
      const r = await call(h, user, 'GET', url);
      expectProblem(r, 503);
      expect(r.body.type).toBe('https://cellbatch.org/problems/read-model-filling');
      expect(r.headers['retry-after']).toBe('10');
    }
    expect((await call(h, 'qa1', 'GET', '/me/pending?limit=50')).body.detail).toMatch(/being rebuilt/);
    // Someone with no work on batches has nothing pending whatever the rows say.
    expect((await call(h, 'admin', 'GET', '/me/pending?limit=50')).body).toEqual({ items: [] });

    // A write meanwhile leaves its batch's rows complete, as every write does.
    await record(h, fresh.id, 'apheresis-receipt', receiptValues(h, 1));
    expect(await unfilled([fresh.id])).toBe(0);
    expect(await listEqualsBatches('written while unfilled')).toEqual(before);

    // The first chunk: two batches filled in their own short transaction, the others still replayed.
    start.resolve();
    await firstChunk.promise;
    expect(await unfilled(before)).toBe(before.slice(2).filter((id) => id !== fresh.id).length);
    expect(await listEqualsBatches('half filled')).toEqual(before);
    expect((await call(h, 'qa1', 'GET', '/deviations?limit=50')).status).toBe(503);

    // Filled: the setting says so, every list answers what replaying every batch answers.
    go.resolve();
    expect(await ctx.readModel.filling).toEqual({ batches: before.length, unreadable: 0, filled: true });
    expect(ctx.readModel.filled).toBe(true);
    expect(await ctx.store.getSetting('read-model.version')).toBe('2');
    expect(await unfilled(before)).toBe(0);
    expect(await listEqualsBatches('filled')).toEqual(before);
    await listsAgree('filled');
    await advance(h, 30);
    expect(await listEqualsBatches('30 h later')).toEqual(before);
    await listsAgree('30 h later');
  });

  it('is marked filled at once on a new database, and not filled again at the next start', async () => {
    expect(h.ctx.readModel.filled).toBe(true);
    await createBatch(h, 'car-t', 1);
    await h.app.close();
    let fills = 0;
    const { app, ctx } = await buildApp({ ...h.location, training: true, now: () => h.wall.now, awaitReadModel: false, fillReadModel: async () => { fills++; return { batches: 0, unreadable: 0, filled: true }; } });
    Object.assign(h, { app, ctx });
    expect((await call(h, 'qa1', 'GET', '/deviations?limit=50')).status).toBe(200);
    expect(ctx.readModel).toEqual({ filled: true });
    expect(fills).toBe(0);
  });
});
