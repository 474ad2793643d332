// Batches: start, read, record steps, verify, correct, terminate; deviations and the batch's audit.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import {
  BatchListQuery, CorrectionBody, CreateBatchBody, EntryParams, IdParams, IfNoneMatchHeaders, LangQuery, PageQuery, RecordStepBody, StepParams, TerminateBody, VerifyBody,
} from '../../schemas/api.js';
import { AuditPage, BatchPage, BatchSchema, DeviationPage, EntryReply, errors, json, noContent } from '../../schemas/responses.js';
import { conditionalGet } from '../plugins/conditional-get.js';
import { currentUser } from '../plugins/auth.js';
import { loadBatch } from '../record/load.js';
import type { BatchRecord } from '../record/record.js';
import { batchView } from '../views/batch-view.js';
import { listBatchViews } from '../views/batch-list.js';
import { listedIntegrity } from '../record/integrity.js';
import { deviationView } from '../views/deviation-view.js';
import { entryView } from '../views/entry-view.js';
import type { Lang } from '../views/text.js';
import { createBatch } from '../commands/create-batch.js';
import { recordStep } from '../commands/record-step.js';
import { verifyEntry } from '../commands/verify-entry.js';
import { correctEntry } from '../commands/correct-entry.js';
import { terminateBatch } from '../commands/terminate-batch.js';
import { auditItems, peopleOf } from './audit.js';
import { assertMay } from '../permissions.js';
import { problemLanguage } from '../problem-texts.js';

/** English unless the terminal asks for Vietnamese (?lang=vi or Accept-Language): as problem details are worded. */
export const langOf: (req: FastifyRequest) => Lang = problemLanguage;

const routes: FastifyPluginAsyncZod<{ ctx: AppContext }> = async (app, { ctx }) => {
  // The reply to a write is built from the record the command replayed, without hashing the batch's
  // rows again: its integrity is what the last verification found (record/integrity.ts).
  const reply201 = async (req: FastifyRequest, record: BatchRecord, entryId: string) => ({
    entry: entryView(record, record.entries.find((e) => e.id === entryId)!),
    batch: await batchView(ctx, record, { lang: langOf(req), integrity: await listedIntegrity(ctx, record.row.id) }),
  });

  app.post('/batches', { schema: { tags: ['batches'], operationId: 'createBatch', summary: 'Start a batch (operator, supervisor)', body: CreateBatchBody, response: { 201: json(BatchSchema, 'The batch started'), ...errors(400, 401, 403, 404, 409, 415) } } }, async (req, reply) =>
    reply.code(201).send(await batchView(ctx, await createBatch(ctx, currentUser(req), req.body), { lang: langOf(req) })));

  app.get('/batches', { schema: { tags: ['batches'], operationId: 'listBatches', summary: 'Batches, oldest first, paged; without entries', querystring: BatchListQuery, response: { 200: json(BatchPage, 'A page of batches'), ...errors(400, 401, 403) } } }, async (req) =>
    listBatchViews(ctx, req.query, langOf(req)));

  app.get('/batches/:id', {
    schema: {
      tags: ['batches'], operationId: 'getBatch', summary: 'A batch: state, available and locked steps, entries', params: IdParams, querystring: LangQuery, headers: IfNoneMatchHeaders,
      response: { 200: json(BatchSchema, 'The batch (`ETag`: a hash of this answer\'s bytes; send it back as `If-None-Match` for a 304 while nothing shown has changed)'), 304: noContent('Not modified: the `If-None-Match` sent names the current ETag (no body)'), ...errors(400, 401, 403, 404) },
    },
    onSend: conditionalGet,
  }, async (req) => batchView(ctx, await loadBatch(ctx, req.params.id), { lang: langOf(req) }));

  app.post('/batches/:id/steps/:stepId', {
    schema: {
      tags: ['batches'], operationId: 'recordStep', summary: 'Record a step, signed "performed" by the credentials in `signature`', params: StepParams, body: RecordStepBody,
      response: { 201: json(EntryReply, 'The entry recorded and the batch after it'), ...errors(400, 401, 403, 404, 409, 415, 422, 423, 429) },
    },
  }, async (req, reply) => {
    const { entryId, record } = await recordStep(ctx, currentUser(req), req.params.id, req.params.stepId, req.body);
    return reply.code(201).send(await reply201(req, record, entryId));
  });

  app.post('/batches/:id/entries/:entryId/verify', {
    schema: {
      tags: ['batches'], operationId: 'verifyEntry', summary: 'Verify a step entry (a second person), signed "verified"', params: EntryParams, body: VerifyBody,
      response: { 201: json(EntryReply, 'The entry recorded and the batch after it'), ...errors(400, 401, 403, 404, 409, 415, 422, 423, 429) },
    },
  }, async (req, reply) => {
    const { entryId, record } = await verifyEntry(ctx, currentUser(req), req.params.id, req.params.entryId, req.body);
    return reply.code(201).send(await reply201(req, record, entryId));
  });

  app.post('/batches/:id/entries/:entryId/corrections', {
    schema: {
      tags: ['batches'], operationId: 'correctEntry', summary: 'Correct a step entry: a new signed entry that keeps the original', params: EntryParams, body: CorrectionBody,
      response: { 201: json(EntryReply, 'The entry recorded and the batch after it'), ...errors(400, 401, 403, 404, 409, 415, 422, 423, 429) },
    },
  }, async (req, reply) => {
    const { entryId, record } = await correctEntry(ctx, currentUser(req), req.params.id, req.params.entryId, req.body);
    return reply.code(201).send(await reply201(req, record, entryId));
  });

  app.post('/batches/:id/terminate', {
    schema: {
      tags: ['batches'], operationId: 'terminateBatch', summary: 'Terminate a batch (supervisor, qa), signed "approved"', params: IdParams, body: TerminateBody,
      response: { 201: json(EntryReply, 'The entry recorded and the batch after it'), ...errors(400, 401, 403, 404, 409, 415, 422, 423, 429) },
    },
  }, async (req, reply) => {
    const { record } = await terminateBatch(ctx, currentUser(req), req.params.id, req.body);
    return reply.code(201).send(await reply201(req, record, record.entries[record.entries.length - 1].id));
  });

  app.get('/batches/:id/deviations', { schema: { tags: ['batches'], operationId: 'listBatchDeviations', summary: "A batch's deviations", params: IdParams, querystring: PageQuery, response: { 200: json(DeviationPage, "A page of the batch's deviations"), ...errors(400, 401, 403, 404) } } }, async (req) => {
    const record = await loadBatch(ctx, req.params.id);
    const start = Number(Buffer.from(req.query.cursor ?? '', 'base64url').toString()) || 0;
    const items = record.deviations.slice(start, start + req.query.limit).map((d) => deviationView(d, record));
    const next = start + req.query.limit < record.deviations.length ? Buffer.from(String(start + req.query.limit)).toString('base64url') : undefined;
    return { items, ...(next && { nextCursor: next }) };
  });

  app.get('/batches/:id/audit', { schema: { tags: ['batches', 'audit'], operationId: 'listBatchAudit', summary: "A batch's audit trail", params: IdParams, querystring: PageQuery, response: { 200: json(AuditPage, "A page of the batch's audit trail"), ...errors(400, 401, 403, 404) } } }, async (req) => {
    await loadBatch(ctx, req.params.id);
    assertMay(currentUser(req), 'audit.read');
    return auditItems(await ctx.store.listAudit({ batchId: req.params.id }, req.query.limit, req.query.cursor), peopleOf(ctx));
  });

};
export default routes;
