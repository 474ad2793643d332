// Audit trail writer: one hash-chained row per event, with server time and the acting user
// (21 CFR 11.10(e), Annex 11 §9). Times and user ids never come from the client. Which actions
// exist, and what their before/after hold, is said once: schemas/audit-actions.ts.
import type { Clock } from '../clock.js';
import type { AuditRow, Store } from '../store/store.js';
import { AUDIT_ACTIONS, type AuditAction, type TypedAuditEvent } from '../../schemas/audit-actions.js';

type Who = { userId: string | null; entityId?: string | null; batchId?: string | null; reason?: string | null };

/** An audit event of one registered action (a union over every action when A is not named). */
export type AuditEvent<A extends AuditAction = AuditAction> = A extends AuditAction ? TypedAuditEvent<A> & Who : never;

export function writeAudit<A extends AuditAction>(store: Store, clock: Clock, e: AuditEvent<A>): Promise<AuditRow> {
  const { action, entity, entityId, batchId, reason, userId } = e as TypedAuditEvent & Who;
  const { before, after } = e as { before?: unknown; after?: unknown };
  return store.appendAudit({
    at: clock.now().toISOString(), userId, action, entity: entity ?? AUDIT_ACTIONS[action].entity,
    entityId: entityId ?? null, batchId: batchId ?? null, reason: reason ?? null, before, after,
  });
}
