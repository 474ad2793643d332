// The batch record for regulators: the electronic copy (JSON) and the executed batch record (PDF/A-3b).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AppContext } from '../context.js';
import { IdParams, LangQuery } from '../../schemas/api.js';
import { BatchRecordExport, errors, json } from '../../schemas/responses.js';
import { currentUser } from '../plugins/auth.js';
import { z } from 'zod';
import { exportBatchRecord } from '../commands/export-batch-record.js';

const routes: FastifyPluginAsyncZod<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.get('/batches/:id/export', {
    schema: {
      tags: ['records'], operationId: 'exportBatchRecord', summary: "The batch's complete electronic record as JSON (qa, inspector, admin; audited with its SHA-256)", params: IdParams,
      response: { 200: json(BatchRecordExport, 'The record (`ETag` is its SHA-256)'), ...errors(400, 401, 403, 404) },
    },
  }, async (req, reply) => {
    const out = await exportBatchRecord(ctx, currentUser(req), req.params.id, { kind: 'json' });
    return reply.type('application/json; charset=utf-8').header('etag', `"${out.sha256}"`)
      .header('content-disposition', `attachment; filename="${out.batchNumber}-record.json"`).send(out.body as never); // the hashed bytes, sent as they are
  });

  app.get('/batches/:id/record.pdf', {
    schema: {
      tags: ['records'], operationId: 'getBatchRecordPdf', summary: 'The executed batch record, PDF/A-3b with the JSON record attached (qa, inspector, admin; audited with its SHA-256)', params: IdParams, querystring: LangQuery,
      response: { 200: { description: 'The PDF (`ETag` is its SHA-256)', content: { 'application/pdf': { schema: z.string().describe('PDF/A-3b bytes') } } }, ...errors(400, 401, 403, 404) },
    },
  }, async (req, reply) => {
    const out = await exportBatchRecord(ctx, currentUser(req), req.params.id, { kind: 'pdf', lang: req.query.lang ?? 'en' });
    return reply.type('application/pdf').header('etag', `"${out.sha256}"`)
      .header('content-disposition', `inline; filename="${out.batchNumber}-record.pdf"`).send(out.body as never); // the hashed bytes, sent as they are
  });

  app.get('/batches/:id/coa.pdf', {
    schema: {
      tags: ['records'], operationId: 'getCertificateOfAnalysisPdf', summary: 'The certificate of analysis, PDF/A-3b (every role that reads the batch; audited with its SHA-256)', params: IdParams, querystring: LangQuery,
      response: { 200: { description: 'The PDF (`ETag` is its SHA-256)', content: { 'application/pdf': { schema: z.string().describe('PDF/A-3b bytes') } } }, ...errors(400, 401, 403, 404) },
    },
  }, async (req, reply) => {
    const out = await exportBatchRecord(ctx, currentUser(req), req.params.id, { kind: 'coa', lang: req.query.lang ?? 'en' });
    return reply.type('application/pdf').header('etag', `"${out.sha256}"`)
      .header('content-disposition', `inline; filename="${out.batchNumber}-coa.pdf"`).send(out.body as never); // the hashed bytes, sent as they are
  });
};
export default routes;
