// The audit trail and chain verification (qa, inspector, admin).
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AppContext } from '../context.js';
import { AuditExportQuery, AuditQuery, PeriodicReviewPdfQuery, PeriodicReviewQuery } from '../../schemas/api.js';
import { exportPeriodicReview } from '../commands/export-periodic-review.js';
import { AlertList, AuditExportRows, AuditPage, ChainReportSchema, errors, json, PeriodicReviewSchema, SigningKeyPage } from '../../schemas/responses.js';
import { z } from 'zod';
import { periodicReview } from '../services/account-review.js';
import { integrityAlerts } from '../services/record-check.js';
import { listAlerts } from '../services/alerts.js';
import { signingKeys } from '../services/signing-keys.js';
import { writeAudit } from '../services/audit.js';
import { currentUser } from '../plugins/auth.js';
import type { AuditRow, Page } from '../store/store.js';
import { assertMay } from '../permissions.js';


/**
 * CSV formula injection (OWASP): a cell a spreadsheet would read as a formula (= + - @, or a leading TAB
 * or CR) is prefixed with a single quote, so that text a client put into the trail (an id in a URL
 * path, a reason) is shown, never executed, when an auditor opens the export.
 */
export const neutralised = (text: string) => (/^[=+\-@\t\r]/.test(text) ? `'${text}` : text);

const parse = (s: string | null) => (s === null ? undefined : (JSON.parse(s) as unknown));

type Person = { username?: string; printedName?: string };
type People = (userId: string | null) => Promise<Person>;

/**
 * The person behind each row's user id, looked up once per user (ALCOA attributable: a reader and an
 * export name the person, username and printed name, beside the id). Accounts are never deleted.
 */
export function peopleOf(ctx: AppContext): People {
  const known = new Map<string, Person>();
  return async (userId) => {
    if (userId === null) return {};
    let p = known.get(userId);
    if (!p) {
      const u = await ctx.store.findUserById(userId);
      p = u ? { username: u.username, printedName: u.fullName } : {};
      known.set(userId, p);
    }
    return p;
  };
}

export const auditItemView = async (r: AuditRow, person: People = async () => ({})) => ({
  seq: r.seq, at: r.at, userId: r.userId, ...await person(r.userId), action: r.action, entity: r.entity, entityId: r.entityId, batchId: r.batchId,
  ...(r.before !== null && { before: parse(r.before) }), ...(r.after !== null && { after: parse(r.after) }),
  ...(r.reason !== null && { reason: r.reason }), hash: r.hash, prevHash: r.prevHash,
});

export const auditItems = async (page: Page<AuditRow>, person?: People) => ({ items: await Promise.all(page.items.map((r) => auditItemView(r, person))), ...(page.nextCursor && { nextCursor: page.nextCursor }) });

const routes: FastifyPluginAsyncZod<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.get('/audit', { schema: { tags: ['audit'], operationId: 'listAudit', summary: 'The audit trail, filtered and paged', querystring: AuditQuery, response: { 200: json(AuditPage, 'A page of audit rows'), ...errors(400, 401, 403) } } }, async (req) => {
    assertMay(currentUser(req), 'audit.read');
    const { from, to, user, batchId, action, limit, cursor } = req.query;
    const userId = user ? ((await ctx.store.findUserByUsername(user))?.id ?? '(no such user)') : undefined;
    return auditItems(await ctx.store.listAudit({ from: from && new Date(from).toISOString(), to: to && new Date(to).toISOString(), userId, batchId, action }, limit, cursor), peopleOf(ctx));
  });
  app.get('/audit/export', { schema: {
      tags: ['audit'], operationId: 'exportAudit', summary: 'The whole filtered audit trail as JSON or CSV (audited as an export)', querystring: AuditExportQuery,
      response: {
        200: {
          description: 'The rows, streamed (`x-cellbatch-checkpoint` names the signed checkpoint the export is anchored to)',
          content: { 'application/json': { schema: AuditExportRows }, 'text/csv': { schema: z.string().describe('One row per audit row, the columns of AuditItem') } },
        },
        ...errors(400, 401, 403),
      },
    } }, async (req, reply) => {
    const actor = currentUser(req);
    assertMay(actor, 'audit.read', 'exporting the audit trail');
    const { from, to, user, batchId, action, format } = req.query;
    const filters = { from: from && new Date(from).toISOString(), to: to && new Date(to).toISOString(), userId: user ? ((await ctx.store.findUserByUsername(user))?.id ?? '(no such user)') : undefined, batchId, action };
    await ctx.store.transaction(() => writeAudit(ctx.store, ctx.clock, { userId: actor.id, action: 'audit.exported', entity: 'audit', after: { format, filters: req.query } }));
    // Every export is anchored: the chain heads it was taken at are signed into the checkpoint log.
    const checkpoint = await ctx.store.checkpoint('export');
    if (checkpoint) reply.header('x-cellbatch-checkpoint', `${checkpoint.n}; key ${checkpoint.keyId}`);
    // Streamed a page of rows at a time: constant memory whatever the size of the trail.
    const rows = ctx.store.iterateAudit(filters);
    const person = peopleOf(ctx);
    const item = async (r: AuditRow) => (await auditItemView(r, person)) as Record<string, unknown>;
    if (format === 'json') {
      const body = Readable.from((async function* () {
        let first = true;
        yield '[';
        for await (const r of rows) { yield `${first ? '' : ','}\n${JSON.stringify(await item(r))}`; first = false; }
        yield '\n]\n';
      })());
      return reply.type('application/json').header('content-disposition', 'attachment; filename="audit.json"').send(body as never); // a stream: piped, not serialized
    }
    const cols = ['seq', 'at', 'userId', 'username', 'printedName', 'action', 'entity', 'entityId', 'batchId', 'before', 'after', 'reason', 'prevHash', 'hash'] as const;
    const cell = (v: unknown) => { const t = neutralised(v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v)); return /[",\n\r]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t; };
    const body = Readable.from((async function* () {
      yield `${cols.join(',')}\r\n`;
      for await (const r of rows) { const i = await item(r); yield `${cols.map((c) => cell(i[c])).join(',')}\r\n`; }
    })());
    return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="audit.csv"').send(body as never); // a stream: piped, not serialized
  });
  app.get('/alerts', { schema: { tags: ['audit'], operationId: 'listAlerts', summary: 'Alerts for QA and administrators: a record that failed verification, account lockouts (open: still locked), clocks that went back (open: still behind)', response: { 200: json(AlertList, 'The alerts: the record\'s first, then newest first'), ...errors(401, 403) } } }, async (req) => {
    assertMay(currentUser(req), 'alerts.read');
    return { items: [...integrityAlerts(ctx), ...await listAlerts(ctx)] };
  });
  app.get('/reports/periodic-review', { schema: { tags: ['audit'], operationId: 'getPeriodicReview', summary: 'Periodic review of accounts (Annex 11 §11): users, roles, last login, privilege changes, lockouts', querystring: PeriodicReviewQuery, response: { 200: json(PeriodicReviewSchema, 'The review of the period'), ...errors(400, 401, 403) } } }, async (req) => {
    assertMay(currentUser(req), 'audit.read', 'the periodic review');
    return periodicReview(ctx, new Date(req.query.from).toISOString(), new Date(req.query.to).toISOString());
  });
  app.get('/reports/periodic-review.pdf', {
    schema: {
      tags: ['audit'], operationId: 'getPeriodicReviewPdf', querystring: PeriodicReviewPdfQuery,
      summary: 'Periodic review (Annex 11 §11, 21 CFR 211.180(e)) as PDF/A-3b with its data attached: batches by product and process version, deviations by class and root cause, out-of-specification results, late entries, open deviations and CAPA references, account changes and lockouts, verification (qa, inspector, admin; audited with its SHA-256)',
      response: { 200: { description: 'The PDF (`ETag` is its SHA-256)', content: { 'application/pdf': { schema: z.string().describe('PDF/A-3b bytes') } } }, ...errors(400, 401, 403) },
    },
  }, async (req, reply) => {
    const out = await exportPeriodicReview(ctx, currentUser(req), { from: req.query.from, to: req.query.to, lang: req.query.lang ?? 'en' });
    return reply.type('application/pdf').header('etag', `"${out.sha256}"`)
      .header('content-disposition', `inline; filename="periodic-review-${out.period.from.slice(0, 10)}-${out.period.to.slice(0, 10)}.pdf"`).send(out.body as never); // the hashed bytes, sent as they are
  });
  app.get('/audit/verify', { schema: { tags: ['audit'], operationId: 'verifyAudit', summary: 'Recompute every hash chain (entries, signatures, audit)', response: { 200: json(ChainReportSchema, 'The verification report'), ...errors(401, 403) } } }, async (req) => {
    assertMay(currentUser(req), 'audit.read', 'verifying the record');
    return ctx.recordCheck.verify();
  });
  app.get('/audit/keys', { schema: {
    tags: ['audit'], operationId: 'listSigningKeys',
    summary: 'Every public key this app server trusts to sign the checkpoints of the chain heads, with what each signed',
    description: 'Its own key (`source: own`) and each key installed in its key folder\'s `trusted/` (`source: trusted`, `file`: `trusted/<name>.pub.pem`), read at each call (a key installed without a restart is listed). '
      + 'For each: the key id the checkpoints carry, the PEM, and from the database\'s checkpoints table how many checkpoints carry it and the first and last of them (`n`, `at`). '
      + '`createdAt` is given for the own key only (written beside it when it was generated); a trusted key\'s file carries no creation time, so it is absent there rather than taken from the file\'s modification time; `checkpoints.first.at` is when the record first shows the key signing. '
      + '`untrusted` lists the key ids the table names that this server does not trust: a finding (`GET /audit/verify` fails there); the table holds only their ids. `unreadable` names the files in `trusted/` that hold no Ed25519 public key (they trust nothing).',
    response: { 200: json(SigningKeyPage, 'The keys'), ...errors(401, 403) },
  } }, async (req) => {
    assertMay(currentUser(req), 'audit.read', 'reading the signing keys');
    return signingKeys(ctx);
  });
};
export default routes;
