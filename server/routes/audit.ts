// The audit trail and chain verification (qa, inspector, admin).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AppContext } from '../context.js';
import { AuditQuery } from '../../schemas/api.js';
import { currentUser } from '../plugins/auth.js';
import type { AuditRow, Page } from '../store/store.js';
import { requireRole } from './users.js';
import { verifyRecord } from '../services/integrity.js';

const signingKeys = (ctx: AppContext) => new Map(ctx.integrity ? [[ctx.integrity.key.id, ctx.integrity.key.publicKeyPem]] : []);

export const AUDIT_READERS = ['qa', 'inspector', 'admin'];

const parse = (s: string | null) => (s === null ? undefined : (JSON.parse(s) as unknown));

export function auditItems(_ctx: AppContext, page: Page<AuditRow>) {
  return {
    items: page.items.map((r) => ({
      seq: r.seq, at: r.at, userId: r.userId, action: r.action, entity: r.entity, entityId: r.entityId, batchId: r.batchId,
      ...(r.before !== null && { before: parse(r.before) }), ...(r.after !== null && { after: parse(r.after) }),
      ...(r.reason !== null && { reason: r.reason }), hash: r.hash, prevHash: r.prevHash,
    })),
    ...(page.nextCursor && { nextCursor: page.nextCursor }),
  };
}

const routes: FastifyPluginAsyncZod<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.get('/audit', { schema: { tags: ['audit'], summary: 'The audit trail, filtered and paged', querystring: AuditQuery } }, async (req) => {
    requireRole(currentUser(req), AUDIT_READERS, 'reading the audit trail');
    const { from, to, user, batchId, action, limit, cursor } = req.query;
    const userId = user ? (ctx.store.findUserByUsername(user)?.id ?? '(no such user)') : undefined;
    return auditItems(ctx, ctx.store.listAudit({ from: from && new Date(from).toISOString(), to: to && new Date(to).toISOString(), userId, batchId, action }, limit, cursor));
  });
  app.get('/audit/verify', { schema: { tags: ['audit'], summary: 'Recompute every hash chain (entries, signatures, audit)' } }, async (req) => {
    requireRole(currentUser(req), AUDIT_READERS, 'verifying the record');
    return verifyRecord(ctx.store, ctx.integrity?.log, signingKeys(ctx));
  });
  app.get('/audit/keys', { schema: { tags: ['audit'], summary: 'Public keys that sign the checkpoints of the chain heads' } }, async (req) => {
    requireRole(currentUser(req), AUDIT_READERS, 'reading the signing keys');
    const key = ctx.integrity?.key;
    return { items: key ? [{ id: key.id, algorithm: 'Ed25519', publicKey: key.publicKeyPem, createdAt: key.createdAt }] : [] };
  });
};
export default routes;
