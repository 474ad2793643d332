// Registries of material lots and equipment. Registering and status changes are audited; whether a
// lot or an instrument may be used is decided when a step uses it (server/domain/materials-rules.ts).
import { randomUUID } from 'node:crypto';
import type { AppContext } from '../context.js';
import { conflict, notFound } from '../errors.js';
import { assertMay } from '../permissions.js';
import { stored, type EquipmentRow, type MaterialRow, type UserRow } from '../store/store.js';
import { writeAudit } from './audit.js';

/** The stored status is one of these (only the registry's own functions write it). */
export type LotStatus = 'released' | 'quarantined' | 'rejected';
export const materialView = ({ createdBy: _c, ...m }: MaterialRow) => ({ ...m, status: m.status as LotStatus });
export const equipmentView = ({ createdBy: _c, ...e }: EquipmentRow) => e;

export async function registerMaterial(ctx: AppContext, actor: UserRow, input: Omit<MaterialRow, 'id' | 'createdAt' | 'createdBy' | 'status'> & { status?: MaterialRow['status'] }) {
  assertMay(actor, 'material.register');
  // 21 CFR 211.22, 211.84: production does not release its own materials. A lot registered without
  // the qa role is quarantined; only QA registers it released or releases it later (PATCH, with a reason).
  if (input.status === 'released') assertMay(actor, 'material.release', 'registering a lot as released');
  // The text as the database stores it (a lone surrogate becomes U+FFFD): the reply, the registry and
  // the audit row say the same (ALCOA accurate); SQLite had kept it as three U+FFFD, the audit as one.
  const body = stored({ ...input, status: input.status ?? 'quarantined' });
  const row: MaterialRow = { ...body, id: randomUUID(), createdAt: ctx.clock.now().toISOString(), createdBy: actor.id };
  await ctx.store.transaction(async () => {
    await ctx.store.insertMaterial(row);
    await writeAudit(ctx.store, ctx.clock, { userId: actor.id, action: 'material.registered', entity: 'material', entityId: row.id, after: body });
  });
  return materialView(row);
}

export async function changeMaterialStatus(ctx: AppContext, actor: UserRow, id: string, status: string, reason: string) {
  const lot = await ctx.store.getMaterial(id);
  if (!lot) throw notFound('material', id);
  assertMay(actor, 'material.release', 'changing the status of a lot');
  if (lot.status === status) return materialView(lot); // a no-op writes no audit row
  await ctx.store.transaction(async () => {
    await ctx.store.updateMaterialStatus(id, status);
    await writeAudit(ctx.store, ctx.clock, { userId: actor.id, action: 'material.status-changed', entity: 'material', entityId: id, before: { status: lot.status }, after: { status }, reason });
  });
  return materialView({ ...lot, status });
}

export async function registerEquipment(ctx: AppContext, actor: UserRow, input: Omit<EquipmentRow, 'id' | 'createdAt' | 'createdBy'>) {
  assertMay(actor, 'equipment.register');
  const body = stored(input); // as registerMaterial: what is answered and audited is what is stored
  const row: EquipmentRow = { ...body, id: randomUUID(), createdAt: ctx.clock.now().toISOString(), createdBy: actor.id };
  await ctx.store.transaction(async () => {
    if (await ctx.store.findEquipmentByAssetId(body.assetId)) throw conflict('asset-id-taken', `equipment with asset id ${body.assetId} is already registered`).inVietnamese(`thiết bị mã tài sản ${body.assetId} đã được đăng ký`);
    await ctx.store.insertEquipment(row);
    await writeAudit(ctx.store, ctx.clock, { userId: actor.id, action: 'equipment.registered', entity: 'equipment', entityId: row.id, after: body });
  });
  return equipmentView(row);
}

/** A new calibration moves the due date; the change is audited with its reason. */
export async function recordCalibration(ctx: AppContext, actor: UserRow, id: string, calibrationDueOn: string, reason: string) {
  const eq = await ctx.store.getEquipment(id);
  if (!eq) throw notFound('equipment', id);
  assertMay(actor, 'equipment.calibrate');
  if (eq.calibrationDueOn === calibrationDueOn) return equipmentView(eq); // a no-op writes no audit row
  await ctx.store.transaction(async () => {
    await ctx.store.updateEquipmentCalibration(id, calibrationDueOn);
    await writeAudit(ctx.store, ctx.clock, { userId: actor.id, action: 'equipment.calibration-changed', entity: 'equipment', entityId: id, before: { calibrationDueOn: eq.calibrationDueOn }, after: { calibrationDueOn }, reason });
  });
  return equipmentView({ ...eq, calibrationDueOn });
}
