// Review by exception after a correction: a correction that leaves an out-of-specification value as
// it was does not list it a second time (found by the whole-batch browser test: the correction of a
// receipt's volume listed "Transport temperature undefined °C" beside the original's 30 °C); a
// correction that changes it to another failing value is listed with that value.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createBatch, harness, sign, type Harness } from '../helpers.js';

let h: Harness;
beforeAll(async () => { h = await harness(); });
afterAll(async () => { await h.close(); });

const oos = async (batchId: string) => ((await call(h, 'qa1', 'GET', `/batches/${batchId}/review`)).body.exceptions as { kind: string; why: string; target: { id: string } }[])
  .filter((x) => x.kind === 'out-of-specification');

describe('exceptions of a corrected out-of-specification entry', () => {
  it('lists the value once when a correction leaves it, and the new value when a correction changes it', async () => {
    const b = await createBatch(h, 'car-t', 91);
    const values = { bagScan: b.din + b.dinCheck, collectionEnd: '2026-03-01T20:00:00Z', receivedAt: '2026-03-02T07:00:00Z', transportTemperature: 30, volume: 210 };
    const recorded = await call(h, 'op1', 'POST', `/batches/${b.id}/steps/apheresis-receipt`, { values, signature: sign('op1'), expectedVersion: b.version });
    expect(recorded.status).toBe(201);
    const entryId = recorded.body.entry.id;
    const volume = await call(h, 'op1', 'POST', `/batches/${b.id}/entries/${entryId}/corrections`, { values: { volume: 220 }, reason: 'Transcription error: the bag label reads 220 mL', signature: sign('op1'), expectedVersion: recorded.body.batch.version });
    expect(volume.status).toBe(201);
    const once = await oos(b.id);
    expect(once.map((x) => [x.target.id, x.why])).toEqual([[entryId, 'outside its specification: Transport temperature 30 °C (specification 2–25 °C)']]);

    const temperature = await call(h, 'op1', 'POST', `/batches/${b.id}/entries/${entryId}/corrections`, { values: { transportTemperature: 28 }, reason: 'Logger re-read: 28 °C', signature: sign('op1'), expectedVersion: volume.body.batch.version });
    expect(temperature.status).toBe(201);
    const after = await oos(b.id);
    expect(after.map((x) => x.why)).toEqual([
      'outside its specification: Transport temperature 30 °C (specification 2–25 °C)',
      'outside its specification: Transport temperature 28 °C (specification 2–25 °C)',
    ]);
    expect(after.every((x) => !x.why.includes('undefined'))).toBe(true);
  });
});
