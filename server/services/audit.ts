// Audit trail writer: one hash-chained row per event, with server time and the acting user
// (21 CFR 11.10(e), Annex 11 §9). Times and user ids never come from the client.
import type { Clock } from '../clock.js';
import type { NewAudit, Store } from '../store/store.js';

export type AuditEvent = Omit<NewAudit, 'at' | 'userId' | 'entityId' | 'batchId' | 'reason'> & {
  userId: string | null; entityId?: string | null; batchId?: string | null; reason?: string | null;
};

export function writeAudit(store: Store, clock: Clock, e: AuditEvent) {
  return store.appendAudit({
    ...e, at: clock.now().toISOString(), entityId: e.entityId ?? null, batchId: e.batchId ?? null, reason: e.reason ?? null,
  });
}
