// Item 7 of issue 12: GET /deviations is served from its read model (the deviation_list rows written
// with every write to a batch), not by replaying batches: each listed deviation equals the batch's
// own view of it (with its investigation, reclassification and closure, each signed), and listing
// reads no entries.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { call, createBatch, harness, sign, type Harness } from '../../helpers.js';
import { closeBody } from '../qa/support.js';
import { receiptValues, record } from '../refusals/support.js';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => h.close());

describe('GET /deviations from the read model', () => {
  it('lists each deviation as its batch shows it, through investigation, reclassification and closure, without reading entries', async () => {
    const ids: string[] = [];
    for (let i = 1; i <= 3; i++) {
      const b = await createBatch(h, 'car-t', i);
      await record(h, b.id, 'apheresis-receipt', receiptValues(h, i));
      const r = await call(h, 'op1', 'POST', `/batches/${b.id}/deviations`, { description: `Deviation of batch ${i}`, severity: 'minor' });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      ids.push(b.id);
    }
    const [first] = (await call(h, 'qa1', 'GET', `/batches/${ids[0]}/deviations`)).body.items;
    const investigation = { rootCause: 'Door seal worn', productImpact: 'None', otherBatchesImpact: 'None', signature: sign('qa1') };
    expect((await call(h, 'qa1', 'POST', `/deviations/${first.id}/investigation`, investigation)).status).toBe(201);
    expect((await call(h, 'qa1', 'POST', `/deviations/${first.id}/reclassification`, { severity: 'major', reason: 'repeated', signature: sign('qa1') })).status).toBe(201);
    expect((await call(h, 'qa1', 'POST', `/deviations/${first.id}/close`, closeBody())).status).toBe(200);

    const entriesRead = vi.spyOn(h.ctx.store, 'entriesOfBatch');
    const list = await call(h, 'qa1', 'GET', '/deviations?limit=50');
    expect(list.status).toBe(200);
    expect(entriesRead).not.toHaveBeenCalled();
    entriesRead.mockRestore();

    expect(list.body.items).toHaveLength(3);
    for (const batchId of ids) {
      for (const d of (await call(h, 'qa1', 'GET', `/batches/${batchId}/deviations`)).body.items) {
        const { batchNumber: _n, ...listed } = list.body.items.find((x: { id: string }) => x.id === d.id);
        expect(listed).toEqual(d);
      }
    }
    const closed = list.body.items.find((x: { id: string }) => x.id === first.id);
    expect(closed).toMatchObject({ status: 'closed', severity: 'major', closure: { signature: { username: 'qa1' } }, investigation: { signature: { username: 'qa1' } } });
    expect((await call(h, 'qa1', 'GET', '/deviations?status=open&limit=50')).body.items).toHaveLength(2);
  });
});
