// The records that the last writes and reads of batches folded, kept so that the next request on the
// same batch does not fold the same entries through its machine again (issue 12 item 7: a signed step
// replayed its whole batch before it could check anything, a cost that grows with every entry).
//
// A replay is a pure function of the batch's process and its entries (replay.ts: no clock, no
// database). A kept record is used only when the entries a request has just read from the store are
// exactly the rows it was folded from — same ids, kinds, payloads, times and chain hashes, in the same
// order — and the batch runs the same compiled process. So what a command decides on is still the
// replay of the batch's chained entries (21 CFR 11.10(a)), read in that request; only the fold is not
// done twice. Another app server's write, a rolled-back transaction or a row edited in the database
// makes the rows differ, and the batch is replayed as before. The snapshot, step history, deviations
// and QA state of a kept record are shared by the requests that use it: nothing may change them in
// place (a write folds onto copies: replayAppended).
import type { BatchRow, EntryRow, SignatureRow } from '../store/store.js';
import type { LoadedProcess } from '../processes/registry.js';
import type { BatchRecord } from './record.js';

/** How many entries the kept records may hold together (their rows stay in memory with them). */
const MAX_ENTRIES = 20_000;

const sameRows = (a: EntryRow[], b: EntryRow[]) => a.length === b.length && a.every((x, i) => {
  const y = b[i];
  return x.id === y.id && x.hash === y.hash && x.kind === y.kind && x.payload === y.payload && x.recordedAt === y.recordedAt;
});

export class RecordMemo {
  /** By batch id, the least recently used first (a Map keeps insertion order). */
  private readonly kept = new Map<string, BatchRecord>();
  private entries = 0;

  /**
   * The kept record of this batch if it was folded from exactly `entries` through `process`, with the
   * rows just read (`row` as replay passes it: its identity from the creation entry).
   */
  recall(process: LoadedProcess, row: BatchRow, entries: EntryRow[], signatures: SignatureRow[]): BatchRecord | undefined {
    const r = this.kept.get(row.id);
    if (!r || r.process !== process || !sameRows(r.entries, entries)) return undefined;
    this.kept.delete(row.id);
    this.kept.set(row.id, r);
    return { ...r, row, entries, signatures, version: entries.length };
  }

  /** Keeps a record folded from entries that are committed (after the write's transaction, or as read). */
  remember(r: BatchRecord) {
    this.forget(r.row.id);
    if (r.entries.length > MAX_ENTRIES) return;
    this.kept.set(r.row.id, r);
    this.entries += r.entries.length;
    for (const [id] of this.kept) {
      if (this.entries <= MAX_ENTRIES) break;
      this.forget(id);
    }
  }

  private forget(batchId: string) {
    const old = this.kept.get(batchId);
    if (!old) return;
    this.kept.delete(batchId);
    this.entries -= old.entries.length;
  }
}
