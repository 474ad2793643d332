// Materials and equipment in SQLite.
import { and, asc, eq, gt } from 'drizzle-orm';
import { decodeCursor, page, type RegistryStore } from '../store.js';
import * as t from '../tables.js';
import type { SqliteConnection } from './connection.js';

export function sqliteRegistry(c: SqliteConnection): RegistryStore {
  const { db, q } = c;
  return {
    insertMaterial: (row) => c.run(() => void db.insert(t.materials).values(row).run()),
    getMaterial: (id) => c.run(() => q.material.get({ id })),
    updateMaterialStatus: (id, status) => c.run(() => void db.update(t.materials).set({ status }).where(eq(t.materials.id, id)).run()),
    listMaterials: (type, limit, cursor) => c.run(() => {
      const after = decodeCursor(cursor);
      const where = and(type ? eq(t.materials.type, type) : undefined, after ? gt(t.materials.id, after) : undefined);
      return page(db.select().from(t.materials).where(where).orderBy(asc(t.materials.id)).limit(limit + 1).all(), limit, (r) => r.id);
    }),
    insertEquipment: (row) => c.run(() => void db.insert(t.equipment).values(row).run()),
    getEquipment: (id) => c.run(() => q.equipment.get({ id })),
    updateEquipmentCalibration: (id, calibrationDueOn) => c.run(() => void db.update(t.equipment).set({ calibrationDueOn }).where(eq(t.equipment.id, id)).run()),
    findEquipmentByAssetId: (assetId) => c.run(() => db.select().from(t.equipment).where(eq(t.equipment.assetId, assetId)).get()),
    listEquipment: (type, limit, cursor) => c.run(() => {
      const after = decodeCursor(cursor);
      const where = and(type ? eq(t.equipment.type, type) : undefined, after ? gt(t.equipment.id, after) : undefined);
      return page(db.select().from(t.equipment).where(where).orderBy(asc(t.equipment.id)).limit(limit + 1).all(), limit, (r) => r.id);
    }),
  };
}
