// Master records held to the hash chain (21 CFR 11.10(a), 11.70; Annex 11 §10). process_versions and
// process_version_signatures are not chained tables, but nothing changes them without a chained audit
// row that says what was written: process.version-created and -edited carry the content hash,
// -transition and -superseded the status, and each transition the signature row itself (issue 16 on;
// before, its action, meaning, signer and reason). Verification holds both tables to those rows, so a
// version or a lifecycle signature edited in the database file is named by table, row and field.
import type { AuditRow, ProcessVersionRow, ProcessVersionSignatureRow, Store } from '../store/store.js';
import type { RowMismatch } from '../store/store.js';
import type { TransitionSignature } from '../../schemas/audit-actions.js';
import { definitionHash } from '../../workflows/check.js';
import type { ProcessDefinition } from '../../workflows/definition.js';

const ACTIONS = ['process.version-created', 'process.version-edited', 'process.version-transition', 'process.version-superseded'] as const;

interface Chained { seq: number; action: (typeof ACTIONS)[number]; reason: string | null; after: Record<string, unknown> }

/** Every process version and transition signature that disagrees with the chained audit trail. */
export async function masterRecordMismatches(store: Store): Promise<RowMismatch[]> {
  const byVersion = new Map<string, Chained[]>();
  for (const action of ACTIONS) {
    for await (const row of store.iterateAudit({ action })) {
      const list = byVersion.get(row.entityId ?? '') ?? [];
      list.push(chained(row, action));
      byVersion.set(row.entityId ?? '', list);
    }
  }
  const mismatches: RowMismatch[] = [];
  const versions = await store.processVersions();
  for (const v of versions) {
    const rows = (byVersion.get(v.id) ?? []).sort((a, b) => a.seq - b.seq);
    mismatches.push(...versionMismatches(v, rows), ...signatureMismatches(v, await store.processVersionSignatures(v.id), rows.filter((r) => r.action === 'process.version-transition')));
  }
  // A version the chain created that the table no longer holds.
  const held = new Set(versions.map((v) => v.id));
  for (const [id, rows] of byVersion) {
    if (!held.has(id) && rows.some((r) => r.action === 'process.version-created')) mismatches.push({ table: 'process_versions', row: id, field: 'id', row_value: null, chain_value: id });
  }
  return mismatches;
}

function chained(row: AuditRow, action: Chained['action']): Chained {
  let after: Record<string, unknown> = {};
  try {
    after = (row.after ? JSON.parse(row.after) : {}) as Record<string, unknown>;
  } catch {
    // an unreadable audit row fails the chain itself; here it only says nothing
  }
  return { seq: row.seq, action, reason: row.reason, after };
}

function versionMismatches(v: ProcessVersionRow, rows: Chained[]): RowMismatch[] {
  const created = rows.find((r) => r.action === 'process.version-created');
  if (!created) return [{ table: 'process_versions', row: v.id, field: 'id', row_value: v.id, chain_value: null }];
  const last = (actions: Chained['action'][], key: string) => rows.filter((r) => actions.includes(r.action) && r.after[key] !== undefined).at(-1)?.after[key];
  const expected: [string, unknown, unknown][] = [
    ['processId', v.processId, created.after.processId],
    ['version', v.version, created.after.version],
    ['source', v.source, created.after.source],
    ['hash', v.hash, last(['process.version-created', 'process.version-edited'], 'hash')],
    ['status', v.status, last(['process.version-created', 'process.version-transition', 'process.version-superseded'], 'status')],
  ];
  const out = expected.filter(([, row, chain]) => row !== chain).map(([field, row_value, chain_value]) => ({ table: 'process_versions' as const, row: v.id, field, row_value, chain_value }));
  // The content must be what its hash says (the hash itself is held to the chain above).
  const stored = contentHash(v.definition);
  if (stored !== v.hash) out.push({ table: 'process_versions', row: v.id, field: 'definition', row_value: stored, chain_value: v.hash });
  return out;
}

function contentHash(definition: string): string | null {
  try {
    return definitionHash(JSON.parse(definition) as ProcessDefinition);
  } catch {
    return null;
  }
}

/**
 * Each transition audit row pairs with the signature it wrote: by the signature's seq where the row
 * carries it, else (rows written before) by order. A signature no transition wrote, or a transition
 * whose signature is gone, is a mismatch too.
 */
function signatureMismatches(v: ProcessVersionRow, signatures: ProcessVersionSignatureRow[], transitions: Chained[]): RowMismatch[] {
  const out: RowMismatch[] = [];
  const bySeq = new Map(signatures.map((s) => [s.seq, s]));
  const paired = new Set<number>();
  transitions.forEach((t, i) => {
    const written = t.after.signature as TransitionSignature | undefined;
    const s = written ? bySeq.get(written.seq) : signatures[i];
    if (!s || paired.has(s.seq)) {
      out.push({ table: 'process_version_signatures', row: String(written?.seq ?? `${v.id}#${i + 1}`), field: 'seq', row_value: null, chain_value: written?.seq ?? i + 1 });
      return;
    }
    paired.add(s.seq);
    const expected: [keyof ProcessVersionSignatureRow, unknown][] = [
      ['action', t.after.action], ['meaning', t.after.meaning], ['username', t.after.signedBy], ['reason', t.reason],
      ...(written ? [['versionId', written.versionId], ['userId', written.userId], ['printedName', written.printedName], ['signedAt', written.signedAt]] satisfies [keyof ProcessVersionSignatureRow, unknown][] : []),
    ];
    for (const [field, chain] of expected) {
      if (s[field] !== chain) out.push({ table: 'process_version_signatures', row: String(s.seq), field, row_value: s[field], chain_value: chain });
    }
  });
  for (const s of signatures) {
    if (!paired.has(s.seq)) out.push({ table: 'process_version_signatures', row: String(s.seq), field: 'seq', row_value: s.seq, chain_value: null });
  }
  return out;
}
