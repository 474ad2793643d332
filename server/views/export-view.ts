// The electronic copy of a batch record (21 CFR 11.10(b); regulations.md R3, C1–C6): everything the
// record holds about one batch, with the stored form of each of its chained rows and the signed
// checkpoints that cover them, so that a reader without the server can recompute every hash and check
// every checkpoint signature (docs/export-format.md). The PDF is drawn from this same document and
// carries it as its attachment: the printed and the electronic copy cannot say different things.
import { statusAtStart } from '../processes/master-records.js';
import { parsePayload, type UsedSnapshot } from '../../schemas/entries.js';
import type { AppContext } from '../context.js';
import { CHAINED, type Cell } from '../store/chain.js';
import { CHAIN_TABLES, type ChainTable, type Checkpoint } from '../store/checkpoints.js';
import { auditCells, entryCells, signatureCells, type AuditRow, type EntryRow, type SignatureRow } from '../store/store.js';
import { openDeviationCount, statusOfRecord, stepsOf, type BatchRecord } from '../record/record.js';
import { integrityOf } from '../record/integrity.js';
import { deviationView } from './deviation-view.js';
import { dispositionView } from './disposition-view.js';
import { containersView } from './containers-view.js';
import { signatureView } from './entry-view.js';
import { sealOf, type Seal } from '../record/seal.js';
import { trustedKeys } from '../services/integrity.js';
import { EXPORT_FORMAT, type BatchRecordExport } from '../../schemas/export.js';

/** The audit action of an export, and of the PDF frozen at disposition. */
export const EXPORT_ACTION = 'record.exported';
export const FROZEN_ACTION = 'record.frozen';
/** Rows about the documents themselves are left out of them: none can hold its own record (API.md "PDF bytes"). */
const DOCUMENT_ACTIONS = new Set([EXPORT_ACTION, FROZEN_ACTION]);

const parseJson = (s: string | null) => (s === null ? undefined : (JSON.parse(s) as unknown));

/** The batch's rows of each chain, in chain order. */
async function rowsOf(ctx: AppContext, record: BatchRecord) {
  return {
    entries: record.entries,
    signatures: record.signatures,
    audit_log: (await ctx.store.auditOfBatch(record.row.id)).filter((a) => !DOCUMENT_ACTIONS.has(a.action)),
  };
}

/** The time of the latest row of the batch (documents excepted): the time a document of the record is as of, never the clock's. */
const asOfRows = (createdAt: string, rows: Awaited<ReturnType<typeof rowsOf>>) =>
  [createdAt, ...rows.entries.map((e) => e.recordedAt), ...rows.signatures.map((s) => s.signedAt), ...rows.audit_log.map((a) => a.at)].reduce((a, t) => (t > a ? t : a));
export const recordAsOf = async (ctx: AppContext, record: BatchRecord) => asOfRows(record.row.createdAt, await rowsOf(ctx, record));

/** The last row of this batch in each chain: what a signed checkpoint must reach to cover the record. */
export async function batchHeads(ctx: AppContext, record: BatchRecord): Promise<Record<ChainTable, number>> {
  const rows = await rowsOf(ctx, record);
  return Object.fromEntries(CHAIN_TABLES.map((t) => [t, Math.max(0, ...rows[t].map((r) => r.seq))])) as Record<ChainTable, number>;
}

/**
 * The earliest signed checkpoint covering the batch's last row of each chain. The earliest, so that
 * the choice never changes once made: the same record gives the same document.
 */
function coveringCheckpoints(checkpoints: Checkpoint[], heads: Record<ChainTable, number>): Checkpoint[] {
  const chosen = new Map<number, Checkpoint>();
  for (const t of CHAIN_TABLES) {
    if (heads[t] === 0) continue;
    const c = checkpoints.find((x) => x.heads[t].seq >= heads[t]);
    if (c) chosen.set(c.n, c);
  }
  return [...chosen.values()].sort((a, b) => a.n - b.n);
}

/** Whether a signed checkpoint already covers every row of the batch. */
export async function covered(ctx: AppContext, record: BatchRecord): Promise<boolean> {
  if (!ctx.integrity) return true; // an in-memory database signs nothing
  const last = await ctx.store.lastCheckpoint();
  const heads = await batchHeads(ctx, record);
  return !!last && CHAIN_TABLES.every((t) => last.heads[t].seq >= heads[t]);
}

function chainOf<R extends { seq: number; prevHash: string; hash: string }>(ctx: AppContext, table: ChainTable, rows: R[], cells: (r: R) => Cell[]) {
  return {
    columns: [...CHAINED[table]],
    rows: rows.map((r) => ({ seq: r.seq, prevHash: r.prevHash, hash: r.hash, cells: cells(r), form: r.seq <= ctx.store.legacyHeads[table] ? 'legacy' as const : 'json-array' as const })),
  };
}

/**
 * Materials and equipment named by the batch's lot and equipment fields (steps and their corrections),
 * as the last entry that used each showed them to its signer (its `used` snapshot, 21 CFR 211.188(b));
 * entries made before snapshots existed fall back to the registry's row as it is now.
 */
async function usedRegistries(ctx: AppContext, record: BatchRecord) {
  const kinds = new Map<string, 'lot' | 'equipment'>();
  for (const s of stepsOf(record)) for (const f of s.fields) if (f.kind === 'lot' || f.kind === 'equipment') kinds.set(`${s.id}.${f.name}`, f.kind);
  const lots = new Map<string, UsedSnapshot | undefined>();
  const assets = new Map<string, UsedSnapshot | undefined>();
  for (const e of record.entries) {
    if (e.kind !== 'step' && e.kind !== 'correction') continue;
    const p = JSON.parse(e.payload) as { stepId: string; values: Record<string, unknown>; used?: Record<string, UsedSnapshot> };
    for (const [name, v] of Object.entries(p.values)) {
      const kind = kinds.get(`${p.stepId}.${name}`);
      if (typeof v !== 'string') continue;
      const seen = p.used?.[name]?.id === v ? p.used[name] : undefined;
      if (kind === 'lot') lots.set(v, seen ?? lots.get(v));
      if (kind === 'equipment') assets.set(v, seen ?? assets.get(v));
    }
  }
  const materials = (await Promise.all([...lots.keys()].sort().map(async (id) => {
    const seen = lots.get(id);
    if (seen?.kind === 'lot') return [{ id, type: seen.type, name: seen.name, lotNumber: seen.lotNumber, expiresOn: seen.expiresOn, status: seen.status }];
    const m = await ctx.store.getMaterial(id);
    return m ? [{ id: m.id, type: m.type, name: m.name, lotNumber: m.lotNumber, expiresOn: m.expiresOn, status: m.status }] : [];
  }))).flat();
  const equipment = (await Promise.all([...assets.keys()].sort().map(async (id) => {
    const seen = assets.get(id);
    if (seen?.kind === 'equipment') return [{ id, assetId: seen.assetId, type: seen.type, name: seen.name, calibrationDueOn: seen.calibrationDueOn }];
    const q = await ctx.store.getEquipment(id);
    return q ? [{ id: q.id, assetId: q.assetId, type: q.type, name: q.name, calibrationDueOn: q.calibrationDueOn }] : [];
  }))).flat();
  return { materials, equipment };
}

async function usersOf(ctx: AppContext, ids: Iterable<string | null>) {
  return (await Promise.all([...new Set([...ids].filter((x): x is string => !!x))].sort().map(async (id) => {
    const u = await ctx.store.findUserById(id);
    return u ? [{ id: u.id, username: u.username, fullName: u.fullName }] : [];
  }))).flat();
}

const signatureOf = (r: BatchRecord, entryId: string) => {
  const s = r.signatures.find((x) => x.entryId === entryId);
  return s ? signatureView(s) : null;
};

const signatureItem = (s: SignatureRow) => ({
  id: s.id, userId: s.userId, username: s.username, printedName: s.printedName, meaning: s.meaning, signedAt: s.signedAt, entryId: s.entryId, entryHash: s.entryHash,
});

const entryItem = (e: EntryRow, signatures: SignatureRow[]) => ({
  id: e.id, seq: e.seq, batchSeq: e.batchSeq, kind: e.kind, stepId: e.stepId, recordedAt: e.recordedAt, actorId: e.actorId, training: e.training,
  payload: JSON.parse(e.payload) as Record<string, unknown>,
  signatures: signatures.filter((s) => s.entryId === e.id).map(signatureItem),
});

const auditItem = (a: AuditRow) => ({
  seq: a.seq, at: a.at, userId: a.userId, action: a.action, entity: a.entity, entityId: a.entityId,
  ...(a.before !== null && { before: parseJson(a.before) }), ...(a.after !== null && { after: parseJson(a.after) }), reason: a.reason,
});

/** The donor and parent batches as the chained batch-created entry holds them (allogeneic, cell banks). */
function donorAndParents(record: BatchRecord): Pick<BatchRecordExport['batch'], 'donor' | 'parents'> {
  const created = record.entries.find((e) => e.kind === 'batch-created');
  if (!created) return {};
  const p = parsePayload('batch-created', created.payload);
  return { ...(p.donor && { donor: p.donor }), ...(p.parents?.length && { parents: p.parents }) };
}

/**
 * The public keys a reader needs: each key that signed one of the export's checkpoints (any app server
 * of the site, issue 15 item 3) and the key of the seal, as this server trusts them.
 */
function publicKeysOf(ctx: AppContext, checkpoints: Checkpoint[], seal: Seal | undefined) {
  const trusted = trustedKeys(ctx.integrity);
  const ids = [...new Set([...checkpoints.map((c) => c.keyId), ...(seal ? [seal.keyId] : [])])];
  return ids.flatMap((id) => {
    const publicKeyPem = trusted.get(id);
    return publicKeyPem ? [{ id, algorithm: 'Ed25519' as const, publicKeyPem }] : [];
  });
}

/** The export document of a replayed batch: a pure reading of the store (it writes nothing). */
export async function buildExport(ctx: AppContext, record: BatchRecord): Promise<BatchRecordExport> {
  const b = record.row;
  const rows = await rowsOf(ctx, record);
  const heads = await batchHeads(ctx, record);
  const checkpoints = coveringCheckpoints(await ctx.store.checkpoints(), heads);
  const containers = containersView(record).items;
  const asOf = asOfRows(b.createdAt, rows);
  // Sealed once disposed of (the frozen PDF, and the export that must equal its attachment): each seal
  // costs a verification of the whole record, which a draft rendered at every look need not pay.
  const seal = record.qa.disposition ? await sealOf(ctx, b.id, asOf, rows, checkpoints) : undefined;
  return {
    format: EXPORT_FORMAT,
    asOf,
    timeZone: ctx.config.timeZone,
    training: b.training,
    batch: {
      id: b.id, batchNumber: b.batchNumber, din: b.din, dinCheck: b.dinCheck, chainOfIdentityId: b.chainOfIdentityId,
      patient: b.patient ? { id: b.patient.id, weightKg: b.patient.weightKg } : null, createdAt: b.createdAt, status: statusOfRecord(record), openDeviations: openDeviationCount(record),
      ...donorAndParents(record),
    },
    process: { id: b.processId, version: b.processVersion, hash: b.processHash, status: statusAtStart(record), definition: record.process.definition },
    integrity: { intact: await integrityOf(ctx, record) },
    entries: rows.entries.map((e) => entryItem(e, rows.signatures)),
    deviations: record.deviations.map((d) => deviationView(d, record)),
    ...(record.qa.reviews.length > 0 && { reviews: record.qa.reviews.map((v) => ({ ...v, signature: signatureOf(record, v.entryId) })) }),
    ...(record.qa.disposition && { disposition: dispositionView(record)! }),
    ...(containers.length > 0 && { containers }),
    ...await usedRegistries(ctx, record),
    users: await usersOf(ctx, [...rows.entries.map((e) => e.actorId), ...rows.signatures.map((s) => s.userId), ...rows.audit_log.map((a) => a.userId)]),
    audit: rows.audit_log.map(auditItem),
    chains: {
      entries: chainOf(ctx, 'entries', rows.entries, entryCells),
      signatures: chainOf(ctx, 'signatures', rows.signatures, signatureCells),
      audit_log: chainOf(ctx, 'audit_log', rows.audit_log, auditCells),
    },
    checkpoints,
    publicKeys: publicKeysOf(ctx, checkpoints, seal),
    ...(seal && { seal }),
  };
}

/** The document's bytes: JSON, two-space indented, one final newline (what GET /export serves and the PDF attaches). */
export const exportBytes = (doc: BatchRecordExport): Buffer => Buffer.from(`${JSON.stringify(doc, null, 2)}\n`);
