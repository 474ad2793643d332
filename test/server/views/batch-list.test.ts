// Item 7 of issue 12: GET /batches is served from the read model kept in each batch's projection row,
// not by replaying every batch of the page. Each listed Batch equals the batch itself without its
// entries (at any time, in either language), the cached read model equals the one rebuilt from the
// entries after every kind of write, and listing a page reads no entries.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { advance, call, createBatch, harness, sign, type Harness } from '../../helpers.js';
import { rebuildProjection } from '../../../server/services/projection.js';
import { batchInQaReview, batchInQcTesting, closeAll, dispose, review } from '../qa/support.js';
import { receiptValues, record } from '../refusals/support.js';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => h.close());

/** A GET in the terminal's language (Accept-Language, as the list takes it). */
async function get(url: string, lang: 'en' | 'vi') {
  const res = await h.app.inject({ method: 'GET', url: `/api/v1${url}`, headers: { authorization: `Bearer ${h.tokens.qa1}`, 'accept-language': lang } });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

async function expectListEqualsBatches(lang: 'en' | 'vi') {
  const list = { body: await get('/batches?limit=50', lang) };
  for (const item of list.body.items) {
    const { entries: _entries, ...withoutEntries } = await get(`/batches/${item.id}`, lang);
    expect(item, `batch ${item.batchNumber} (${item.status}) in the list`).toEqual(withoutEntries);
  }
  return list.body.items as { id: string; status: string }[];
}

describe('GET /batches from the read model', () => {
  it('lists every batch exactly as GET /batches/{id} shows it without entries, after every kind of write, at any time, in both languages', async () => {
    // A fresh batch, one with its first step and a correction, a terminated one, one in qc_testing with a
    // deviation under investigation, and one released after its deviation was closed and its review signed.
    await createBatch(h, 'car-t', 1);
    const corrected = await createBatch(h, 'car-t', 2);
    const receipt = await record(h, corrected.id, 'apheresis-receipt', receiptValues(h, 2));
    expect((await call(h, 'op1', 'POST', `/batches/${corrected.id}/entries/${receipt.entry.id}/corrections`, { values: { volume: 201 }, reason: 'transcription error', signature: sign('op1') })).status).toBe(201);
    const terminated = await createBatch(h, 'nk', 3);
    expect((await call(h, 'sup1', 'POST', `/batches/${terminated.id}/terminate`, { reason: 'patient withdrew', signature: sign('sup1') })).status).toBe(201);
    const nk = await batchInQcTesting(h, 'nk', 4);
    const opened = await call(h, 'op1', 'POST', `/batches/${nk.batch.id}/deviations`, { description: 'Incubator door left ajar for 2 minutes', severity: 'minor' });
    expect(opened.status, JSON.stringify(opened.body)).toBe(201);
    const released = await batchInQaReview(h, 'car-t', 5);
    expect((await call(h, 'op1', 'POST', `/batches/${released.batch.id}/deviations`, { description: 'Label printer jammed once', severity: 'minor' })).status).toBe(201);
    await closeAll(h, released.batch.id);
    expect((await review(h, released.batch.id)).status).toBe(201);
    const disposed = await dispose(h, released.batch.id, { decision: 'release' });
    expect(disposed.status, JSON.stringify(disposed.body)).toBe(201);

    const items = await expectListEqualsBatches('en');
    expect(new Set(items.map((b) => b.status))).toEqual(new Set(['in_process', 'terminated', 'qc_testing', 'released']));
    await expectListEqualsBatches('vi');
    // Windows and remaining occurrences are computed at read time from the read model, like the batch's.
    await advance(h, 30);
    await expectListEqualsBatches('en');

    for (const b of items) {
      const p = (await rebuildProjection(h.ctx, b.id))!;
      expect(p.cached.recordState, `read model of ${b.id}`).not.toBeNull();
      expect(p.cached).toEqual(p.rebuilt);
    }
  });

  it('serves a page without reading any batch\'s entries', async () => {
    for (let i = 1; i <= 3; i++) {
      const b = await createBatch(h, 'car-t', i);
      await record(h, b.id, 'apheresis-receipt', receiptValues(h, i));
    }
    const entriesRead = vi.spyOn(h.ctx.store, 'entriesOfBatch');
    const list = await call(h, 'op1', 'GET', '/batches?limit=50');
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(3);
    expect(entriesRead).not.toHaveBeenCalled();
    entriesRead.mockRestore();
  });
});
