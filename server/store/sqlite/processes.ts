// Process definitions and process versions under change control in SQLite.
import { and, asc, eq, sql } from 'drizzle-orm';
import type { ProcessStore } from '../store.js';
import * as t from '../tables.js';
import type { SqliteConnection } from './connection.js';

export function sqliteProcesses(c: SqliteConnection): ProcessStore {
  const { db } = c;
  return {
    saveDefinition: (row) => c.run(() => void db.insert(t.processDefinitions).values(row).onConflictDoNothing().run()),
    definitionHashes: (processId, version) => c.run(() => db.select({ hash: t.processDefinitions.hash }).from(t.processDefinitions)
      .where(and(eq(t.processDefinitions.processId, processId), eq(t.processDefinitions.version, version))).all().map((r) => r.hash)),
    getDefinition: (hash) => c.run(() => db.select().from(t.processDefinitions).where(eq(t.processDefinitions.hash, hash)).get()),
    insertProcessVersion: (row) => c.run(() => void db.insert(t.processVersions).values(row).run()),
    setProcessVersionStatus: (id, status, updatedAt) => c.run(() => void db.update(t.processVersions).set({ status, updatedAt }).where(eq(t.processVersions.id, id)).run()),
    replaceProcessVersionContent: (id, definition, hash, updatedAt) => c.run(() => void db.update(t.processVersions).set({ definition, hash, updatedAt }).where(eq(t.processVersions.id, id)).run()),
    processVersions: (processId) => c.run(() => {
      const q = db.select().from(t.processVersions);
      return (processId ? q.where(eq(t.processVersions.processId, processId)) : q).orderBy(asc(t.processVersions.processId), asc(t.processVersions.version)).all();
    }),
    processVersion: (processId, version) => c.run(() => c.q.processVersion.get({ processId, version })),
    processVersionStatus: (processId, version) => c.run(() => c.q.processVersionStatus.get(processId, version) as string | undefined),
    appendProcessVersionSignature: (row) => c.run(() => void db.insert(t.processVersionSignatures).values(row).run()),
    processVersionSignatures: (versionId) => c.run(() => db.select().from(t.processVersionSignatures)
      .where(eq(t.processVersionSignatures.versionId, versionId)).orderBy(asc(t.processVersionSignatures.seq)).all()),
    runningBatchesOf: (processId) => c.run(() => db.select({ id: t.batches.id, batchNumber: t.batches.batchNumber, processVersion: t.batches.processVersion, status: t.batches.status, training: t.batches.training })
      .from(t.batches).where(and(eq(t.batches.processId, processId), sql`${t.batches.status} not in ('released', 'rejected', 'terminated')`))
      .orderBy(asc(t.batches.batchNumber)).all()),
  };
}
