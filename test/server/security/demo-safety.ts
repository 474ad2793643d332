// What the demo-safety tests of both stores share: a record holding the demo's mark and batches
// marked TRAINING or not, written through the store's interface as any store holds them.
import { randomUUID } from 'node:crypto';
import { openStore } from '../../../server/store/open.js';
import { DEMO_MARK } from '../../../server/demo-safety.js';
import type { BatchRow } from '../../../server/store/store.js';

export function batchRow(n: number, training: boolean): BatchRow {
  const at = '2026-03-02T08:00:00.000Z';
  return {
    id: randomUUID(), batchNumber: `CT-DEMO-${n}`, processId: 'car-t', processVersion: 1, processHash: 'f'.repeat(64), status: 'in_process',
    version: 0, din: `W12342600000${n}`, dinCheck: 'A', chainOfIdentityId: `COI-${n}`, patient: { id: `PT-${n}`, weightKg: 70 }, donor: null,
    training, openDeviations: 0, createdAt: at, updatedAt: at, recordState: null,
  };
}

/** Writes into the record at `location` (migrated first): the demo's mark if asked, and one batch per entry of `batches` (true: marked TRAINING). */
export async function writeRecord(location: string, o: { mark: boolean; batches: boolean[] }) {
  const store = await openStore(location);
  try {
    if (o.mark) await store.putSetting(DEMO_MARK, '1');
    await store.insertChained({ batches: o.batches.map((training, i) => batchRow(i + 1 + Math.floor(Math.random() * 1e6), training)) });
  } finally {
    await store.close();
  }
}
