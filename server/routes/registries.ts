// Processes, material lots and equipment.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AppContext } from '../context.js';
import { CreateEquipmentBody, CreateMaterialBody, IdParams, MaterialListQuery, PatchEquipmentBody, PatchMaterialBody } from '../../schemas/api.js';
import { EquipmentPage, EquipmentSchema, errors, json, LotPage, LotSchema, ProcessSchema, ProcessSummarySchema } from '../../schemas/responses.js';
import { z } from 'zod';
import { changeMaterialStatus, equipmentView, materialView, recordCalibration, registerEquipment, registerMaterial } from '../services/materials.js';
import { currentUser } from '../plugins/auth.js';
import { notFound } from '../errors.js';

const routes: FastifyPluginAsyncZod<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.get('/processes', { schema: { tags: ['processes'], operationId: 'listProcesses', summary: 'Process definitions offered for new batches', response: { 200: json(z.array(ProcessSummarySchema), 'The processes (not paged: a handful)'), ...errors(401, 403) } } }, async () =>
    ctx.processes.list().map((p) => ({ id: p.definition.id, version: p.definition.version, name: p.definition.name, title: p.definition.title, productType: p.definition.productType, hash: p.hash })));
  app.get('/processes/:id', { schema: { tags: ['processes'], operationId: 'getProcess', summary: 'The full definition: phases, steps, fields, specs, signatures, windows', params: IdParams, response: { 200: json(ProcessSchema, 'The definition, by id or content hash'), ...errors(400, 401, 403, 404) } } }, async (req) => {
    const p = ctx.processes.current(req.params.id) ?? ctx.processes.byContentHash(req.params.id);
    if (!p) throw notFound('process', req.params.id);
    return { ...p.definition, hash: p.hash };
  });

  app.post('/materials', { schema: { tags: ['materials'], operationId: 'createMaterial', summary: 'Register a material lot (supervisor, qa)', body: CreateMaterialBody, response: { 201: json(LotSchema, 'The lot registered'), ...errors(400, 401, 403, 409, 415) } } }, async (req, reply) =>
    reply.code(201).send(await registerMaterial(ctx, currentUser(req), req.body)));
  app.get('/materials', { schema: { tags: ['materials'], operationId: 'listMaterials', summary: 'Material lots, optionally of one type', querystring: MaterialListQuery, response: { 200: json(LotPage, 'A page of lots'), ...errors(400, 401, 403) } } }, async (req) => {
    const page = await ctx.store.listMaterials(req.query.type, req.query.limit, req.query.cursor);
    return { items: page.items.map(materialView), ...(page.nextCursor && { nextCursor: page.nextCursor }) };
  });
  app.patch('/materials/:id', { schema: { tags: ['materials'], operationId: 'updateMaterialStatus', summary: "Change a lot's status (qa), with a reason", params: IdParams, body: PatchMaterialBody, response: { 200: json(LotSchema, 'The lot after the change'), ...errors(400, 401, 403, 404, 415) } } }, async (req) =>
    changeMaterialStatus(ctx, currentUser(req), req.params.id, req.body.status, req.body.reason));

  app.post('/equipment', { schema: { tags: ['equipment'], operationId: 'createEquipment', summary: 'Register equipment (supervisor, qa)', body: CreateEquipmentBody, response: { 201: json(EquipmentSchema, 'The equipment registered'), ...errors(400, 401, 403, 409, 415) } } }, async (req, reply) =>
    reply.code(201).send(await registerEquipment(ctx, currentUser(req), req.body)));
  app.get('/equipment', { schema: { tags: ['equipment'], operationId: 'listEquipment', summary: 'Equipment, optionally of one type', querystring: MaterialListQuery, response: { 200: json(EquipmentPage, 'A page of equipment'), ...errors(400, 401, 403) } } }, async (req) => {
    const page = await ctx.store.listEquipment(req.query.type, req.query.limit, req.query.cursor);
    return { items: page.items.map(equipmentView), ...(page.nextCursor && { nextCursor: page.nextCursor }) };
  });
  app.patch('/equipment/:id', { schema: { tags: ['equipment'], operationId: 'recordCalibration', summary: 'Record a calibration: the new due date (supervisor, qa), with a reason', params: IdParams, body: PatchEquipmentBody, response: { 200: json(EquipmentSchema, 'The equipment after the calibration'), ...errors(400, 401, 403, 404, 415) } } }, async (req) =>
    recordCalibration(ctx, currentUser(req), req.params.id, req.body.calibrationDueOn, req.body.reason));
};
export default routes;
