// The record in SQLite: entries, signatures and audit rows, append-only and hash-chained, their signed
// checkpoints and their verification.
import { asc, desc, eq, inArray } from 'drizzle-orm';
import { auditConditions } from '../audit-filter.js';
import { GENESIS, rowHash } from '../chain.js';
import { CHAIN_TABLES, checkpointOf, checkpointRow, type ChainTable, type Checkpoint, type Head } from '../checkpoints.js';
import {
  auditCells, entryCells, expectedHash, groupByBatch, page, signatureCells, stored,
  type AuditFilter, type AuditRow, type ChainedRows, type ChainStore, type EntryRow, type LegacyHeads, type NewAudit, type NewEntry,
  type NewSignature, type RowMismatch, type SignatureRow, type StoreOptions,
  CHECKPOINTS_BY_KEY, keyUseOf, type KeyUseRow,
} from '../store.js';
import * as t from '../tables.js';
import { clockWentBack } from '../../errors.js';
import type { SqliteConnection } from './connection.js';
import { verifyChains, verifyChainsInParallel } from './verify.js';

interface ClockAlert { table: ChainTable; observed: string; last: string }

/**
 * The chains' synchronous work on the connection, and what a transaction must know of it: the rows
 * appended since the last signed checkpoint, and a clock found gone back.
 */
export class SqliteChains {
  readonly legacyHeads: LegacyHeads;
  appendedSinceCheckpoint = 0;
  private clockAlert: ClockAlert | undefined;

  constructor(private readonly c: SqliteConnection, private readonly options: StoreOptions) {
    const setting = c.db.select().from(t.settings).where(eq(t.settings.key, 'chain.legacy-heads')).get()?.value;
    const legacy = JSON.parse(setting ?? '{}') as Partial<LegacyHeads>;
    this.legacyHeads = Object.fromEntries(CHAIN_TABLES.map((table) => [table, Number(legacy[table]) || 0])) as LegacyHeads;
    // Rows appended since the last signed checkpoint, also those of a run that crashed before signing.
    try {
      const last = options.signer ? this.lastCheckpoint() : undefined;
      const heads = this.heads();
      this.appendedSinceCheckpoint = CHAIN_TABLES.reduce((n, table) => n + Math.max(0, heads[table].seq - (last?.heads[table].seq ?? 0)), 0);
    } catch {
      this.appendedSinceCheckpoint = 0; // a damaged checkpoint is reported by verification
    }
  }

  /** The last row of each chain. */
  heads(): Record<ChainTable, Head> {
    return Object.fromEntries(CHAIN_TABLES.map((table) => {
      const last = this.c.q.last[table].get();
      return [table, last ? { seq: last.seq, hash: last.hash } : { seq: 0, hash: GENESIS }];
    })) as Record<ChainTable, Head>;
  }

  /**
   * Signs the current chain heads into the checkpoints table: one IMMEDIATE transaction (SQLite's write
   * lock) reads the heads and the last checkpoint and inserts the next, so another process writing the
   * same file cannot slip a row or a checkpoint in between. The mark beside the key moves after the commit.
   */
  checkpoint(reason: Checkpoint['reason']): Checkpoint | undefined {
    const signer = this.options.signer;
    if (!signer || !this.c.sqlite.open) return undefined;
    const at = (this.options.now ?? (() => new Date()))();
    let signed: Checkpoint | undefined;
    const c = this.c.sqlite.transaction(() => {
      const last = this.lastCheckpoint();
      const marked = signer.markedNumber();
      const next = signer.next(last, marked === undefined ? undefined : this.checkpointNumbered(marked), this.heads(), reason, at);
      if (next && next !== last) {
        this.insertCheckpoints([next]);
        signed = next;
      }
      return next;
    }).immediate();
    if (signed) signer.remember(signed);
    this.appendedSinceCheckpoint = 0;
    return c;
  }

  lastCheckpoint(): Checkpoint | undefined {
    const row = this.c.db.select().from(t.checkpoints).orderBy(desc(t.checkpoints.n)).limit(1).get();
    return row && checkpointOf(row);
  }

  checkpointNumbered(n: number): Checkpoint | undefined {
    const row = this.c.db.select().from(t.checkpoints).where(eq(t.checkpoints.n, n)).get();
    return row && checkpointOf(row);
  }

  insertCheckpoints(rows: Checkpoint[]) {
    for (const c of rows) this.c.db.insert(t.checkpoints).values(checkpointRow(c)).run();
  }

  /** After a commit: the heads are signed when the interval is due. A checkpoint that cannot be written never undoes or fails the request. */
  checkpointIfDue() {
    const every = this.options.checkpointEvery ?? 1000;
    if (!this.options.signer || this.appendedSinceCheckpoint < every) return;
    try {
      this.checkpoint('interval');
    } catch {
      // not signed now (the database busy or the mark unwritable): the count stands, the next commit tries again
    }
  }

  /**
   * After a rollback: nothing was appended (the count goes back to `before`), and a clock found gone
   * back is audited now, in a transaction of its own. Returns whether an alert was written.
   */
  afterRollback(before: number): boolean {
    this.appendedSinceCheckpoint = before;
    const alert = this.clockAlert;
    if (!alert) return false;
    this.clockAlert = undefined;
    try {
      this.writeClockAlert(alert);
    } catch {
      // the refusal stands; the alert could not be written (the database is not writable)
    }
    return true;
  }

  /**
   * The head a row dated `at` is chained onto, read once (inside the write transaction, never kept
   * between transactions): its hash, and its time for the clock check.
   *
   * ALCOA consistent, 21 CFR 11.10(e): time on every chain never goes backwards. A row dated before
   * the chain's last row means the clock went back; the write is refused (503) and, once the
   * transaction has rolled back, an alert row is written (afterRollback).
   */
  private headFor(table: ChainTable, at: string): Head {
    const last = this.c.q.last[table].get();
    if (!last) return { seq: 0, hash: GENESIS };
    if (at < last.at) {
      const e = clockWentBack(`the server's clock (${at}) is earlier than the last row of the ${table} chain (${last.at}): nothing is recorded until the clock is put right; QA and the administrator are alerted in the audit trail`);
      this.clockAlert = { table, observed: at, last: last.at };
      throw e;
    }
    return { seq: last.seq, hash: last.hash };
  }

  /** The alert of a clock that went back: one audit row dated at the audit chain's last time, the clock's reading inside. */
  private writeClockAlert(alert: ClockAlert) {
    const lastAudit = this.c.q.last.audit_log.get()?.at ?? alert.observed;
    const at = alert.observed > lastAudit ? alert.observed : lastAudit;
    this.c.sqlite.transaction(() => this.appendAudit({
      at, userId: null, action: 'clock.went-back', entity: 'clock', entityId: null, batchId: null, reason: 'the server clock reads earlier than the last recorded row',
      before: { lastRecordedAt: alert.last, chain: alert.table }, after: { clockReads: alert.observed },
    })).immediate();
  }

  /**
   * The batch's last batch_seq. Inside a transaction it is read once: the write lock keeps every other
   * writer out until the transaction ends, and its own appends move it on (appendEntry).
   */
  batchVersion(batchId: string): number {
    const frame = this.c.frame;
    const known = frame?.batchVersions.get(batchId);
    if (known !== undefined) return known;
    const version = this.c.q.batchVersion.get(batchId) as number;
    frame?.batchVersions.set(batchId, version);
    return version;
  }

  appendEntry(e: NewEntry): EntryRow {
    const last = this.headFor('entries', e.recordedAt);
    const base = { ...stored(e), seq: last.seq + 1, batchSeq: this.batchVersion(e.batchId) + 1 };
    const row: EntryRow = { ...base, prevHash: last.hash, hash: rowHash(last.hash, entryCells(base)) };
    this.c.q.insertEntry.run(row.seq, row.id, row.batchId, row.batchSeq, row.kind, row.stepId, row.payload, row.recordedAt, row.actorId, row.training ? 1 : 0, row.prevHash, row.hash);
    this.c.frame?.batchVersions.set(row.batchId, row.batchSeq);
    this.appendedSinceCheckpoint++;
    return row;
  }

  appendSignature(s: NewSignature): SignatureRow {
    const last = this.headFor('signatures', s.signedAt);
    const base = { ...stored(s), seq: last.seq + 1 };
    const row: SignatureRow = { ...base, prevHash: last.hash, hash: rowHash(last.hash, signatureCells(base)) };
    this.c.q.insertSignature.run(row.seq, row.id, row.entryId, row.entryHash, row.entrySeq, row.userId, row.username, row.printedName, row.meaning, row.signedAt, row.prevHash, row.hash);
    this.appendedSinceCheckpoint++;
    return row;
  }

  appendAudit(a: NewAudit): AuditRow {
    const last = this.headFor('audit_log', a.at);
    const base = stored({
      ...a, seq: last.seq + 1,
      before: a.before === undefined ? null : JSON.stringify(a.before),
      after: a.after === undefined ? null : JSON.stringify(a.after),
    });
    const row: AuditRow = { ...base, prevHash: last.hash, hash: rowHash(last.hash, auditCells(base)) };
    this.c.q.insertAudit.run(row.seq, row.at, row.userId, row.action, row.entity, row.entityId, row.batchId, row.before, row.after, row.reason, row.prevHash, row.hash);
    this.appendedSinceCheckpoint++;
    return row;
  }

  /** Rows chained elsewhere, as given (store.ts, insertChained): one SQLite transaction unless the caller's is open. */
  insertChained(rows: ChainedRows) {
    const { q, db, sqlite } = this.c;
    const insert = () => {
      this.c.frame?.batchVersions.clear(); // entries inserted as given: what the transaction knew of versions is read again
      for (const b of rows.batches ?? []) db.insert(t.batches).values(b).run();
      for (const r of rows.entries ?? []) q.insertEntry.run(r.seq, r.id, r.batchId, r.batchSeq, r.kind, r.stepId, r.payload, r.recordedAt, r.actorId, r.training ? 1 : 0, r.prevHash, r.hash);
      for (const r of rows.signatures ?? []) q.insertSignature.run(r.seq, r.id, r.entryId, r.entryHash, r.entrySeq, r.userId, r.username, r.printedName, r.meaning, r.signedAt, r.prevHash, r.hash);
      for (const r of rows.audit ?? []) q.insertAudit.run(r.seq, r.at, r.userId, r.action, r.entity, r.entityId, r.batchId, r.before, r.after, r.reason, r.prevHash, r.hash);
    };
    if (sqlite.inTransaction) insert();
    else sqlite.transaction(insert).immediate();
    this.appendedSinceCheckpoint += (rows.entries?.length ?? 0) + (rows.signatures?.length ?? 0) + (rows.audit?.length ?? 0);
  }

  listAudit(f: AuditFilter, limit: number, cursor?: string) {
    const rows = this.c.db.select().from(t.auditLog).where(auditConditions(t.auditLog, f, cursor)).orderBy(asc(t.auditLog.seq)).limit(limit + 1).all();
    return page(rows, limit, (r) => r.seq);
  }

  identityMismatches(): RowMismatch[] {
    const fields: [string, string, string][] = [
      ['batchNumber', 'b.batch_number', "e.payload ->> '$.batchNumber'"], ['din', 'b.din', "e.payload ->> '$.din'"],
      ['dinCheck', 'b.din_check', "e.payload ->> '$.dinCheck'"], ['chainOfIdentityId', 'b.chain_of_identity_id', "e.payload ->> '$.chainOfIdentityId'"],
      ['patient.id', "b.patient ->> '$.id'", "e.payload ->> '$.patient.id'"], ['patient.weightKg', "b.patient ->> '$.weightKg'", "e.payload ->> '$.patient.weightKg'"],
    ];
    const rows = this.c.sqlite.prepare(`select b.id, ${fields.map(([, r, c], i) => `${r} as r${i}, ${c} as c${i}`).join(', ')}
      from batches b join entries e on e.batch_id = b.id and e.kind = 'batch-created'
      where ${fields.map(([, r, c]) => `(${r}) is not (${c})`).join(' or ')} order by b.id`).all() as Record<string, unknown>[];
    return rows.flatMap((r) => fields.flatMap(([field], i) => (r[`r${i}`] === r[`c${i}`] ? [] : [{ table: 'batches' as const, row: String(r.id), field, row_value: r[`r${i}`], chain_value: r[`c${i}`] }])));
  }

  batchIntact(batchId: string, read?: { entries: EntryRow[]; signatures: SignatureRow[] }): boolean {
    const entries = read?.entries ?? this.c.q.entriesOfBatch.all({ batchId });
    const signatures = read?.signatures ?? this.c.q.signaturesOfBatch.all({ batchId });
    const byId = new Map(entries.map((e) => [e.id, e]));
    const belongs = (sg: SignatureRow) => {
      const e = byId.get(sg.entryId);
      return e?.hash === sg.entryHash && (sg.entrySeq === null || sg.entrySeq === e.seq);
    };
    return entries.every((e) => expectedHash('entries', e, this.legacyHeads) === e.hash) &&
      signatures.every((sg) => expectedHash('signatures', sg, this.legacyHeads) === sg.hash && belongs(sg)) &&
      this.c.q.auditOfBatch.all({ batchId }).every((a) => expectedHash('audit_log', a, this.legacyHeads) === a.hash);
  }

  /** The chains as the store's interface shows them. */
  store(): ChainStore {
    const { c } = this;
    const { db, q, sqlite } = c;
    const listAudit = this.listAudit.bind(this);
    const count = (table: string) => (sqlite.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n;
    return {
      legacyHeads: this.legacyHeads,
      appendEntry: (e) => c.run(() => this.appendEntry(e)),
      appendSignature: (s) => c.run(() => this.appendSignature(s)),
      appendAudit: (a) => c.run(() => this.appendAudit(a)),
      batchVersion: (batchId) => c.run(() => this.batchVersion(batchId)),
      entriesOfBatch: (batchId) => c.run(() => q.entriesOfBatch.all({ batchId })),
      getEntry: (id) => c.run(() => q.entry.get({ id })),
      signaturesOfBatch: (batchId) => c.run(() => q.signaturesOfBatch.all({ batchId })),
      signaturesOf: (entryIds) => c.run(() => (entryIds.length === 0 ? []
        : db.select().from(t.signatures).where(inArray(t.signatures.entryId, entryIds)).orderBy(asc(t.signatures.seq)).all())),
      recordsOfBatches: (batchIds) => c.run(() => groupByBatch(batchIds,
        db.select().from(t.entries).where(inArray(t.entries.batchId, batchIds)).orderBy(asc(t.entries.batchId), asc(t.entries.batchSeq)).all(),
        db.select({ batchId: t.entries.batchId, signature: t.signatures }).from(t.signatures).innerJoin(t.entries, eq(t.entries.id, t.signatures.entryId))
          .where(inArray(t.entries.batchId, batchIds)).orderBy(asc(t.signatures.seq)).all())),
      auditOfBatch: (batchId) => c.run(() => q.auditOfBatch.all({ batchId })),
      listAudit: (f, limit, cursor) => c.run(() => this.listAudit(f, limit, cursor)),
      iterateAudit: async function* (f) {
        let cursor: string | undefined;
        do {
          const page = await c.run(() => listAudit(f, 1000, cursor));
          yield* page.items;
          cursor = page.nextCursor;
        } while (cursor);
      },
      counts: () => c.run(() => ({ entries: count('entries'), signatures: count('signatures'), audit: count('audit_log') })),
      lastAudit: () => c.run(() => db.select().from(t.auditLog).orderBy(desc(t.auditLog.seq)).limit(1).get()),
      firstEntryTraining: () => c.run(() => {
        const first = sqlite.prepare('select training from entries order by seq limit 1').pluck().get() as number | undefined;
        return first === undefined ? undefined : first !== 0;
      }),
      countNotTraining: () => c.run(() => sqlite.prepare('select (select count(*) from batches where training = 0) + (select count(*) from entries where training = 0)').pluck().get() as number),
      insertChained: (rows) => c.run(() => this.insertChained(rows)),
      heads: () => c.run(() => this.heads()),
      checkpoint: (reason) => c.run(() => this.checkpoint(reason)),
      checkpoints: () => c.run(() => db.select().from(t.checkpoints).orderBy(asc(t.checkpoints.n)).all().map(checkpointOf)),
      lastCheckpoint: () => c.run(() => this.lastCheckpoint()),
      checkpointNumbered: (n) => c.run(() => this.checkpointNumbered(n)),
      checkpointsByKey: () => c.run(() => (sqlite.prepare(CHECKPOINTS_BY_KEY).all() as KeyUseRow[]).map(keyUseOf)),
      insertCheckpoints: (rows) => c.run(() => this.insertCheckpoints(rows)),
      identityMismatches: () => c.run(() => this.identityMismatches()),
      // Streaming, constant memory; a signature must also carry the hash of the entry it names, so one
      // copied onto another entry is caught (21 CFR 11.10(a), 11.70). See verify.ts.
      verifyChains: (checkpoints = []) => verifyChains(sqlite, this.legacyHeads, checkpoints, (fn) => c.holding(fn)),
      verifyChainsInParallel: (checkpoints = [], opts) =>
        verifyChainsInParallel(sqlite, c.file, this.legacyHeads, checkpoints, opts, (fn) => c.holding(fn)),
      batchIntact: (batchId, read) => c.run(() => this.batchIntact(batchId, read)),
    };
  }
}
