// A deviation as API.md shows it (GET /batches/{id}/deviations), shaped from the record; with the
// record, also its investigation, reclassifications and closure, each with its signature (C3).
import type { BatchRecord, Deviation } from '../record/record.js';
import { signatureView } from './entry-view.js';

export function deviationView(d: Deviation, r?: BatchRecord) {
  const signed = (entryId: string) => {
    const s = r?.signatures.find((x) => x.entryId === entryId);
    return s ? { signature: signatureView(s) } : {};
  };
  return {
    id: d.id, batchId: d.batchId, kind: d.kind, status: d.status, severity: d.severity,
    ...(d.stepId !== undefined && { stepId: d.stepId }), ...(d.entryId !== undefined && { entryId: d.entryId }),
    description: d.description, openedAt: d.openedAt,
    ...(d.investigation && { investigation: { ...d.investigation, ...signed(d.investigation.entryId) } }),
    ...(d.reclassifications.length > 0 && { reclassifications: d.reclassifications.map((c) => ({ ...c, ...signed(c.entryId) })) }),
    ...(d.closure && { closure: { ...d.closure, ...signed(d.closure.entryId) } }),
  };
}
