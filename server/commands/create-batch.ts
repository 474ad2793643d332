// Starts a batch: pins the process definition (id, version, content hash), checks the DIN, issues the
// batch number and the chain-of-identity id, and records the first entry through the one write path
// of every command (append.ts).
import { randomUUID } from 'node:crypto';
import type { AppContext } from '../context.js';
import { conflict, notFound } from '../errors.js';
import { assertMay } from '../permissions.js';
import type { UserRow } from '../store/store.js';
import { startBatch } from './append.js';
import { chainOfIdentityId, randomAlnum6 } from '../domain/isbt128.js';
import type { EntryPayload } from '../../schemas/entries.js';

export interface CreateBatchInput { processId: string; din: { din: string; check: string }; patient: { id: string; weightKg: number } }

export function createBatch(ctx: AppContext, actor: UserRow, input: CreateBatchInput) {
  const process = ctx.processes.current(input.processId);
  if (!process) throw notFound('process', input.processId);
  assertMay(actor, 'batch.create');
  const { store, clock } = ctx;
  const now = clock.now();
  let payload!: EntryPayload<'batch-created'>;
  const { record } = startBatch(ctx, actor, () => {
    // Inside the write transaction: no other request can take the DIN or the number meanwhile.
    const active = store.findActiveBatchByDin(input.din.din);
    if (active) throw conflict('din-in-use', `DIN ${input.din.din} is already used by batch ${active.batchNumber} (${active.status})`);
    const def = process.definition;
    store.saveDefinition({ hash: process.hash, processId: def.id, version: def.version, definition: JSON.stringify(def), loadedAt: now.toISOString() });
    // Batch numbers say the product and year; training batches can never be mistaken for GMP ones.
    const prefix = `${ctx.config.training ? 'TRN-' : ''}${def.productType === 'CAR-T' ? 'CART' : 'NK'}-${now.getUTCFullYear()}-`;
    const batchNumber = `${prefix}${String(store.countBatchNumbers(prefix) + 1).padStart(5, '0')}`;
    payload = {
      processId: def.id, processVersion: def.version, processHash: process.hash, batchNumber,
      din: input.din.din, dinCheck: input.din.check, chainOfIdentityId: chainOfIdentityId(input.din.din, randomAlnum6()),
      patient: input.patient, training: ctx.config.training,
    };
    return {
      id: randomUUID(), batchNumber, processId: def.id, processVersion: def.version, processHash: process.hash, status: 'in_process', version: 0,
      din: payload.din, dinCheck: payload.dinCheck, chainOfIdentityId: payload.chainOfIdentityId, patient: input.patient,
      training: ctx.config.training, openDeviations: 0, createdAt: now.toISOString(), updatedAt: now.toISOString(),
    };
  }, (w) => {
    const entry = w.entry('batch-created', payload);
    w.audit({ action: 'batch.created', entity: 'batch', entityId: entry.batchId, after: { ...payload, entryId: entry.id } });
  });
  return record;
}
