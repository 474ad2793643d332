// The checks of the attached record itself (record.json, format cellbatch.batch-record/1): every
// chained row's hash, the links between rows, the signatures' entry hashes, the document's readable
// parts against the hashed cells, the Ed25519 checkpoints, and what can be proven about rows missing.
// 21 CFR 11.10(a) (altered records discernible), 11.10(b) (accurate and complete copies), 11.70
// (signatures linked to their records); Annex 11 §7, §8.
import { isDeepStrictEqual } from 'node:util';
import { BatchRecordExportSchema, EXPORT_FORMAT, type BatchRecordExport } from '../../../schemas/export.js';
import { Check, firstDifference, show, type CheckResult } from './checks.js';
import { canonicalJson, checkpointHash, checkpointSignatureValid, expectedRowHash, GENESIS, keyIdOf, signatureValid, TABLES, type Cell, type Table } from './hashing.js';

type Chain = BatchRecordExport['chains']['entries'];
type Row = Chain['rows'][number];

/** A row's cells by column name. */
const named = (chain: Chain, row: Row): Record<string, Cell> => Object.fromEntries(chain.columns.map((c, i) => [c, row.cells[i] ?? null]));
const parsed = (s: Cell): unknown => (typeof s === 'string' ? JSON.parse(s) : undefined);
const safeParse = (s: Cell): unknown => {
  try { return parsed(s); } catch { return Symbol('unparseable'); }
};

/** The columns each chain must carry (docs/export-format.md), in the order they are hashed. */
const COLUMNS: Record<Table, string[]> = {
  entries: ['seq', 'id', 'batch_id', 'batch_seq', 'kind', 'step_id', 'payload', 'recorded_at', 'actor_id', 'training'],
  signatures: ['seq', 'id', 'entry_id', 'entry_hash', 'entry_seq', 'user_id', 'username', 'printed_name', 'meaning', 'signed_at'],
  audit_log: ['seq', 'at', 'user_id', 'action', 'entity', 'entity_id', 'batch_id', 'before', 'after', 'reason'],
};

export function checkFormat(json: unknown): { result: CheckResult; doc?: BatchRecordExport } {
  const c = new Check('format', `record.json is format ${EXPORT_FORMAT}`);
  const format = (json as { format?: unknown } | null)?.format;
  if (format !== EXPORT_FORMAT) {
    c.fail('record.json: format', `the attachment says format ${show(format)}; this verifier reads ${EXPORT_FORMAT}`);
    return { result: c.done('') };
  }
  const r = BatchRecordExportSchema.safeParse(json);
  if (!r.success) {
    for (const issue of r.error.issues.slice(0, 20)) c.fail(`record.json: ${issue.path.join('.') || '(document)'}`, issue.message);
    return { result: c.done('') };
  }
  const doc = json as BatchRecordExport;
  for (const t of TABLES) {
    const columns = doc.chains[t].columns;
    c.expect(isDeepStrictEqual(columns, COLUMNS[t]), `chains.${t}.columns`, `the columns are ${show(columns)}, the format defines ${show(COLUMNS[t])}`);
    doc.chains[t].rows.forEach((row) => c.expect(row.cells.length === columns.length, `chains.${t} seq ${row.seq}`, `${row.cells.length} cells for ${columns.length} columns`));
  }
  return { result: c.done(`the attachment is JSON of format ${EXPORT_FORMAT} with every field the format requires`), ...(c.problems.length === 0 && { doc }) };
}

export function checkRowHashes(doc: BatchRecordExport): CheckResult {
  const c = new Check('row-hashes', 'every chained row\'s hash recomputed from its cells');
  let n = 0;
  const forms = new Set<string>();
  for (const t of TABLES) {
    const chain = doc.chains[t];
    for (const row of chain.rows) {
      n++;
      forms.add(row.form);
      let expected: string;
      try {
        expected = expectedRowHash(t, chain.columns, row);
      } catch (e) {
        c.fail(`${t} seq ${row.seq}`, `its cells cannot be hashed: ${(e as Error).message}`);
        continue;
      }
      c.expect(expected === row.hash, `${t} seq ${row.seq}`, `the row's hash is ${row.hash}, its cells hash to ${expected}: the row was altered after it was written`);
    }
  }
  return c.done(`${n} rows (entries ${doc.chains.entries.rows.length}, signatures ${doc.chains.signatures.rows.length}, audit ${doc.chains.audit_log.rows.length}) match their SHA-256 (${[...forms].sort().join(' and ') || 'no'} form)`);
}

export function checkLinks(doc: BatchRecordExport): CheckResult {
  const c = new Check('links', 'links between consecutive rows of each chain');
  let links = 0;
  for (const t of TABLES) {
    const rows = doc.chains[t].rows;
    rows.forEach((row, i) => {
      if (row.seq === 1) c.expect(row.prevHash === GENESIS, `${t} seq 1`, 'the first row of a chain must follow the genesis hash (64 zeros)');
      if (i === 0) return;
      const before = rows[i - 1];
      if (!c.expect(row.seq > before.seq, `${t} seq ${row.seq}`, `rows are out of order or repeated (seq ${before.seq} comes before it)`)) return;
      if (row.seq === before.seq + 1) {
        links++;
        c.expect(row.prevHash === before.hash, `${t} seq ${row.seq}`, `its previous hash ${row.prevHash} is not the hash of seq ${before.seq} (${before.hash}): a row between was removed or replaced`);
      }
    });
  }
  return c.done(`${links} links between rows with consecutive sequence numbers hold (rows of other batches lie between the others)`);
}

export function checkEntrySignatures(doc: BatchRecordExport): CheckResult {
  const c = new Check('signature-links', 'each signature\'s entryHash is its entry\'s row hash');
  const entries = new Map(doc.chains.entries.rows.map((r) => [named(doc.chains.entries, r).id, r]));
  for (const row of doc.chains.signatures.rows) {
    const s = named(doc.chains.signatures, row);
    const entry = entries.get(s.entry_id as string);
    const place = `signatures seq ${row.seq}`;
    if (!c.expect(!!entry, place, `it signs entry ${show(s.entry_id)}, which is not in the record`)) continue;
    c.expect(s.entry_hash === entry!.hash, place, `it signed an entry whose hash was ${show(s.entry_hash)}; entries seq ${entry!.seq} has hash ${entry!.hash}: the signed entry was changed`);
    if (s.entry_seq !== null) c.expect(s.entry_seq === entry!.seq, place, `it names entries seq ${show(s.entry_seq)}, the entry is at seq ${entry!.seq}`);
  }
  return c.done(`${doc.chains.signatures.rows.length} signatures each carry the hash of the entry they sign (21 CFR 11.70)`);
}

/** The readable parts of the document (entries[], their signatures, audit[]) must say what the hashed cells say. */
export function checkDocumentAgainstRows(doc: BatchRecordExport): CheckResult {
  const c = new Check('document-vs-rows', 'entries, signatures and audit rows of the document agree with the hashed cells');
  const batchId = doc.batch.id;
  // Entries.
  const entryRows = new Map(doc.chains.entries.rows.map((r) => [r.seq, named(doc.chains.entries, r)]));
  const seen = new Set<number>();
  for (const e of doc.entries) {
    const place = `entries seq ${e.seq} (entry ${e.batchSeq})`;
    const cells = entryRows.get(e.seq);
    if (!c.expect(!!cells, place, 'the entry has no row in chains.entries: its content is not covered by any hash')) continue;
    seen.add(e.seq);
    const pairs: [string, unknown, unknown][] = [
      ['id', e.id, cells!.id], ['batchSeq', e.batchSeq, cells!.batch_seq], ['kind', e.kind, cells!.kind], ['stepId', e.stepId, cells!.step_id],
      ['recordedAt', e.recordedAt, cells!.recorded_at], ['actorId', e.actorId, cells!.actor_id], ['training', e.training, cells!.training === 1],
    ];
    for (const [field, said, hashed] of pairs) c.expect(said === hashed, `${place} field ${field}`, `the document says ${show(said)}, the hashed row ${show(hashed)}`);
    c.expect(cells!.batch_id === batchId, `${place} field batch_id`, `the hashed row belongs to batch ${show(cells!.batch_id)}, not ${batchId}`);
    const payload = safeParse(cells!.payload);
    const diff = firstDifference(e.payload, payload);
    if (diff) c.fail(`${place} field payload.${diff}`, `the document says ${show(pick(e.payload, diff))}, the hashed row ${show(pick(payload, diff))}`);
  }
  for (const seq of entryRows.keys()) c.expect(seen.has(seq), `entries seq ${seq}`, 'the hashed row is missing from entries[]');
  // The batch's identity as the document (and so the cover and every page) gives it, against the hashed
  // batch-created entry that recorded it (21 CFR 211.188(b)).
  const created = doc.entries.find((e) => e.kind === 'batch-created');
  if (created) {
    const p = created.payload as Record<string, unknown>;
    const place = `entries seq ${created.seq} (entry ${created.batchSeq}, batch-created)`;
    const identity: [string, unknown, unknown][] = [
      ['batch.batchNumber', doc.batch.batchNumber, p.batchNumber], ['batch.din', doc.batch.din, p.din], ['batch.dinCheck', doc.batch.dinCheck, p.dinCheck],
      ['batch.chainOfIdentityId', doc.batch.chainOfIdentityId, p.chainOfIdentityId], ['batch.patient', doc.batch.patient, p.patient ?? null],
      ['process.id', doc.process.id, p.processId], ['process.version', doc.process.version, p.processVersion], ['process.hash', doc.process.hash, p.processHash],
      ['training', doc.training, p.training],
      ['process.status', doc.process.status ?? 'effective', p.processStatus ?? 'effective'],
    ];
    for (const [field, said, hashed] of identity) {
      if (hashed === undefined && field !== 'process.status') continue; // a field the entry of that time did not record
      c.expect(isDeepStrictEqual(said, hashed), `${field}`, `the document says ${show(said)}, the hashed batch-created entry (${place}) ${show(hashed)}`);
    }
  }
  // Signatures of entries.
  const sigRows = new Map(doc.chains.signatures.rows.map((r) => [named(doc.chains.signatures, r).id as string, { seq: r.seq, cells: named(doc.chains.signatures, r) }]));
  const seenSigs = new Set<string>();
  for (const e of doc.entries) {
    for (const s of e.signatures) {
      const row = sigRows.get(s.id);
      const place = `entries seq ${e.seq} (entry ${e.batchSeq}) signature ${s.id}`;
      if (!c.expect(!!row, place, 'the signature has no row in chains.signatures')) continue;
      seenSigs.add(s.id);
      const p = `signatures seq ${row!.seq}`;
      const x = row!.cells;
      const pairs: [string, unknown, unknown][] = [
        ['entryId', s.entryId, x.entry_id], ['entryId', e.id, x.entry_id], ['userId', s.userId, x.user_id], ['username', s.username, x.username],
        ['printedName', s.printedName, x.printed_name], ['meaning', s.meaning, x.meaning], ['signedAt', s.signedAt, x.signed_at], ['entryHash', s.entryHash, x.entry_hash],
      ];
      for (const [field, said, hashed] of pairs) c.expect(said === hashed, `${p} field ${field}`, `the document says ${show(said)}, the hashed row ${show(hashed)}`);
    }
  }
  for (const [id, row] of sigRows) c.expect(seenSigs.has(id), `signatures seq ${row.seq}`, 'the hashed signature is not shown under its entry in entries[]');
  // Signatures shown elsewhere (reviews, disposition, deviations): each must be one of the hashed signatures.
  const tuples = [...sigRows.values()].map((r) => r.cells);
  for (const [path, shown, entryId] of shownSignatures({ reviews: doc.reviews, disposition: doc.disposition, deviations: doc.deviations })) {
    const match = tuples.find((x) => x.username === shown.username && x.printed_name === shown.printedName && x.meaning === shown.meaning && x.signed_at === shown.signedAt && (shown.userId === undefined || x.user_id === shown.userId));
    if (!c.expect(!!match, path, `the signature ${show(shown)} is not among the hashed signatures`)) continue;
    if (entryId) c.expect(match!.entry_id === entryId, path, `the signature belongs to entry ${show(match!.entry_id)}, the document names ${entryId}`);
  }
  // Audit rows.
  const auditRows = new Map(doc.chains.audit_log.rows.map((r) => [r.seq, named(doc.chains.audit_log, r)]));
  const seenAudit = new Set<number>();
  for (const a of doc.audit) {
    const place = `audit_log seq ${a.seq}`;
    const x = auditRows.get(a.seq);
    if (!c.expect(!!x, place, 'the audit row has no row in chains.audit_log')) continue;
    seenAudit.add(a.seq);
    const pairs: [string, unknown, unknown][] = [
      ['at', a.at, x!.at], ['userId', a.userId, x!.user_id], ['action', a.action, x!.action], ['entity', a.entity, x!.entity], ['entityId', a.entityId, x!.entity_id], ['reason', a.reason, x!.reason],
    ];
    for (const [field, said, hashed] of pairs) c.expect(said === hashed, `${place} field ${field}`, `the document says ${show(said)}, the hashed row ${show(hashed)}`);
    c.expect(x!.batch_id === batchId, `${place} field batch_id`, `the hashed row belongs to batch ${show(x!.batch_id)}, not ${batchId}`);
    for (const field of ['before', 'after'] as const) {
      const hashed = x![field] === null ? undefined : safeParse(x![field]);
      const diff = firstDifference(a[field], hashed);
      if (diff) c.fail(`${place} field ${field}${diff === '(value)' ? '' : `.${diff}`}`, `the document says ${show(pick(a[field], diff))}, the hashed row ${show(pick(hashed, diff))}`);
    }
  }
  for (const seq of auditRows.keys()) c.expect(seenAudit.has(seq), `audit_log seq ${seq}`, 'the hashed row is missing from audit[]');
  return c.done(`${doc.entries.length} entries, ${sigRows.size} signatures and ${doc.audit.length} audit rows say exactly what their hashed rows say`);
}

/** The value at a dotted path (for messages). */
function pick(v: unknown, path: string): unknown {
  if (path === '(value)') return v;
  return path.split('.').reduce<unknown>((o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), v);
}

interface ShownSignature { userId?: string; username: string; printedName: string; meaning: string; signedAt: string }

/** Every `signature` object in a part of the document, with its path and the entry it is said to sign. */
function shownSignatures(parts: Record<string, unknown>): [string, ShownSignature, string | undefined][] {
  const out: [string, ShownSignature, string | undefined][] = [];
  const walk = (v: unknown, path: string) => {
    if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${path}[${i}]`));
    if (v === null || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    const s = o.signature as ShownSignature | null | undefined;
    if (s && typeof s === 'object' && typeof s.printedName === 'string') out.push([`${path}.signature`, s, typeof o.entryId === 'string' ? o.entryId : undefined]);
    for (const [k, x] of Object.entries(o)) if (k !== 'signature') walk(x, `${path}.${k}`);
  };
  for (const [k, v] of Object.entries(parts)) walk(v, k);
  return out;
}

export function checkCheckpoints(doc: BatchRecordExport): CheckResult {
  const c = new Check('checkpoints', 'signed checkpoints (Ed25519) against the public key in the record, and the rows they cover');
  const keys = new Map<string, string>();
  for (const k of doc.publicKeys) {
    try {
      const { id, type } = keyIdOf(k.publicKeyPem);
      c.expect(type === 'ed25519', `publicKeys ${k.id}`, `the key is ${type}, not Ed25519`);
      if (c.expect(id === k.id, `publicKeys ${k.id}`, `the key's id is ${id}: the id does not name this key`)) keys.set(k.id, k.publicKeyPem);
    } catch (e) {
      c.fail(`publicKeys ${k.id}`, `the key cannot be read: ${(e as Error).message}`);
    }
  }
  const hasRows = TABLES.some((t) => doc.chains[t].rows.length > 0);
  if (doc.checkpoints.length === 0) {
    c.expect(!hasRows, 'checkpoints', 'no signed checkpoint covers this record: nothing ties its rows to the site\'s signing key');
    return c.done('');
  }
  const sorted = [...doc.checkpoints].sort((a, b) => a.n - b.n);
  sorted.forEach((cp, i) => {
    const place = `checkpoint ${cp.n}`;
    const pem = keys.get(cp.keyId);
    if (c.expect(!!pem, place, `it is signed with key ${cp.keyId}, which is not among the record's public keys`)) {
      c.expect(checkpointSignatureValid(cp, pem!), place, 'its Ed25519 signature does not verify: its heads, time, reason or number were changed, or it was not signed by this key');
    }
    const before = sorted[i - 1];
    if (before && before.n === cp.n - 1) c.expect(cp.prev === checkpointHash(before), place, `it does not follow checkpoint ${before.n} (prev ${cp.prev})`);
    if (before) c.expect(cp.n > before.n, place, 'checkpoints are repeated');
    for (const t of TABLES) {
      const head = cp.heads[t];
      const row = doc.chains[t].rows.find((r) => r.seq === head.seq);
      if (row) c.expect(row.hash === head.hash, `${place} head ${t}`, `the signed head names ${t} seq ${head.seq} with hash ${head.hash}; the record's row has ${row.hash}`);
    }
  });
  // Every row must lie at or below a signed head: a row after the last head is not covered by any signature.
  for (const t of TABLES) {
    const last = doc.chains[t].rows.reduce((m, r) => Math.max(m, r.seq), 0);
    const reach = Math.max(0, ...sorted.map((cp) => cp.heads[t].seq));
    c.expect(last <= reach, `${t} seq ${last}`, `the row lies beyond every signed head (${t} reaches ${reach}): no checkpoint covers it`);
  }
  const anchored = TABLES.filter((t) => sorted.some((cp) => doc.chains[t].rows.some((r) => r.seq === cp.heads[t].seq)));
  return c.done(`${sorted.length} checkpoint(s) (${sorted.map((x) => x.n).join(', ')}) carry valid Ed25519 signatures by key ${[...new Set(sorted.map((x) => x.keyId))].join(', ')} and reach every row of the record${anchored.length ? `; the signed heads name rows of this record in ${anchored.join(', ')}` : ''}`);
}

export function checkSiteKey(doc: BatchRecordExport, published: { file: string; pem: string }[]): CheckResult {
  const c = new Check('site-key', 'the record\'s signing key is the key the site published (--key)');
  const ids = new Map<string, string>();
  for (const k of published) {
    try {
      const { id, type } = keyIdOf(k.pem);
      c.expect(type === 'ed25519', k.file, `the key is ${type}, not Ed25519`);
      ids.set(id, k.file);
    } catch (e) {
      c.fail(k.file, `the key cannot be read: ${(e as Error).message}`);
    }
  }
  for (const cp of doc.checkpoints) {
    c.expect(ids.has(cp.keyId), `checkpoint ${cp.n}`, `it is signed with key ${cp.keyId}; the site's published key${ids.size > 1 ? 's are' : ' is'} ${[...ids.keys()].join(', ')}`);
    const pem = [...published].find((k) => { try { return keyIdOf(k.pem).id === cp.keyId; } catch { return false; } })?.pem;
    if (pem) c.expect(checkpointSignatureValid(cp, pem), `checkpoint ${cp.n}`, 'its signature does not verify with the site\'s published key');
  }
  if (doc.seal) {
    c.expect(ids.has(doc.seal.keyId), 'seal', `the batch seal is signed with key ${doc.seal.keyId}, not the site's published key`);
    const pem = published.find((k) => { try { return keyIdOf(k.pem).id === doc.seal!.keyId; } catch { return false; } })?.pem;
    if (pem) c.expect(signatureValid(canonicalJson(doc.seal.statement), doc.seal.signature, pem), 'seal', 'the batch seal does not verify with the site\'s published key');
  }
  if (doc.checkpoints.length === 0) c.fail('checkpoints', 'the record has no signed checkpoint to compare with the site\'s key');
  return c.done(`every checkpoint is signed by ${[...ids].map(([id, file]) => `${id} (${file})`).join(', ')}`);
}

export function checkServerVerdict(doc: BatchRecordExport): CheckResult {
  const c = new Check('server-integrity', 'the server\'s own verification when the document was made');
  c.expect(doc.integrity.intact, 'integrity.intact', 'the server found rows of this batch that no longer matched their hashes when it made the document (the cover says VERIFICATION FAILED)');
  return c.done('the server found every row of the batch intact when it made the document');
}

/** What can be proven about rows left out: numbering, references, and the record's date. */
export function checkCompleteness(doc: BatchRecordExport, pdfDate: string | undefined): CheckResult {
  const c = new Check('completeness', 'rows cut short: numbering, references and the record\'s date');
  const entries = [...doc.entries].sort((a, b) => a.seq - b.seq);
  entries.forEach((e, i) => c.expect(e.batchSeq === i + 1, `entries seq ${e.seq}`, `it is entry ${e.batchSeq} of the batch but the ${ordinal(i + 1)} in the record: entry ${i + 1}${e.batchSeq > i + 2 ? `–${e.batchSeq - 1}` : ''} is missing`));
  c.expect(entries[0]?.kind === 'batch-created', 'entries', 'the record does not begin with the batch-created entry');
  const ids = new Set(doc.entries.map((e) => e.id));
  for (const row of doc.chains.signatures.rows) {
    const entryId = row.cells[doc.chains.signatures.columns.indexOf('entry_id')];
    c.expect(ids.has(entryId as string), `signatures seq ${row.seq}`, `it signs entry ${show(entryId)}, which is not in the record`);
  }
  for (const [path, entryId] of referencedEntries(doc)) c.expect(ids.has(entryId), path, `it names entry ${entryId}, which is not in the record`);
  // The record's date is its latest row (docs/export-format.md): a tail cut off leaves the date behind.
  const times = [doc.batch.createdAt, ...doc.entries.map((e) => e.recordedAt), ...doc.entries.flatMap((e) => e.signatures.map((s) => s.signedAt)), ...doc.audit.map((a) => a.at)];
  const latest = times.reduce((a, t) => (t > a ? t : a), '');
  c.expect(doc.asOf === latest, 'asOf', doc.asOf > latest
    ? `the record is dated ${doc.asOf} but its latest row is of ${latest}: rows after ${latest} were cut off`
    : `the record is dated ${doc.asOf} but holds a row of ${latest}`);
  if (pdfDate) c.expect(pdfDate === doc.asOf.split('.')[0] + 'Z', 'PDF CreationDate', `the PDF is dated ${pdfDate}, the attached record ${doc.asOf}`);
  const decision = (doc.disposition as { decision?: string } | undefined)?.decision;
  if (decision) {
    const status = decision === 'reject' ? 'rejected' : 'released';
    c.expect(doc.batch.status === status, 'batch.status', `the disposition is ${decision} but the status ${doc.batch.status}`);
    c.expect(doc.entries.some((e) => e.kind === 'disposition'), 'entries', 'the disposition has no entry in the record');
  }
  return c.done(`entries numbered 1–${entries.length} without a gap, every signature's and reference's entry present, the record dated by its latest row (${doc.asOf})${pdfDate ? ' as the PDF is' : ''}`);
}

function ordinal(n: number) {
  const s = n % 100 >= 11 && n % 100 <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th';
  return `${n}${s}`;
}

/** entryId fields of reviews, disposition and deviations. */
function referencedEntries(doc: BatchRecordExport): [string, string][] {
  const out: [string, string][] = [];
  const walk = (v: unknown, path: string) => {
    if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${path}[${i}]`));
    if (v === null || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      if (k === 'entryId' && typeof x === 'string') out.push([`${path}.entryId`, x]);
      else walk(x, `${path}.${k}`);
    }
  };
  walk(doc.reviews, 'reviews');
  walk(doc.disposition, 'disposition');
  for (const e of doc.entries) {
    // A verification names the entry it verifies; a correction the entry it corrects.
    for (const k of ['entryId', 'correctsEntryId']) if (typeof e.payload[k] === 'string') out.push([`entries seq ${e.seq} (entry ${e.batchSeq}) payload.${k}`, e.payload[k] as string]);
  }
  return out;
}

/**
 * The batch seal (docs/export-format.md, "The batch seal"): the server's signature over the list of
 * the batch's rows, made when the whole record had verified against every signed checkpoint. It proves
 * offline what the shared chains cannot: that each row is the one the verified chain held, and that
 * none is missing. Records made before the seal have none (said in the verdict's limits), unless
 * `--require-seal`.
 */
export function checkSeal(doc: BatchRecordExport, required: boolean): CheckResult | undefined {
  const c = new Check('seal', 'the batch seal: the server\'s signature over every row of the batch, under a signed checkpoint');
  const seal = doc.seal;
  if (!seal) {
    if (!required) return undefined;
    c.fail('seal', 'the record carries no batch seal (--require-seal)');
    return c.done('');
  }
  const st = seal.statement;
  const key = doc.publicKeys.find((k) => k.id === seal.keyId);
  if (c.expect(!!key, 'seal', `it is signed with key ${seal.keyId}, which is not among the record's public keys`)) {
    c.expect(signatureValid(canonicalJson(st), seal.signature, key!.publicKeyPem), 'seal', 'its Ed25519 signature does not verify: the sealed rows, batch, date or checkpoint were changed, or it was not signed by this key');
  }
  c.expect(st.batchId === doc.batch.id, 'seal.statement.batchId', `it seals batch ${st.batchId}, not ${doc.batch.id}`);
  c.expect(st.asOf === doc.asOf, 'seal.statement.asOf', `it seals the record as of ${st.asOf}; the record is dated ${doc.asOf}`);
  const cp = doc.checkpoints.find((x) => x.n === st.checkpoint.n);
  if (c.expect(!!cp, 'seal.statement.checkpoint', `it names checkpoint ${st.checkpoint.n}, which is not in the record`)) {
    c.expect(checkpointHash(cp!) === st.checkpoint.hash, 'seal.statement.checkpoint', `checkpoint ${cp!.n} is not the one sealed`);
  }
  for (const t of TABLES) {
    const rows = new Map(doc.chains[t].rows.map((r) => [r.seq, r.hash]));
    const sealed = new Map(st.rows[t].map((r) => [r.seq, r.hash]));
    for (const [seq, hash] of sealed) {
      if (!c.expect(rows.has(seq), `${t} seq ${seq}`, 'the sealed row is missing from the record: rows were cut')) continue;
      c.expect(rows.get(seq) === hash, `${t} seq ${seq}`, `the record's row has hash ${rows.get(seq)}, the sealed one ${hash}: the row was rewritten`);
      if (cp) c.expect(seq <= cp.heads[t].seq, `${t} seq ${seq}`, `the sealed row lies beyond the head of checkpoint ${cp.n}`);
    }
    for (const seq of rows.keys()) c.expect(sealed.has(seq), `${t} seq ${seq}`, 'the row is not among the sealed rows: it was added');
  }
  return c.done(`signed by key ${seal.keyId} under checkpoint ${st.checkpoint.n}: the record holds exactly the ${st.rows.entries.length} entries, ${st.rows.signatures.length} signatures and ${st.rows.audit_log.length} audit rows sealed, each with its sealed hash`);
}
