// Lots and instruments held to the hash chain (21 CFR 11.10(a), 211.188(b)). The `materials` and
// `equipment` tables are not chained, but nothing changes them without a chained audit row that says
// what was written: `material.registered` and `equipment.registered` carry every value,
// `material.status-changed` the status and `equipment.calibration-changed` the due date. A signed
// entry keeps what its signer saw (schemas/entries.ts `used`); verification holds each row to the
// chain, so a lot number, expiry, status, asset id or calibration date edited in the database file
// is named by table, row and field, whether or not an entry has used it yet.
import type { Store } from '../store/store.js';
import type { AuditRow, RowMismatch } from '../store/store.js';

type Values = Record<string, unknown>;

/** The values the chain says a row holds now: its registration, then each audited change in order. */
async function chainedRows(store: Store, registered: string, changes: string[]): Promise<Map<string, Values>> {
  const rows = new Map<string, Values>();
  const read = (json: string | null): Values => {
    try { return (json ? JSON.parse(json) : {}) as Values; } catch { return {}; } // an unreadable row fails the chain itself
  };
  for await (const a of store.iterateAudit({ action: registered })) if (a.entityId) rows.set(a.entityId, read(a.after));
  const later: AuditRow[] = [];
  for (const action of changes) for await (const a of store.iterateAudit({ action })) later.push(a);
  later.sort((a, b) => a.seq - b.seq);
  for (const a of later) {
    const row = a.entityId ? rows.get(a.entityId) : undefined;
    if (row) Object.assign(row, read(a.after));
  }
  return rows;
}

function compare(table: 'materials' | 'equipment', id: string, row: Values, chained: Values | undefined, fields: string[]): RowMismatch[] {
  // A row registered before registrations were audited has nothing in the chain to be held to.
  if (!chained) return [];
  return fields.filter((f) => f in chained && row[f] !== chained[f]).map((field) => ({ table, row: id, field, row_value: row[field], chain_value: chained[field] }));
}

/** Every lot and instrument row that disagrees with the chained audit trail. */
export async function registryMismatches(store: Store): Promise<RowMismatch[]> {
  const out: RowMismatch[] = [];
  const lots = await chainedRows(store, 'material.registered', ['material.status-changed']);
  let cursor: string | undefined;
  do {
    const page = await store.listMaterials(undefined, 500, cursor);
    for (const m of page.items) out.push(...compare('materials', m.id, m, lots.get(m.id), ['type', 'name', 'lotNumber', 'expiresOn', 'status']));
    cursor = page.nextCursor;
  } while (cursor);
  const instruments = await chainedRows(store, 'equipment.registered', ['equipment.calibration-changed']);
  cursor = undefined;
  do {
    const page = await store.listEquipment(undefined, 500, cursor);
    for (const q of page.items) out.push(...compare('equipment', q.id, q, instruments.get(q.id), ['assetId', 'type', 'name', 'calibrationDueOn']));
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}
