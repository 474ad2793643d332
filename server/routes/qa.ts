// QA's work on batches: deviations (open, investigate, reclassify, close; site-wide list), the review by
// exception, the disposition, the certificate of analysis, the final containers, and each user's
// pending work.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { IdParams, LangQuery, PageQuery } from '../../schemas/api.js';
import { CloseDeviationBody, DeviationListQuery, EvidencePacketQuery, DispositionBody, InvestigationBody, OpenDeviationBody, ReclassifyBody, ReviewBody } from '../../schemas/qa.js';
import { CoaSchema, ContainersSchema, DeviationDetailPage, DeviationDetailSchema, DeviationReply, PendingPage, ReviewReply, ReviewViewSchema } from '../../schemas/qa-responses.js';
import { EntryReply, errors, json } from '../../schemas/responses.js';
import { currentUser } from '../plugins/auth.js';
import { loadBatch } from '../record/load.js';
import type { BatchRecord } from '../record/record.js';
import { batchView } from '../views/batch-view.js';
import { entryView } from '../views/entry-view.js';
import { deviationView } from '../views/deviation-view.js';
import { listDeviations } from '../views/deviation-list.js';
import { reviewView } from '../views/review-view.js';
import { coaView } from '../views/coa-view.js';
import { containersView } from '../views/containers-view.js';
import { pendingFor } from '../views/pending-view.js';
import { openDeviation } from '../commands/open-deviation.js';
import { investigateDeviation } from '../commands/investigate-deviation.js';
import { closeDeviation } from '../commands/close-deviation.js';
import { reclassifyDeviation } from '../commands/reclassify-deviation.js';
import { signReview } from '../commands/sign-review.js';
import { disposeBatch } from '../commands/dispose-batch.js';
import { loadDeviation } from '../commands/qa-rules.js';
import { langOf } from './batches.js';
import { assertMay } from '../permissions.js';
import { exportBatchRecord } from '../commands/export-batch-record.js';
import { z } from 'zod';

const routes: FastifyPluginAsyncZod<{ ctx: AppContext }> = async (app, { ctx }) => {
  const withDeviation = async (req: FastifyRequest, record: BatchRecord, deviationId: string) => ({
    deviation: { ...deviationView(record.deviations.find((d) => d.id === deviationId)!, record), batchNumber: record.row.batchNumber },
    batch: await batchView(ctx, record, { lang: langOf(req), entries: false }),
  });
  const withEntry = async (req: FastifyRequest, record: BatchRecord, entryId: string) => ({
    entry: entryView(record, record.entries.find((e) => e.id === entryId)!),
    batch: await batchView(ctx, record, { lang: langOf(req) }),
  });

  // ─── deviations ─────────────────────────────────────────────────────────────────────────────
  app.post('/batches/:id/deviations', {
    schema: { tags: ['deviations'], operationId: 'openDeviation', summary: 'Open a deviation by hand (operator, supervisor, qc, qa)', params: IdParams, body: OpenDeviationBody, response: { 201: json(DeviationReply, 'The deviation opened and its batch'), ...errors(400, 401, 403, 404, 409, 415, 422) } },
  }, async (req, reply) => {
    const { deviationId, record } = await openDeviation(ctx, currentUser(req), req.params.id, req.body);
    return reply.code(201).send(await withDeviation(req, record, deviationId));
  });

  app.get('/deviations', { schema: { tags: ['deviations'], operationId: 'listDeviations', summary: "Every batch's deviations, oldest first, filtered and paged", querystring: DeviationListQuery, response: { 200: json(DeviationDetailPage, 'A page of deviations'), ...errors(400, 401, 403) } } }, async (req) =>
    await listDeviations(ctx, req.query));

  app.get('/deviations/:id', { schema: { tags: ['deviations'], operationId: 'getDeviation', summary: 'A deviation with its investigation, reclassifications and closure', params: IdParams, response: { 200: json(DeviationDetailSchema, 'The deviation'), ...errors(400, 401, 403, 404) } } }, async (req) => {
    const { record, deviation } = await loadDeviation(ctx, req.params.id);
    return { ...deviationView(deviation, record), batchNumber: record.row.batchNumber };
  });

  app.post('/deviations/:id/investigation', {
    schema: { tags: ['deviations'], operationId: 'investigateDeviation', summary: 'Record the investigation of a deviation (qa), signed "investigated"', params: IdParams, body: InvestigationBody, response: { 201: json(DeviationReply, 'The deviation investigated and its batch'), ...errors(400, 401, 403, 404, 409, 415, 422, 423, 429) } },
  }, async (req, reply) => {
    const { deviationId, record } = await investigateDeviation(ctx, currentUser(req), req.params.id, req.body);
    return reply.code(201).send(await withDeviation(req, record, deviationId));
  });

  app.post('/deviations/:id/reclassification', {
    schema: { tags: ['deviations'], operationId: 'reclassifyDeviation', summary: 'Change the severity of a deviation with a reason (qa), signed "approved"', params: IdParams, body: ReclassifyBody, response: { 201: json(DeviationReply, 'The deviation reclassified and its batch'), ...errors(400, 401, 403, 404, 409, 415, 422, 423, 429) } },
  }, async (req, reply) => {
    const { deviationId, record } = await reclassifyDeviation(ctx, currentUser(req), req.params.id, req.body);
    return reply.code(201).send(await withDeviation(req, record, deviationId));
  });

  app.post('/deviations/:id/close', {
    schema: { tags: ['deviations'], operationId: 'closeDeviation', summary: 'Close a deviation with its investigation and conclusion (qa), signed "approved"', params: IdParams, body: CloseDeviationBody, response: { 200: json(DeviationReply, 'The deviation closed and its batch'), ...errors(400, 401, 403, 404, 409, 415, 422, 423, 429) } },
  }, async (req) => {
    const { deviationId, record } = await closeDeviation(ctx, currentUser(req), req.params.id, req.body);
    return withDeviation(req, record, deviationId);
  });

  // ─── review and disposition ─────────────────────────────────────────────────────────────────
  app.get('/batches/:id/review', {
    schema: { tags: ['qa'], operationId: 'getReview', summary: 'Review by exception: what QA must look at, the reviews and the disposition (the evidence packet)', params: IdParams, querystring: LangQuery, response: { 200: json(ReviewViewSchema, 'What QA must look at'), ...errors(400, 401, 403, 404) } },
  }, async (req) => {
    const record = await loadBatch(ctx, req.params.id);
    assertMay(currentUser(req), 'batch.review.read');
    return reviewView(ctx, record, langOf(req));
  });

  app.get('/batches/:id/review.pdf', {
    schema: {
      tags: ['qa'], operationId: 'getEvidencePacketPdf', params: IdParams, querystring: EvidencePacketQuery,
      summary: 'The evidence packet (the review by exception, or one deviation with `deviation`) as PDF/A-3b with its JSON attached (qa, inspector, admin; audited with its SHA-256)',
      response: { 200: { description: 'The PDF (`ETag` is its SHA-256)', content: { 'application/pdf': { schema: z.string().describe('PDF/A-3b bytes') } } }, ...errors(400, 401, 403, 404) },
    },
  }, async (req, reply) => {
    const { deviation, lang } = req.query;
    const out = await exportBatchRecord(ctx, currentUser(req), req.params.id, { kind: 'review', lang: lang ?? 'en', ...(deviation !== undefined && { deviationId: deviation }) });
    const name = deviation === undefined ? `${out.batchNumber}-review.pdf` : `${out.batchNumber}-deviation-review.pdf`;
    return reply.type('application/pdf').header('etag', `"${out.sha256}"`)
      .header('content-disposition', `inline; filename="${name}"`).send(out.body as never); // the hashed bytes, sent as they are
  });

  app.post('/batches/:id/review', {
    schema: { tags: ['qa'], operationId: 'signReview', summary: 'Sign the review of the record and its audit trail (qa), signed "reviewed"', params: IdParams, body: ReviewBody, response: { 201: json(ReviewReply, 'The review entry, the batch after it and the exceptions covered'), ...errors(400, 401, 403, 404, 409, 415, 422, 423, 429) } },
  }, async (req, reply) => {
    const { entryId, covered, record } = await signReview(ctx, currentUser(req), req.params.id, req.body);
    return reply.code(201).send({ ...await withEntry(req, record, entryId), covered });
  });

  app.post('/batches/:id/disposition', {
    schema: { tags: ['qa'], operationId: 'disposeBatch', summary: 'Release, reject or release exceptionally (qa), signed "released" or "rejected"', params: IdParams, body: DispositionBody, response: { 201: json(EntryReply, 'The disposition entry and the batch after it'), ...errors(400, 401, 403, 404, 409, 415, 422, 423, 429) } },
  }, async (req, reply) => {
    const { entryId, record } = await disposeBatch(ctx, currentUser(req), req.params.id, req.body);
    return reply.code(201).send(await withEntry(req, record, entryId));
  });

  // ─── what follows from the record ──────────────────────────────────────────────────────────
  app.get('/batches/:id/coa', { schema: { tags: ['qa'], operationId: 'getCertificateOfAnalysis', summary: 'Certificate of analysis: every release test, its specification and result, and the disposition', params: IdParams, querystring: LangQuery, response: { 200: json(CoaSchema, 'The certificate of analysis'), ...errors(400, 401, 403, 404) } } }, async (req) =>
    coaView(ctx, await loadBatch(ctx, req.params.id), langOf(req)));

  app.get('/batches/:id/containers', { schema: { tags: ['qa'], operationId: 'listContainers', summary: 'The final containers of a batch: identifier, volume, dose, label scan, status', params: IdParams, querystring: LangQuery, response: { 200: json(ContainersSchema, 'The containers'), ...errors(400, 401, 403, 404) } } }, async (req) =>
    containersView(await loadBatch(ctx, req.params.id), langOf(req)));

  app.get('/me/pending', { schema: { tags: ['qa'], operationId: 'listMyPending', summary: 'What the caller can do now, across every batch', querystring: PageQuery.extend(LangQuery.shape), response: { 200: json(PendingPage, 'A page of pending work'), ...errors(400, 401, 403) } } }, async (req) =>
    pendingFor(ctx, currentUser(req), req.query, langOf(req)));
};
export default routes;
