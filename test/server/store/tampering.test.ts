// Tampering with the database FILE while the server is stopped (21 CFR 11.10(a), 11.70): real data are
// recorded through HTTP, the app is closed (which signs a 'shutdown' checkpoint of the chain heads), the
// SQLite file or the checkpoint log is edited by hand, and the tampering must then be detected and
// located both by the offline verifier (`cellbatch verify --db FILE`) and by a server restarted on the
// same file (GET /audit/verify), with the batch view saying the record failed verification.
import Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../../server/app.js';
import { runCliAsync } from '../../../server/cli.js';
import { rowHash, GENESIS } from '../../../server/store/chain.js';
import { entryCells, signatureCells, type EntryRow, type SignatureRow } from '../../../server/store/store.js';
import { call, createBatch, harness, PASSWORD, recordReceipt, sign, type Harness } from '../../helpers.js';

type Table = 'entries' | 'signatures' | 'audit_log';
interface Report { valid: boolean; checked: number; checkpoints?: number; firstInvalid?: { table: string; seq: number; reason: string } }
interface Batch { id: string; version: number }

// The same column aliases as Store.verifyChains, so rows read here hash exactly as the verifier hashes them.
const ENTRY_COLS = 'seq, id, batch_id as batchId, batch_seq as batchSeq, kind, step_id as stepId, payload, recorded_at as recordedAt, actor_id as actorId, training, prev_hash as prevHash, hash';
const SIGNATURE_COLS = 'seq, id, entry_id as entryId, entry_hash as entryHash, entry_seq as entrySeq, user_id as userId, username, printed_name as printedName, meaning, signed_at as signedAt, prev_hash as prevHash, hash';


let h: Harness;
let dbFile: string;
let batch1: Batch;
let batch2: Batch;
/** Entry ids of what was recorded, by name. */
let ids: { receipt1: string; receipt2: string; sample: string };
const apps: FastifyInstance[] = [];


beforeEach(async () => {
  // A small interval: the chain heads are signed every 5 appended rows, and at shutdown.
  h = await harness({ checkpointEvery: 5 });
  const created1 = await createBatch(h, 'car-t', 1);
  const receipt1 = await recordReceipt(h, created1, 1);
  const created2 = await createBatch(h, 'car-t', 2);
  const receipt2 = await recordReceipt(h, created2, 2);
  const sample = await call(h, 'op1', 'POST', `/batches/${created1.id}/steps/starting-material-sample`, {
    values: { wbcConcentration: 25, viability: 85, cd3Positive: 55 }, signature: sign('op1'), expectedVersion: receipt1.batch.version,
  });
  expect(sample.status, JSON.stringify(sample.body)).toBe(201);
  const verified = await call(h, 'op2', 'POST', `/batches/${created1.id}/entries/${sample.body.entry.id}/verify`, { signature: sign('op2') });
  expect(verified.status, JSON.stringify(verified.body)).toBe(201);
  batch1 = verified.body.batch as Batch;
  batch2 = receipt2.batch;
  ids = { receipt1: receipt1.entry.id, receipt2: receipt2.entry.id, sample: sample.body.entry.id as string };
  dbFile = path.join(h.dir, 'cellbatch.db');
  await h.app.close(); // the server stops: a 'shutdown' checkpoint signs the final chain heads
});

afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
  fs.rmSync(h.dir, { recursive: true, force: true });
});

// ─── the forger's tools: the database file opened directly, the server stopped ─────────────

/** The signed checkpoints as the file holds them. */
function signedCheckpoints() {
  const db = new Database(dbFile, { readonly: true });
  try {
    return db.prepare('select n, reason from checkpoints order by n').all() as { n: number; reason: string }[];
  } finally {
    db.close();
  }
}

function tamper(fn: (db: Database.Database) => void) {
  const db = new Database(dbFile);
  try {
    fn(db);
  } finally {
    db.close();
  }
}

/** Drops the append-only triggers of a table, runs the edit, and puts the triggers back as they were. */
function behindTriggers(db: Database.Database, table: Table, edit: () => void) {
  const triggers = db.prepare("select name, sql from sqlite_master where type = 'trigger' and tbl_name = ?").all(table) as { name: string; sql: string }[];
  expect(triggers.length).toBe(2);
  for (const t of triggers) db.exec(`DROP TRIGGER ${t.name}`);
  edit();
  for (const t of triggers) db.exec(t.sql);
}

const entryRows = (db: Database.Database, fromSeq = 1) =>
  (db.prepare(`select ${ENTRY_COLS} from entries where seq >= ? order by seq`).all(fromSeq) as EntryRow[]).map((r) => ({ ...r, training: Boolean(r.training) }));
const signatureRows = (db: Database.Database, fromSeq = 1) => db.prepare(`select ${SIGNATURE_COLS} from signatures where seq >= ? order by seq`).all(fromSeq) as SignatureRow[];
const hashAt = (db: Database.Database, table: Table, seq: number) =>
  seq < 1 ? GENESIS : (db.prepare(`select hash from ${table} where seq = ?`).pluck().get(seq) as string);

/** Recomputes prev_hash and hash of every entry from `fromSeq` to the end: the entries chain alone is consistent again. */
function rehashEntries(db: Database.Database, fromSeq: number) {
  let prev = hashAt(db, 'entries', fromSeq - 1);
  const update = db.prepare('update entries set prev_hash = ?, hash = ? where seq = ?');
  for (const r of entryRows(db, fromSeq)) {
    const hash = rowHash(prev, entryCells(r));
    update.run(prev, hash, r.seq);
    prev = hash;
  }
}

/** Recomputes prev_hash and hash of every signature from `fromSeq` to the end. */
function rehashSignatures(db: Database.Database, fromSeq: number) {
  let prev = hashAt(db, 'signatures', fromSeq - 1);
  const update = db.prepare('update signatures set prev_hash = ?, hash = ? where seq = ?');
  for (const r of signatureRows(db, fromSeq)) {
    const hash = rowHash(prev, signatureCells(r));
    update.run(prev, hash, r.seq);
    prev = hash;
  }
}

/** Rows of a chain whose own hash no longer matches, or whose link is broken: what a forger must leave at zero. */
function chainBreaks(db: Database.Database, table: 'entries' | 'signatures') {
  const rows = table === 'entries' ? entryRows(db) : signatureRows(db);
  let prev = GENESIS;
  let breaks = 0;
  for (const r of rows) {
    const cells = table === 'entries' ? entryCells(r as EntryRow) : signatureCells(r as SignatureRow);
    if (r.prevHash !== prev || rowHash(prev, cells) !== r.hash) breaks++;
    prev = r.hash;
  }
  return breaks;
}

// ─── the two verifiers ───────────────────────────────────────────────────

/** `cellbatch verify --db FILE`: exit code and its one-line JSON report. */
async function cliVerify() {
  const r = await runCliAsync(['verify', '--db', dbFile]);
  expect(r.lines).toHaveLength(1);
  return { code: r.code, report: JSON.parse(r.lines[0]) as Report };
}

/** A new server on the same file, qa1 logged in with their password. */
async function restart() {
  const { app, ctx } = await buildApp({ dbFile, training: true, now: () => h.wall.now });
  apps.push(app);
  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'qa1', password: PASSWORD } });
  expect(login.statusCode, login.body).toBe(200);
  const token = login.json().token as string;
  const get = async (url: string) => {
    const r = await app.inject({ method: 'GET', url: `/api/v1${url}`, headers: { authorization: `Bearer ${token}` } });
    expect(r.statusCode, r.body).toBe(200);
    return r.json() as Record<string, unknown>;
  };
  return {
    app, ctx,
    verify: async () => (await get('/audit/verify')) as unknown as Report,
    integrity: async (batchId: string) => (await get(`/batches/${batchId}`)).integrity,
  };
}

/** Both verifiers must say invalid and name the same first broken row; returns the served report. */
async function expectDetected(located: { table: string; seq?: number }) {
  const cli = await cliVerify();
  expect(cli.code, JSON.stringify(cli.report)).toBe(1);
  expect(cli.report.valid).toBe(false);
  expect(cli.report.firstInvalid).toMatchObject(located);
  const server = await restart();
  const served = await server.verify();
  expect(served.valid, JSON.stringify(served)).toBe(false);
  expect(served.firstInvalid).toMatchObject(located);
  // The offline verifier and the server locate the same row for the same reason.
  expect(served.firstInvalid).toEqual(cli.report.firstInvalid);
  return { cli: cli.report, served, server };
}

// ─── the tests ───────────────────────────────────────────────────────────

describe('the recorded data this file tampers with', () => {
  it('R1 [11.10(a)]: an intact database verifies — exit 0, valid, every row of the three chains checked', async () => {
    let total = 0;
    tamper((db) => {
      const n = (t: Table) => db.prepare(`select count(*) from ${t}`).pluck().get() as number;
      const counts = { entries: n('entries'), signatures: n('signatures'), audit: n('audit_log') };
      expect(counts.entries).toBeGreaterThanOrEqual(5);
      expect(counts.signatures).toBeGreaterThanOrEqual(4);
      // Seq 2 is batch 1's apheresis receipt and seq 3 batch 2's creation: the rows the cases below edit.
      expect(entryRows(db).slice(0, 4).map((r) => [r.batchId, r.kind])).toEqual([
        [batch1.id, 'batch-created'], [batch1.id, 'step'], [batch2.id, 'batch-created'], [batch2.id, 'step'],
      ]);
      total = counts.entries + counts.signatures + counts.audit;
    });
    const lines = signedCheckpoints();
    expect(lines.length).toBeGreaterThan(3);
    expect(lines[lines.length - 1]!.reason).toBe('shutdown');

    const cli = await cliVerify();
    expect(cli.code).toBe(0);
    expect(cli.report).toEqual({ valid: true, checked: total, checkpoints: lines.length });

    const server = await restart();
    const expected = await (async () => { const c = await server.ctx.store.counts(); return c.entries + c.signatures + c.audit; })();
    const served = await server.verify();
    expect(served.valid).toBe(true);
    expect(served.firstInvalid).toBeUndefined();
    expect(served.checked).toBe(expected);
    expect(await server.integrity(batch1.id)).toBe(true);
    expect(await server.integrity(batch2.id)).toBe(true);
  });
});

describe('R1: rows updated in the file behind the triggers are located', () => {
  it('R1 [11.10(a)]: an entry edited in the file is detected and located', async () => {
    tamper((db) => {
      const row = entryRows(db, 2)[0];
      expect(row.id).toBe(ids.receipt1);
      const payload = JSON.parse(row.payload) as { values: Record<string, unknown> };
      expect(payload.values.transportTemperature).toBe(6);
      payload.values.transportTemperature = 4;
      behindTriggers(db, 'entries', () => db.prepare('update entries set payload = ? where seq = 2').run(JSON.stringify(payload)));
    });
    const { served, server } = await expectDetected({ table: 'entries', seq: 2 });
    expect(served.firstInvalid!.reason).toMatch(/does not match its hash/);
    expect(await server.integrity(batch1.id)).toBe(false);
    expect(await server.integrity(batch2.id)).toBe(true);
  });

  it("R1 [11.10(a)], S1 [11.50]: a signature's printed name edited in the file is detected and located", async () => {
    let seq = 0;
    tamper((db) => {
      const sig = signatureRows(db).find((s) => s.entryId === ids.receipt2)!;
      expect(sig.printedName).toBe('Test OP1');
      seq = sig.seq;
      behindTriggers(db, 'signatures', () => db.prepare("update signatures set printed_name = 'Somebody Else' where seq = ?").run(seq));
    });
    const { served, server } = await expectDetected({ table: 'signatures', seq });
    expect(served.firstInvalid!.reason).toMatch(/does not match its hash/);
    expect(await server.integrity(batch2.id)).toBe(false);
    expect(await server.integrity(batch1.id)).toBe(true);
  });

  it("R1 [11.10(a)], R6 [11.10(e)]: an audit row's reason edited in the file is detected and located", async () => {
    let seq = 0;
    tamper((db) => {
      seq = db.prepare('select seq from audit_log where batch_id = ? order by seq limit 1').pluck().get(batch1.id) as number;
      expect(seq).toBeGreaterThan(1);
      behindTriggers(db, 'audit_log', () => db.prepare("update audit_log set reason = 'nothing happened here' where seq = ?").run(seq));
    });
    const { served, server } = await expectDetected({ table: 'audit_log', seq });
    expect(served.firstInvalid!.reason).toMatch(/does not match its hash/);
    expect(await server.integrity(batch1.id)).toBe(false);
  });
});

describe('R1: rows deleted or reordered in the file are located', () => {
  it('R1 [11.10(a)]: an entry deleted from the middle of the chain is located as missing', async () => {
    tamper((db) => behindTriggers(db, 'entries', () => db.prepare('delete from entries where seq = 3').run()));
    const { served } = await expectDetected({ table: 'entries', seq: 3 });
    expect(served.firstInvalid!.reason).toMatch(/missing/);
  });

  it('R1 [11.10(a)]: the last entries deleted (the tail of the chain) are detected through the signed checkpoints', async () => {
    let first = 0;
    tamper((db) => {
      const last = db.prepare('select max(seq) from entries').pluck().get() as number;
      first = last - 1;
      behindTriggers(db, 'entries', () => db.prepare('delete from entries where seq >= ?').run(first));
      // What is left is a perfectly linked chain: only the signed heads know it was longer.
      expect(chainBreaks(db, 'entries')).toBe(0);
    });
    const { served } = await expectDetected({ table: 'entries', seq: first });
    expect(served.firstInvalid!.reason).toMatch(/missing/);
    expect(served.firstInvalid!.reason).toMatch(/checkpoint/);
  });

  it('R1 [11.10(a)]: two entries swapped (contents of seq 2 and 3 exchanged, seq kept) are located', async () => {
    tamper((db) => {
      const [two, three] = entryRows(db, 2).slice(0, 2);
      const set = db.prepare('update entries set id = ?, batch_id = ?, batch_seq = ?, kind = ?, step_id = ?, payload = ?, recorded_at = ?, actor_id = ?, training = ?, prev_hash = ?, hash = ? where seq = ?');
      const put = (r: EntryRow, seq: number) => set.run(r.id, r.batchId, r.batchSeq, r.kind, r.stepId, r.payload, r.recordedAt, r.actorId, r.training ? 1 : 0, r.prevHash, r.hash, seq);
      behindTriggers(db, 'entries', () => {
        db.prepare("update entries set id = 'swap', batch_id = 'swap' where seq = 3").run(); // free the unique keys first
        put(three, 2);
        put(two, 3);
      });
      expect(entryRows(db, 2)[0].id).toBe(three.id);
    });
    await expectDetected({ table: 'entries', seq: 2 });
  });
});

describe('S2: a signature is bound to what it signed', () => {
  it('S2 [11.70]: a signature copied onto another entry is detected, even with the signatures chain recomputed', async () => {
    let seq = 0;
    tamper((db) => {
      // op1's 'performed' signature of batch 1's starting-material sample moves onto batch 2's receipt.
      const sig = signatureRows(db).find((s) => s.entryId === ids.sample && s.meaning === 'performed')!;
      expect(sig).toBeDefined();
      seq = sig.seq;
      const other = db.prepare('select id, hash from entries where id = ?').get(ids.receipt2) as { id: string; hash: string };
      behindTriggers(db, 'signatures', () => {
        db.prepare('update signatures set entry_id = ?, entry_hash = ? where seq = ?').run(other.id, other.hash, seq);
        rehashSignatures(db, seq);
      });
      // The forgery is self-consistent: every link and row hash of the signatures chain holds.
      expect(chainBreaks(db, 'signatures')).toBe(0);
    });
    const cli = await cliVerify();
    expect(cli.code).toBe(1);
    expect(cli.report.valid).toBe(false);
    expect(cli.report.firstInvalid?.table).toBe('signatures');
    expect(cli.report.firstInvalid!.seq).toBeGreaterThanOrEqual(1);
    expect(cli.report.firstInvalid!.seq).toBeLessThanOrEqual(seq);
    expect(cli.report.firstInvalid!.reason).toMatch(/checkpoint|does not belong/);
    const server = await restart();
    const served = await server.verify();
    expect(served.valid).toBe(false);
    expect(served.firstInvalid).toEqual(cli.report.firstInvalid);
  });
});

describe('R1: a chain rewritten with every later hash recomputed', () => {
  /** Changes a value of entry seq 2 (batch 1's receipt) and recomputes hash and prev_hash of seq 2 to the end. */
  const rewrite = () => tamper((db) => {
    const row = entryRows(db, 2)[0];
    expect(row.id).toBe(ids.receipt1);
    const payload = JSON.parse(row.payload) as { values: Record<string, unknown> };
    payload.values.volume = 250;
    behindTriggers(db, 'entries', () => {
      db.prepare('update entries set payload = ? where seq = 2').run(JSON.stringify(payload));
      rehashEntries(db, 2);
    });
    expect(chainBreaks(db, 'entries')).toBe(0);
  });

  it('R1 [11.10(a)]: an entry edited with every later hash recomputed is still detected through the signed checkpoints, located to the checkpoint interval', async () => {
    rewrite();
    const cli = await cliVerify();
    expect(cli.code).toBe(1);
    expect(cli.report.valid).toBe(false);
    expect(cli.report.firstInvalid?.table).toBe('entries');
    expect(cli.report.firstInvalid!.seq).toBeGreaterThanOrEqual(1);
    expect(cli.report.firstInvalid!.seq).toBeLessThanOrEqual(2);
    expect(cli.report.firstInvalid!.reason).toMatch(/checkpoint/);

    const server = await restart();
    const served = await server.verify();
    expect(served.valid).toBe(false);
    expect(served.firstInvalid).toEqual(cli.report.firstInvalid);

    // The restarted server signs its own heads at shutdown: the older signed checkpoints still contradict the file.
    await server.app.close();
    const again = await cliVerify();
    expect(again.code).toBe(1);
    expect(again.report.firstInvalid).toEqual(cli.report.firstInvalid);
  });

  it('R1 [11.10(a)]: the batch view says the record failed verification for a batch whose entry was rewritten with recomputed hashes', async () => {
    rewrite();
    // A thorough forger also re-binds the signatures to the recomputed entry hashes and recomputes that chain.
    tamper((db) => behindTriggers(db, 'signatures', () => {
      const hashOf = db.prepare('select hash from entries where id = ?').pluck();
      const rebind = db.prepare('update signatures set entry_hash = ? where seq = ?');
      for (const s of signatureRows(db)) rebind.run(hashOf.get(s.entryId) as string, s.seq);
      rehashSignatures(db, 1);
      expect(chainBreaks(db, 'signatures')).toBe(0);
    }));
    const server = await restart();
    expect((await server.verify()).valid).toBe(false);
    expect(await server.integrity(batch1.id)).toBe(false);
  });

  it('R1 [11.10(a)], S2 [11.70]: the batch view says the record failed verification for the batch shown a copied signature', async () => {
    tamper((db) => {
      const sig = signatureRows(db).find((s) => s.entryId === ids.sample && s.meaning === 'performed')!;
      const other = db.prepare('select id, hash from entries where id = ?').get(ids.receipt2) as { id: string; hash: string };
      behindTriggers(db, 'signatures', () => {
        db.prepare('update signatures set entry_id = ?, entry_hash = ? where seq = ?').run(other.id, other.hash, sig.seq);
        rehashSignatures(db, sig.seq);
      });
    });
    const server = await restart();
    expect((await server.verify()).valid).toBe(false);
    expect(await server.integrity(batch2.id)).toBe(false);
  });
});

describe('R1: the signed checkpoints themselves', () => {
  /** The last `lines` checkpoints removed from the table, as a forger holding the file could. */
  const truncateLog = (lines: number) => {
    const all = signedCheckpoints();
    expect(all.length).toBeGreaterThan(lines);
    const kept = all.length - lines;
    tamper((db) => {
      const triggers = db.prepare("select name, sql from sqlite_master where type = 'trigger' and tbl_name = 'checkpoints'").all() as { name: string; sql: string }[];
      for (const t of triggers) db.exec(`DROP TRIGGER ${t.name}`);
      db.prepare('delete from checkpoints where n > ?').run(kept);
      for (const t of triggers) db.exec(t.sql);
    });
    return kept;
  };

  it('R1 [11.10(a)]: the checkpoints cut short (the last rows removed) are detected', async () => {
    const kept = truncateLog(2);
    const { served } = await expectDetected({ table: 'checkpoints', seq: kept });
    expect(served.firstInvalid!.reason).toMatch(/cut short/);
  });

  it('R1 [11.10(a)]: checkpoints cut short stay detected after a restarted server was refused new checkpoints', async () => {
    truncateLog(2);
    const server = await restart();
    expect((await server.verify()).firstInvalid).toMatchObject({ table: 'checkpoints' });
    await server.app.close(); // signs no 'shutdown' checkpoint onto the shortened chain
    const cli = await cliVerify();
    expect(cli.code, JSON.stringify(cli.report)).toBe(1);
    expect(cli.report.firstInvalid).toMatchObject({ table: 'checkpoints' });
  });
});
