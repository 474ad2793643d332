// Master batch records under change control: draft a version (POST /processes), list a process's
// versions, move a version through its signed lifecycle, compare two versions with the batches they
// touch; a draft's author may replace its content (PUT, over the content read: If-Match with the ETag,
// the content hash). GET /processes and GET /processes/{id} (the effective versions) stay in registries.ts.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AppContext } from '../context.js';
import { CompareParams, IdParams, IfMatchHeaders, ProcessDefinitionBody, ProcessVersionParams, VersionTransitionBody } from '../../schemas/api.js';
import { errors, json, ProcessVersionDetail, ProcessVersionList, ProcessVersionSchema, VersionComparisonSchema } from '../../schemas/responses.js';
import { currentUser } from '../plugins/auth.js';
import { notFound } from '../errors.js';
import { createProcessVersion } from '../commands/create-process-version.js';
import { editProcessVersion } from '../commands/edit-process-version.js';
import { transitionProcessVersion } from '../commands/transition-process-version.js';
import { compareVersions } from '../processes/compare-versions.js';
import { versionOrNotFound, versionView } from '../processes/master-records.js';

const routes: FastifyPluginAsyncZod<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.post('/processes', {
    schema: {
      tags: ['processes'], operationId: 'createProcessVersion', summary: 'Draft a new version of a process from its definition JSON (supervisor, qa); problems per JSON path', body: ProcessDefinitionBody,
      response: { 201: json(ProcessVersionSchema, 'The draft version'), ...errors(400, 401, 403, 409, 415) },
    },
  }, async (req, reply) => reply.code(201).send(await createProcessVersion(ctx, currentUser(req), req.body)));

  app.get('/processes/:id/versions', {
    schema: { tags: ['processes'], operationId: 'listProcessVersions', summary: 'Every version of a process with its lifecycle status and signatures', params: IdParams, response: { 200: json(ProcessVersionList, 'The versions, oldest first'), ...errors(400, 401, 404) } },
  }, async (req) => {
    const versions = await ctx.store.processVersions(req.params.id);
    if (versions.length === 0) throw notFound('process', req.params.id);
    return { items: await Promise.all(versions.map((v) => versionView(ctx, v))) };
  });

  app.get('/processes/:id/versions/:version', {
    schema: { tags: ['processes'], operationId: 'getProcessVersion', summary: 'One version: status, signatures and its definition', params: ProcessVersionParams, response: { 200: json(ProcessVersionDetail, 'The version (`ETag` is its content hash: send it as `If-Match` to change a draft)'), ...errors(400, 401, 404) } },
  }, async (req, reply) => {
    const v = await versionOrNotFound(ctx, req.params.id, req.params.version);
    return reply.header('etag', `"${v.hash}"`).send({ ...await versionView(ctx, v), definition: JSON.parse(v.definition) as Record<string, unknown> });
  });

  app.put('/processes/:id/versions/:version', {
    schema: {
      tags: ['processes'], operationId: 'editProcessVersion',
      summary: 'Replace the content of a draft version (its author only), over the content read: `If-Match` with the ETag of GET …/versions/{version}; problems per JSON path',
      params: ProcessVersionParams, headers: IfMatchHeaders, body: ProcessDefinitionBody,
      response: { 200: json(ProcessVersionSchema, 'The draft after the change (`ETag` is its new content hash)'), ...errors(400, 401, 403, 404, 409, 412, 415, 428) },
    },
  }, async (req, reply) => {
    const v = await editProcessVersion(ctx, currentUser(req), req.params.id, req.params.version, req.headers['if-match'], req.body);
    return reply.header('etag', `"${v.hash}"`).send(v);
  });

  app.post('/processes/:id/versions/:version/transitions', {
    schema: {
      tags: ['processes'], operationId: 'transitionProcessVersion', summary: 'Submit, review, approve, make effective or withdraw a version, signed, with a reason', params: ProcessVersionParams, body: VersionTransitionBody,
      response: { 201: json(ProcessVersionSchema, 'The version after the transition'), ...errors(400, 401, 403, 404, 409, 415, 423, 429) },
    },
  }, async (req, reply) => reply.code(201).send(await transitionProcessVersion(ctx, currentUser(req), req.params.id, req.params.version, req.body)));

  app.get('/processes/:id/versions/:version/compare/:other', {
    schema: {
      tags: ['processes'], operationId: 'compareProcessVersions', summary: 'What changed from one version to another, in words, and the running batches of each version', params: CompareParams,
      response: { 200: json(VersionComparisonSchema, 'The changes and their impact'), ...errors(400, 401, 404) },
    },
  }, async (req) => compareVersions(ctx, req.params.id, req.params.version, req.params.other));
};
export default routes;
