// Builds a large cellbatch database quickly, for the read and verification benchmarks.
//
// 1. Through the product's own services and commands (createContext, createUser, registerMaterial,
//    registerEquipment, createBatch, recordStep, verifyEntry, the training clock): users, a released
//    lot and calibrated equipment for every CAR-T field, and ONE template CAR-T batch recorded up to its
//    third culture check (13 entries: created, receipt, sample, selection, activation, transduction,
//    their four verifications, three culture checks), with its signatures and audit rows.
// 2. A fast path for the rest: every other batch is a copy of the template (new batch id, batch number,
//    DIN, chain-of-identity id, patient id and entry ids), and every batch is filled up with further
//    culture checks (a repeatable step, so the batch still replays) to entries/batches entries, each
//    with its "performed" signature and its audit row. Rows are chained exactly as the store chains them,
//    `rowHash(prev, entryCells(row))` (signatureHashed, auditHashed), and handed to the store in bulk
//    (Store.insertChained) in big transactions. Batches are written `--in-flight` at a time (default
//    100) with their entries interleaved, as batches running side by side would leave them in the table.
// 3. The chain heads are signed into the checkpoints table, as the server does.
// Everything goes through the store's interface, so the same seeder fills a SQLite file or, with
// `--database-url` (or CELLBATCH_DATABASE_URL), an empty PostgreSQL database (the signing key then
// lives beside --db).
//
//   tsx bench/seed.ts --db /tmp/x/cellbatch.db [--batches 1000] [--entries 200000] [--in-flight 100]
//   tsx bench/seed.ts --full            # 10,000 batches, 5,000,000 entries
//   tsx bench/seed.ts --database-url postgres://… --batches 10000 --entries 200000
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { createContext } from '../server/app.js';
import type { AppContext } from '../server/context.js';
import { createUser } from '../server/services/accounts.js';
import { registerEquipment, registerMaterial } from '../server/services/materials.js';
import { moveTrainingClock } from '../server/services/training-clock.js';
import { createBatch } from '../server/commands/create-batch.js';
import { recordStep } from '../server/commands/record-step.js';
import { verifyEntry } from '../server/commands/verify-entry.js';
import { loadBatch } from '../server/record/load.js';
import { fillReadModel } from '../server/services/projection.js';
import { chainOfIdentityId, randomAlnum6 } from '../server/domain/isbt128.js';
import { rowHash } from '../server/store/chain.js';
import { auditCells, entryCells, signatureCells, type AuditRow, type BatchRow, type ChainedRows, type EntryRow, type SignatureRow, type UserRow } from '../server/store/store.js';
import { allSteps } from '../workflows/definition.js';
import { redactUrl } from '../server/store/postgres/database.js';
import { din, fmt, isMain, parseArgs, PASSWORD, scaleOf, tempDir, numberOption } from './lib.js';

export interface SeedOptions {
  /** The SQLite file; with `databaseUrl`, only where the key folder (keys/ beside it) is placed. */
  dbFile: string;
  /** An empty PostgreSQL database to seed instead of the SQLite file. */
  databaseUrl?: string;
  batches: number;
  /** Entries in all; each batch gets entries / batches (at least the template's 13). */
  entries: number;
  /** Batches written side by side, their entries interleaved (default 100). */
  inFlight?: number;
  log?: (line: string) => void;
}

export interface SeedResult {
  dbFile: string;
  databaseUrl?: string;
  batches: number;
  entriesPerBatch: number;
  entries: number;
  signatures: number;
  audit: number;
  seconds: number;
  batchIds: string[];
}

const HOUR = 3_600_000;
export const TEMPLATE_ENTRIES = 13;

/** Users of the seeded database; all have PASSWORD. */
export const SEED_USERS = { admin: 'admin', supervisor: 'sup1', qa: 'qa1', operator: 'op1', verifier: 'op2' } as const;

async function users(ctx: AppContext) {
  const make = async (username: string, roles: ('admin' | 'supervisor' | 'qa' | 'operator')[]) => {
    await createUser(ctx, null, { username, fullName: `Bench ${username.toUpperCase()}`, roles, password: PASSWORD }, false);
    return (await ctx.store.findUserByUsername(username))!;
  };
  return {
    admin: await make(SEED_USERS.admin, ['admin']),
    sup: await make(SEED_USERS.supervisor, ['supervisor']),
    qa: await make(SEED_USERS.qa, ['qa']),
    op1: await make(SEED_USERS.operator, ['operator']),
    op2: await make(SEED_USERS.verifier, ['operator']),
  };
}

/** A released lot (registered by QA) and calibrated equipment for every lot and equipment field of CAR-T (as registerCatalogue in the tests). */
async function catalogue(ctx: AppContext, sup: UserRow, qa: UserRow) {
  const def = ctx.processes.current('car-t')!.definition;
  const until = new Date(ctx.clock.now().getTime() + 400 * 24 * HOUR).toISOString().slice(0, 10);
  const lots: Record<string, string> = {};
  const equipment: Record<string, string> = {};
  for (const f of allSteps(def).flatMap((s) => s.fields)) {
    if (f.kind === 'lot' && f.materialType && !lots[f.materialType]) {
      lots[f.materialType] = (await registerMaterial(ctx, qa, { type: f.materialType, name: `${f.materialType} bench lot`, lotNumber: `L-${f.materialType}`, expiresOn: until, status: 'released' })).id;
    }
    if (f.kind === 'equipment' && f.equipmentType && !equipment[f.equipmentType]) {
      equipment[f.equipmentType] = (await registerEquipment(ctx, sup, { assetId: `EQ-${f.equipmentType}`, type: f.equipmentType, name: `${f.equipmentType} bench unit`, calibrationDueOn: until })).id;
    }
  }
  return { lots, equipment };
}

/** The template batch, recorded through the product's commands on the training clock, every step in its window. */
async function templateBatch(ctx: AppContext, u: Awaited<ReturnType<typeof users>>) {
  const { lots, equipment } = await catalogue(ctx, u.sup, u.qa);
  const d = din(1);
  let record = await createBatch(ctx, u.op1, { processId: 'car-t', din: { din: d.din, check: d.check }, patient: { id: 'PT-1', weightKg: 70 } });
  const id = record.row.id;
  const now = () => ctx.clock.now().getTime();
  const advance = async (hours: number) => { if (hours > 0) await moveTrainingClock(ctx, u.sup, { advanceHours: hours }); };
  const sign = (user: UserRow) => ({ username: user.username, password: PASSWORD });
  const step = async (stepId: string, values: Record<string, unknown>, verify: boolean) => {
    const r = await recordStep(ctx, u.op1, id, stepId, { values, signature: sign(u.op1), expectedVersion: record.version });
    record = r.record;
    if (verify) record = (await verifyEntry(ctx, u.op2, id, r.entryId, { signature: sign(u.op2), expectedVersion: record.version })).record;
  };
  const iso = (ms: number) => new Date(ms).toISOString();
  await step('apheresis-receipt', { bagScan: d.keyed, collectionEnd: iso(now() - 20 * HOUR), receivedAt: iso(now() - HOUR / 2), transportTemperature: 4, volume: 220 }, false);
  await advance(0.5);
  await step('starting-material-sample', { wbcConcentration: 28.5, viability: 94, cd3Positive: 62 }, true);
  await advance(2);
  await step('cd4-cd8-selection', {
    cellProcessor: equipment['cell-processor'], cd4BeadsLot: lots['cd4-microbeads'], cd8BeadsLot: lots['cd8-microbeads'],
    bufferLot: lots.buffer, viableCellsSelected: 420, viability: 96, cd3Purity: 97.5,
  }, true);
  await advance(1);
  const day0 = now();
  await step('activation', { transactLot: lots.transact, mediumLot: lots.medium, il7Lot: lots['il-7'], il15Lot: lots['il-15'], viableCellsSeeded: 80, startTime: iso(day0) }, true);
  const toHour = (h: number) => advance((day0 + h * HOUR - now()) / HOUR);
  await toHour(24);
  await step('transduction', { vectorLot: lots['lentiviral-vector'], moi: 5, vectorVolume: 2.5 }, true);
  await toHour(74);
  await step('culture-check', { viableCellDensity: 1.2, viability: 91, cultureVolume: 70, mediumAdded: 100, mediumLot: lots.medium }, false);
  await toHour(122);
  await step('culture-check', { viableCellDensity: 2.5, viability: 93, cultureVolume: 170 }, false);
  await toHour(170);
  await step('culture-check', { viableCellDensity: 5, viability: 94, cultureVolume: 500 }, false);
  if (record.version !== TEMPLATE_ENTRIES || record.deviations.length) {
    throw new Error(`the template batch has ${record.version} entries and ${record.deviations.length} deviations; expected ${TEMPLATE_ENTRIES} and none`);
  }
  return record;
}

/** What one template entry brings with it: the signatures and audit rows its command wrote. */
interface TemplateItem { entry: EntryRow; payload: Record<string, unknown>; sigs: SignatureRow[]; audits: (AuditRow & { afterJson: unknown })[] }

function templateItems(entries: EntryRow[], sigs: SignatureRow[], audits: AuditRow[]): TemplateItem[] {
  const usedSigs = new Set<number>();
  const usedAudits = new Set<number>();
  const items = entries.map((entry): TemplateItem => {
    const payload = JSON.parse(entry.payload) as Record<string, unknown>;
    const target = entry.kind === 'verification' ? String(payload.entryId) : entry.id;
    const meaning = entry.kind === 'verification' ? 'verified' : 'performed';
    const action = entry.kind === 'batch-created' ? 'batch.created' : entry.kind === 'verification' ? 'step.verified' : 'step.recorded';
    const s = entry.kind === 'batch-created' ? [] : sigs.filter((x) => x.entryId === target && x.meaning === meaning);
    const a = audits.filter((x) => x.action === action && (entry.kind === 'batch-created' || x.entityId === target));
    s.forEach((x) => usedSigs.add(x.seq));
    a.forEach((x) => usedAudits.add(x.seq));
    return { entry, payload, sigs: s, audits: a.map((x) => ({ ...x, afterJson: x.after === null ? null : JSON.parse(x.after) })) };
  });
  if (usedSigs.size !== sigs.length || usedAudits.size !== audits.length) {
    throw new Error(`the template batch wrote rows the seeder does not know how to copy (${sigs.length - usedSigs.size} signatures, ${audits.length - usedAudits.size} audit rows): update bench/seed.ts`);
  }
  return items;
}

/** Copies a JSON value, replacing string leaves found in `map` (ids, batch number, DIN...) and the DIN check character. */
function remap(value: unknown, map: Map<string, string>, check: [string, string]): unknown {
  if (typeof value === 'string') return map.get(value) ?? value;
  if (Array.isArray(value)) return value.map((v) => remap(v, map, check));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = k === 'dinCheck' && v === check[0] ? check[1] : remap(v, map, check);
    return out;
  }
  return value;
}

export async function seedDatabase(o: SeedOptions): Promise<SeedResult> {
  const log = o.log ?? ((line: string) => console.log(line));
  const perBatch = Math.floor(o.entries / o.batches);
  if (perBatch < TEMPLATE_ENTRIES) throw new Error(`at least ${TEMPLATE_ENTRIES} entries per batch are needed (asked: ${o.entries} entries for ${o.batches} batches)`);
  const inFlight = Math.max(1, Math.min(o.inFlight ?? 100, o.batches));
  const t0 = performance.now();
  fs.mkdirSync(path.dirname(path.resolve(o.dbFile)), { recursive: true });
  const ctx = await createContext({ dbFile: o.dbFile, databaseUrl: o.databaseUrl, training: true });
  const { store } = ctx;
  try {
    const u = await users(ctx);
    const tpl = await templateBatch(ctx, u);
    const tplRow = tpl.row;
    const tplEntries = await store.entriesOfBatch(tplRow.id);
    const items = templateItems(tplEntries, await store.signaturesOf(tplEntries.map((e) => e.id)), (await store.listAudit({ batchId: tplRow.id }, 10_000)).items);
    const extra = items[items.length - 1]; // the third culture check: copied for every further entry
    if (extra.entry.kind !== 'step' || extra.payload.stepId !== 'culture-check') throw new Error('the template does not end with a culture check');
    const tplPatientId = tplRow.patient!.id;
    const tplDin = din(1);
    const batchPrefix = tplRow.batchNumber.slice(0, -5);

    // Fast path: rows chained here with the store's own hashing, handed to the store in bulk, in big transactions.
    let rows: Required<ChainedRows> = { batches: [], entries: [], signatures: [], audit: [] };
    const flush = async () => {
      const these = rows;
      rows = { batches: [], entries: [], signatures: [], audit: [] };
      await store.transaction(() => store.insertChained(these));
    };
    const heads = await store.heads();
    const chain = {
      entries: { ...heads.entries }, signatures: { ...heads.signatures }, audit: { ...heads.audit_log },
    };
    let nEntries = 0, nSigs = 0, nAudit = 0;

    interface Seeded { id: string; map: Map<string, string>; check: [string, string]; hashes: Map<string, { hash: string; seq: number }>; next: number }
    const newBatch = (k: number): Seeded => {
      if (k === 0) return { id: tplRow.id, map: new Map(), check: [tplDin.check, tplDin.check], hashes: new Map(tplEntries.map((e) => [e.id, { hash: e.hash, seq: e.seq }])), next: TEMPLATE_ENTRIES };
      const d = din(k + 1);
      const id = randomUUID();
      const batchNumber = `${batchPrefix}${String(k + 1).padStart(5, '0')}`;
      const coi = chainOfIdentityId(d.din, randomAlnum6());
      const patient = { id: `PT-${k + 1}`, weightKg: tplRow.patient!.weightKg };
      const map = new Map<string, string>([
        [tplRow.id, id], [tplRow.batchNumber, batchNumber], [tplDin.keyed, d.keyed], [tplDin.din, d.din],
        [tplRow.chainOfIdentityId, coi], [tplPatientId, patient.id], ...tplEntries.map((e): [string, string] => [e.id, randomUUID()]),
      ]);
      const row: BatchRow = {
        id, batchNumber, processId: tplRow.processId, processVersion: tplRow.processVersion, processHash: tplRow.processHash, status: 'in_process',
        version: perBatch, din: d.din, dinCheck: d.check, chainOfIdentityId: coi, patient, donor: null, training: true, openDeviations: 0,
        createdAt: tplRow.createdAt, updatedAt: tplRow.updatedAt, recordState: null,
      };
      rows.batches.push(row);
      return { id, map, check: [tplDin.check, d.check], hashes: new Map(), next: 0 };
    };

    /** Appends the next entry of a batch (a template copy, or a further culture check) with its signatures and audit rows. */
    const emit = (b: Seeded) => {
      const j = b.next++;
      const item = j < TEMPLATE_ENTRIES ? items[j] : extra;
      const t = item.entry;
      const entryId = j < TEMPLATE_ENTRIES ? b.map.get(t.id)! : randomUUID();
      const payload = j < TEMPLATE_ENTRIES ? remap(item.payload, b.map, b.check) : { ...item.payload, occurrence: j - TEMPLATE_ENTRIES + 4 };
      const base = {
        seq: chain.entries.seq + 1, id: entryId, batchId: b.id, batchSeq: j + 1, kind: t.kind, stepId: t.stepId,
        payload: JSON.stringify(payload), recordedAt: t.recordedAt, actorId: t.actorId, training: true,
      };
      const hash = rowHash(chain.entries.hash, entryCells(base));
      rows.entries.push({ ...base, prevHash: chain.entries.hash, hash });
      chain.entries = { seq: base.seq, hash };
      b.hashes.set(entryId, { hash, seq: base.seq });
      nEntries++;
      // A further culture check is signed and audited like the one it copies, under its own id.
      const ids = j < TEMPLATE_ENTRIES ? b.map : new Map([[t.id, entryId]]);
      for (const s of item.sigs) {
        const signed = ids.get(s.entryId) ?? s.entryId;
        const row = {
          seq: chain.signatures.seq + 1, id: randomUUID(), entryId: signed, entryHash: b.hashes.get(signed)!.hash, entrySeq: b.hashes.get(signed)!.seq, userId: s.userId,
          username: s.username, printedName: s.printedName, meaning: s.meaning, signedAt: s.signedAt,
        };
        const h = rowHash(chain.signatures.hash, signatureCells(row));
        rows.signatures.push({ ...row, prevHash: chain.signatures.hash, hash: h });
        chain.signatures = { seq: row.seq, hash: h };
        nSigs++;
      }
      for (const a of item.audits) {
        const after = a.afterJson === null ? null : JSON.stringify(j < TEMPLATE_ENTRIES ? remap(a.afterJson, b.map, b.check) : a.afterJson);
        const row = {
          seq: chain.audit.seq + 1, at: a.at, userId: a.userId, action: a.action, entity: a.entity,
          entityId: a.entityId === null ? null : ids.get(a.entityId) ?? (a.entityId === tplRow.id ? b.id : a.entityId),
          batchId: b.id, before: a.before, after, reason: a.reason,
        };
        const h = rowHash(chain.audit.hash, auditCells(row));
        rows.audit.push({ ...row, prevHash: chain.audit.hash, hash: h });
        chain.audit = { seq: row.seq, hash: h };
        nAudit++;
      }
    };

    const tFast = performance.now();
    const total = o.batches * perBatch;
    let lastReport = tFast;
    const txSize = 2_000; // entries per transaction (about three times as many rows)
    for (let first = 0; first < o.batches; first += inFlight) {
      const group: Seeded[] = [];
      for (let k = first; k < Math.min(first + inFlight, o.batches); k++) group.push(newBatch(k));
      // Round robin over the group: entry j of every batch, then entry j + 1...
      let pending = group.filter((b) => b.next < perBatch);
      while (pending.length) {
        let n = 0;
        while (n < txSize && pending.length) {
          for (const b of pending) { if (b.next < perBatch) { emit(b); n++; } }
          pending = pending.filter((b) => b.next < perBatch);
        }
        await flush();
        const now = performance.now();
        if (now - lastReport > 10_000) {
          lastReport = now;
          const done = nEntries + TEMPLATE_ENTRIES;
          log(`  seeding: ${fmt(done)} / ${fmt(total)} entries (${fmt((100 * done) / total)} %), ${fmt((nEntries + nSigs + nAudit) / ((now - tFast) / 1000))} rows/s`);
        }
      }
    }
    await store.saveBatchState(tplRow.id, { status: 'in_process', version: perBatch, openDeviations: 0, updatedAt: tplRow.updatedAt, recordState: null });
    await flush(); // batches of a group whose entries the template already holds
    const fastSeconds = (performance.now() - tFast) / 1000;

    // Sanity: a few batches replay to their full length and their rows match their hashes.
    const ids = await store.allBatchIds();
    for (const id of [ids[0], ids[Math.floor(ids.length / 2)], ids[ids.length - 1], tplRow.id]) {
      const r = await loadBatch(ctx, id);
      if (r.version !== perBatch || !await store.batchIntact(id)) throw new Error(`seeded batch ${id} does not replay to ${perBatch} entries with intact rows`);
    }
    // The read model of the lists, as the server writes it with every entry: rebuilt from the entries.
    const tState = performance.now();
    await fillReadModel(ctx, { again: true });
    log(`  read model of ${fmt(ids.length)} batches rebuilt from their entries in ${fmt((performance.now() - tState) / 1000, 1)} s`);
    await store.checkpoint('interval'); // sign the heads, as the server does every 1000 rows
    const counts = await store.counts();
    const seconds = (performance.now() - t0) / 1000;
    const chained = nEntries + nSigs + nAudit;
    const size = o.databaseUrl ? 'PostgreSQL' : `${fmt(fs.statSync(o.dbFile).size / 1024 / 1024)} MB`;
    log(`seeded ${fmt(o.batches)} CAR-T batches × ${fmt(perBatch)} entries = ${fmt(counts.entries)} entries, ${fmt(counts.signatures)} signatures, ${fmt(counts.audit)} audit rows `
      + `(${size}) in ${fmt(seconds, 1)} s; fast path ${fmt(chained / fastSeconds)} rows/s (${fmt(nEntries / fastSeconds)} entries/s)`);
    return { dbFile: o.dbFile, databaseUrl: o.databaseUrl, batches: o.batches, entriesPerBatch: perBatch, entries: counts.entries, signatures: counts.signatures, audit: counts.audit, seconds, batchIds: ids };
  } finally {
    await store.close();
  }
}

if (isMain(import.meta.url)) {
  const args = parseArgs();
  const scale = scaleOf(args);
  const dbFile = args.values.get('db') ?? path.join(tempDir('seed'), 'cellbatch.db');
  const databaseUrl = args.values.get('database-url') ?? (process.env.CELLBATCH_DATABASE_URL || undefined);
  if (fs.existsSync(dbFile) && !databaseUrl) throw new Error(`${dbFile} exists: the seeder only creates new databases`);
  console.log(`scale: ${scale.full ? 'full' : 'small'} — ${fmt(scale.batches)} batches, ${fmt(scale.entries)} entries → ${databaseUrl ? redactUrl(databaseUrl) : dbFile}`);
  await seedDatabase({ dbFile, databaseUrl, batches: scale.batches, entries: scale.entries, inFlight: numberOption(args, 'in-flight', undefined, 100) });
  console.log(`users: ${Object.values(SEED_USERS).join(', ')}; password ${PASSWORD}`);
}
