// A deviation as API.md shows it (GET /batches/{id}/deviations), shaped from the record.
import type { Deviation } from '../record/record.js';

export function deviationView(d: Deviation) {
  return {
    id: d.id, batchId: d.batchId, kind: d.kind, status: d.status, severity: d.severity,
    ...(d.stepId !== undefined && { stepId: d.stepId }), ...(d.entryId !== undefined && { entryId: d.entryId }),
    description: d.description, openedAt: d.openedAt,
  };
}
