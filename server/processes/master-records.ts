// Master batch records under change control (21 CFR 211.186, EU GMP Annex 11 §10): each version of a
// process definition lives in the database with its lifecycle — draft → in_review → approved →
// effective → superseded, or withdrawn — and new batches start only on the effective version. The
// built-ins and the site folder become effective versions when the server first sees them (audited).
import { randomUUID } from 'node:crypto';
import type { AppContext } from '../context.js';
import { writeAudit } from '../services/audit.js';
import { notFound } from '../errors.js';
import type { EntryRow, ProcessVersionRow, Store } from '../store/store.js';
import { parsePayload } from '../../schemas/entries.js';
import type { ProcessDefinition } from '../../workflows/definition.js';
import type { LoadedProcess, ProcessRegistry } from './registry.js';
import type { Clock } from '../clock.js';

export const VERSION_STATUSES = ['draft', 'in_review', 'approved', 'effective', 'superseded', 'withdrawn'] as const;
export type VersionStatus = (typeof VERSION_STATUSES)[number];
/** Where a batch's master record stood when the batch started: in effect, or (training only) still in its lifecycle. */
export type StatusAtStart = 'draft' | 'in_review' | 'approved' | 'effective';

/**
 * At start: a built-in or site-folder definition the database does not hold yet becomes its process's
 * effective version (the older effective one is superseded), audited as the system's act; then the
 * registry offers each process's effective version to new batches.
 */
export async function syncMasterRecords(store: Store, clock: Clock, registry: ProcessRegistry) {
  await store.transaction(async () => {
    for (const { loaded, source } of registry.added) {
      const { id, version } = loaded.definition;
      const existing = await store.processVersion(id, version);
      if (existing) {
        if (existing.hash !== loaded.hash) throw new Error(`process ${id} version ${version} differs from its master record (stored hash ${existing.hash.slice(0, 12)}…, loaded ${loaded.hash.slice(0, 12)}…); issue a new version instead`);
        continue;
      }
      const now = clock.now().toISOString();
      const effective = (await store.processVersions(id)).filter((v) => v.status === 'effective');
      const status: VersionStatus = effective.some((v) => v.version > version) ? 'superseded' : 'effective';
      const row: ProcessVersionRow = {
        id: randomUUID(), processId: id, version, hash: loaded.hash, definition: JSON.stringify(loaded.definition), status, source,
        createdAt: now, createdBy: null, updatedAt: now,
      };
      await store.insertProcessVersion(row);
      await writeAudit(store, clock, { userId: null, action: 'process.version-created', entityId: row.id, after: { processId: id, version, hash: loaded.hash, source, status } });
      if (status === 'effective') for (const old of effective) await supersede(store, clock, old, version);
    }
  });
  for (const v of (await store.processVersions()).filter((x) => x.status === 'effective')) registry.setCurrent(loadVersion(registry, v));
}

/** The previous effective version gives way to a newer one (audited; the newer one's signature covers it). */
export async function supersede(store: Store, clock: Clock, old: ProcessVersionRow, by: number) {
  await store.setProcessVersionStatus(old.id, 'superseded', clock.now().toISOString());
  await writeAudit(store, clock, { userId: null, action: 'process.version-superseded', entityId: old.id, before: { status: old.status }, after: { status: 'superseded', by } });
}

export function loadVersion(registry: ProcessRegistry, v: ProcessVersionRow): LoadedProcess {
  return registry.remember(JSON.parse(v.definition) as ProcessDefinition, v.hash);
}

export async function versionOrNotFound(ctx: AppContext, processId: string, version: number): Promise<ProcessVersionRow> {
  const v = await ctx.store.processVersion(processId, version);
  if (!v) throw notFound('process version', `${processId} v${version}`);
  return v;
}

/** A version as GET /processes/{id}/versions shows it: its status, source and signed transitions. */
export async function versionView(ctx: AppContext, v: ProcessVersionRow) {
  const author = v.createdBy ? await ctx.store.findUserById(v.createdBy) : undefined;
  return {
    id: v.id, processId: v.processId, version: v.version, hash: v.hash, status: v.status as VersionStatus, source: v.source as 'builtin' | 'site-folder' | 'api',
    createdAt: v.createdAt, ...(author && { createdBy: author.username }), updatedAt: v.updatedAt,
    signatures: (await ctx.store.processVersionSignatures(v.id)).map((s) => ({
      action: s.action, meaning: s.meaning as 'authored' | 'reviewed' | 'approved' | 'effective' | 'withdrawn', username: s.username, printedName: s.printedName, reason: s.reason, signedAt: s.signedAt,
    })),
  };
}

/**
 * The status of a batch's master record when the batch started, as its chained batch-created entry
 * says (absent: the effective version), so that it never changes afterwards: an export and a frozen PDF
 * say the same for ever, whatever the version becomes. A batch started on anything but an effective
 * version is a training rehearsal: every screen and page says DRAFT (Annex 11 §10). Batches started
 * before the entry said it (issue 16) read as effective.
 */
export function statusAtStart(record: { entries: EntryRow[] }): StatusAtStart {
  const created = record.entries.find((e) => e.kind === 'batch-created');
  return (created && parsePayload('batch-created', created.payload).processStatus) || 'effective';
}
