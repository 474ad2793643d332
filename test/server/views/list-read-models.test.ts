// Issue 12 item 7: GET /deviations and GET /me/pending are served from read-model tables written in the
// transaction of every write to a batch. Through HTTP they answer exactly what the replay of every batch
// answered before (test/server/views/support/replayed-lists.ts, the implementation they replaced), for
// every user, in both languages, at later times and page by page; the projection check rebuilds their
// rows from the entries and finds one missing or edited; a refused write leaves none behind.
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildApp } from '../../../server/app.js';
import { advance, call, createBatch, recordReceipt, sign, type Harness, harness } from '../../helpers.js';
import { rebuildAllProjections, rebuildProjection } from '../../../server/services/projection.js';
import { batchInQaReview, closeAll, closeBody, deviations, dispose, review } from '../qa/support.js';
import { replayedDeviations, replayedPending } from './support/replayed-lists.js';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => h.close());

const USERS = ['op1', 'op2', 'sup1', 'qc1', 'qa1', 'qa2', 'admin', 'insp1'];

/** Every page of a list, `limit` at a time. */
async function allPages(user: string, url: string, limit: number) {
  const items: unknown[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 200; i++) {
    const r = await call(h, user, 'GET', `${url}${url.includes('?') ? '&' : '?'}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    items.push(...r.body.items);
    cursor = r.body.nextCursor;
    if (!cursor) return items;
  }
  throw new Error('the pages never ended');
}

async function userRow(username: string) {
  return (await h.ctx.store.findUserByUsername(username))!;
}

/** Both lists answer what replaying every batch answered, whole and page by page, and every batch's rows rebuild to what is stored. */
async function listsAgree(label: string) {
  for (const username of USERS) {
    for (const lang of ['en', 'vi'] as const) {
      const expected = await replayedPending(h.ctx, await userRow(username), lang);
      const whole = await call(h, username, 'GET', `/me/pending?limit=500&lang=${lang}`);
      expect(whole.status).toBe(200);
      expect(whole.body.items, `${label}: GET /me/pending as ${username} (${lang})`).toEqual(JSON.parse(JSON.stringify(expected)));
      expect(whole.body.nextCursor).toBeUndefined();
      if (lang === 'en') expect(await allPages(username, '/me/pending', 2), `${label}: pages of 2 as ${username}`).toEqual(whole.body.items);
    }
  }
  const filters: Record<string, string>[] = [{}, { status: 'open' }, { status: 'investigating' }, { status: 'closed' }, { severity: 'minor' }, { severity: 'major' }, { status: 'open', severity: 'major' }];
  for (const filter of filters) {
    const query = new URLSearchParams(filter).toString();
    const expected = JSON.parse(JSON.stringify(await replayedDeviations(h.ctx, filter)));
    const whole = await call(h, 'qa1', 'GET', `/deviations?limit=500${query ? `&${query}` : ''}`);
    expect(whole.body.items, `${label}: GET /deviations?${query}`).toEqual(expected);
    expect(await allPages('op1', `/deviations${query ? `?${query}` : ''}`, 1), `${label}: pages of 1, ${query}`).toEqual(expected);
  }
  for (const id of await h.ctx.store.allBatchIds()) {
    const p = (await rebuildProjection(h.ctx, id))!;
    expect(p.cached, `${label}: the read model of batch ${id}`).toEqual(p.rebuilt);
  }
}

describe('GET /me/pending and GET /deviations from their read models', () => {
  it('answer what replaying every batch answered, for every user, in both languages, at any time and page by page, through QA\'s whole work', async () => {
    // A batch in QA review whose failing viability opened a deviation; one with a step awaiting verification
    // and a deviation opened by hand; an NK batch just started; one terminated with its deviation still open.
    const qa = await batchInQaReview(h, 'car-t', 1, { 'release-viability': { viability: 60 } });
    const waiting = await createBatch(h, 'car-t', 2);
    const receipt = await recordReceipt(h, waiting, 2);
    const sample = await call(h, 'op1', 'POST', `/batches/${waiting.id}/steps/starting-material-sample`, {
      values: { wbcConcentration: 28.5, viability: 94, cd3Positive: 62 }, signature: sign('op1'), expectedVersion: receipt.batch.version,
    });
    expect(sample.status, JSON.stringify(sample.body)).toBe(201);
    expect((await call(h, 'sup1', 'POST', `/batches/${waiting.id}/deviations`, { description: 'Label printer jammed', severity: 'minor' })).status).toBe(201);
    await createBatch(h, 'nk', 3);
    const stopped = await createBatch(h, 'car-t', 4);
    expect((await call(h, 'op1', 'POST', `/batches/${stopped.id}/deviations`, { description: 'Bag punctured', severity: 'major' })).status).toBe(201);
    expect((await call(h, 'sup1', 'POST', `/batches/${stopped.id}/terminate`, { reason: 'bag punctured at receipt', signature: sign('sup1') })).status).toBe(201);
    await listsAgree('started');

    // Later: windows open and close, the verification is overdue or not, in the lists as in the replay.
    await advance(h, 30);
    await listsAgree('30 h later');

    // QA investigates, reclassifies and closes; the review, then the release; a deviation of the waiting batch is investigated.
    const [oos] = await deviations(h, qa.id);
    const investigation = { rootCause: 'Thaw too slow', productImpact: 'None', otherBatchesImpact: 'None', signature: sign('qa1') };
    expect((await call(h, 'qa1', 'POST', `/deviations/${oos.id}/investigation`, investigation)).status).toBe(201);
    const [byHand] = await deviations(h, waiting.id);
    expect((await call(h, 'qa1', 'POST', `/deviations/${byHand.id}/investigation`, investigation)).status).toBe(201);
    expect((await call(h, 'qa1', 'POST', `/deviations/${byHand.id}/reclassification`, { severity: 'major', reason: 'repeated', signature: sign('qa1') })).status).toBe(201);
    await listsAgree('investigating');
    expect((await call(h, 'qa1', 'POST', `/deviations/${oos.id}/close`, closeBody())).status).toBe(200);
    await closeAll(h, qa.id);
    await listsAgree('closed: the review waits');
    expect((await review(h, qa.id)).status).toBe(201);
    await listsAgree('reviewed: the disposition waits, never for who did a step');
    expect((await dispose(h, qa.id, { decision: 'exceptional-release', justification: 'No alternative therapy', physicianRequest: 'Dr. Tran, request of 2 March' })).status).toBe(201);
    await listsAgree('released');
  });
});

describe('the projection check covers the lists\' rows', () => {
  it('finds a missing or edited row of either list, and the rebuild puts it back', async () => {
    const b = await createBatch(h, 'car-t', 1);
    expect((await call(h, 'op1', 'POST', `/batches/${b.id}/deviations`, { description: 'Door left open', severity: 'minor' })).status).toBe(201);
    const intact = (await rebuildProjection(h.ctx, b.id))!;
    expect(intact.cached).toEqual(intact.rebuilt);
    expect(intact.cached.lists.deviations).toHaveLength(1);
    expect(intact.cached.lists.pending.map((r) => `${r.action} ${r.role}`)).toEqual(['record-step operator', 'record-step supervisor', 'investigate-deviation qa']);
    const before = (await call(h, 'op1', 'GET', '/me/pending?limit=50')).body;

    // Missing: both lists lose the batch.
    await h.ctx.store.transaction(() => h.ctx.store.replaceBatchLists(b.id, { deviations: [], pending: [] }));
    const missing = (await rebuildProjection(h.ctx, b.id))!;
    expect(missing.cached.lists).toEqual({ deviations: [], pending: [] });
    expect(missing.cached).not.toEqual(missing.rebuilt);
    expect((await call(h, 'op1', 'GET', '/me/pending?limit=50')).body.items).toEqual([]);
    expect(await rebuildAllProjections(h.ctx)).toEqual({ fixed: 1, unreadable: 0 });
    expect((await call(h, 'op1', 'GET', '/me/pending?limit=50')).body).toEqual(before);

    // Edited: a deviation shown closed, a step offered to QA instead of the operators.
    const { deviations: [dev], pending: [work] } = intact.cached.lists;
    await h.ctx.store.transaction(() => h.ctx.store.replaceBatchLists(b.id, {
      deviations: [{ ...dev, status: 'closed' }], pending: [{ ...work, role: 'qa' }],
    }));
    const edited = (await rebuildProjection(h.ctx, b.id))!;
    expect(edited.cached.lists.deviations[0].status).toBe('closed');
    expect(edited.rebuilt.lists).toEqual(intact.rebuilt.lists);
    expect(edited.cached).not.toEqual(edited.rebuilt);
    expect(await rebuildAllProjections(h.ctx)).toEqual({ fixed: 1, unreadable: 0 });
    const again = (await rebuildProjection(h.ctx, b.id))!;
    expect(again.cached).toEqual(again.rebuilt);
  });
});

describe('a database written before the lists\' tables', () => {
  it('gets their rows from the entries at the server\'s first start', async () => {
    const b = await createBatch(h, 'car-t', 1);
    expect((await call(h, 'op1', 'POST', `/batches/${b.id}/deviations`, { description: 'Door left open', severity: 'minor' })).status).toBe(201);
    const filled = await h.ctx.store.batchLists(b.id);
    expect(filled.deviations).toHaveLength(1);
    // As a database from before migration 0009 (or after 0011) is: no rows, no read-model version.
    await h.ctx.store.transaction(async () => {
      await h.ctx.store.replaceBatchLists(b.id, { deviations: [], pending: [] });
      await h.ctx.store.putSetting('read-model.version', '1');
    });
    await h.app.close();
    const { app, ctx } = await buildApp({ dbFile: path.join(h.dir, 'cellbatch.db'), databaseUrl: h.databaseUrl, training: true, now: () => h.wall.now });
    try {
      expect(await ctx.store.getSetting('read-model.version')).toBe('2');
      expect(await ctx.store.batchLists(b.id)).toEqual(filled);
    } finally {
      await app.close();
    }
  });
});

describe('a refused write leaves no row of the lists', () => {
  it('writes no deviation or pending row for a refused request, and none when the write fails after its rows were written', async () => {
    const b = await createBatch(h, 'car-t', 1);
    const lists = async () => h.ctx.store.batchLists(b.id);
    const before = await lists();
    const counts = await h.ctx.store.counts();

    // Refused before anything is written (a step the batch does not have): 400, nothing changes.
    const refused = await call(h, 'op1', 'POST', `/batches/${b.id}/deviations`, { description: 'x', severity: 'minor', stepId: 'no-such-step' });
    expect(refused.status).toBe(400);
    expect(await lists()).toEqual(before);

    // Failing after the entry, the projection and the lists' rows were written: all of it rolls back.
    const real = h.ctx.store.replaceBatchLists.bind(h.ctx.store);
    const spy = vi.spyOn(h.ctx.store, 'replaceBatchLists').mockImplementation(async (id, rows) => {
      await real(id, rows);
      throw new Error('disk full');
    });
    const failed = await call(h, 'op1', 'POST', `/batches/${b.id}/deviations`, { description: 'Door left open', severity: 'minor' });
    spy.mockRestore();
    expect(failed.status).toBe(500);
    expect(await lists()).toEqual(before);
    expect((await h.ctx.store.counts()).entries).toBe(counts.entries);
    expect((await h.ctx.store.counts()).signatures).toBe(counts.signatures);
    expect((await call(h, 'qa1', 'GET', '/deviations?limit=50')).body.items).toEqual([]);
    const p = (await rebuildProjection(h.ctx, b.id))!;
    expect(p.cached).toEqual(p.rebuilt);
  });
});
