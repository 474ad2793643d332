// Moving a site's record from its SQLite file to PostgreSQL (`cellbatch migrate-store`, issue 15):
// every table copied row for row, the chains with their seq, prev_hash and hash as they are, in one
// PostgreSQL transaction; then every chain is verified on the target against the source's signed
// checkpoints (copied with the record: the `checkpoints` table, or a source's file log of before
// issue 15 item 3), and the target's heads must be the source's. A record is moved, never rewritten: nothing
// is re-hashed, so a row that verified in SQLite verifies in PostgreSQL or the move is reported failed.
// The target must be empty: a move never merges two records.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import { getTableConfig, type PgTable } from 'drizzle-orm/pg-core';
import * as t from './tables.js';
import { createPool, migratePostgres, redactUrl } from './database.js';
import { openPostgresStore } from './store.js';
import { CHAIN_TABLES, CheckpointLog, checkCheckpointLog, checkpointRow, type ChainTable, type Head, type Mark } from '../checkpoints.js';
import type { ChainReport } from '../store.js';

/** Parents before children (foreign keys), the record after what it names. */
const ORDER: PgTable[] = [
  t.users, t.passwordHistory, t.sessions, t.materials, t.equipment, t.processDefinitions, t.processVersions,
  t.processVersionSignatures, t.batches, t.entries, t.signatures, t.auditLog, t.checkpoints, t.settings, t.recordPdfs, t.deviationList, t.pendingWork,
];
/** Serial columns whose sequences must continue after the copied rows. */
const SERIALS: [string, string][] = [['password_history', 'id'], ['process_version_signatures', 'seq']];
const ROWS_PER_INSERT = 500;

export interface MoveReport {
  from: string; to: string; rows: Record<string, number>; heads: Record<ChainTable, Head>; verification: ChainReport;
}

export interface MoveOptions {
  /** The public keys the checkpoints are signed with, and the mark beside the source server's key. */
  publicKeys?: Map<string, string>;
  mark?: Mark | 'unreadable';
  /**
   * A source that never ran since the checkpoints moved into the database still has them in its file
   * log (default `<from>.checkpoints.jsonl`): they are copied, unchanged, into the target's table.
   */
  logFile?: string;
}

export async function migrateStore(from: string, to: string, opts: MoveOptions = {}): Promise<MoveReport> {
  if (!fs.existsSync(from)) throw new Error(`${from}: no such database`);
  const source = new Database(from, { readonly: true, fileMustExist: true });
  const pool = createPool(to, 2);
  const rows: Record<string, number> = {};
  try {
    await migratePostgres(pool, to);
    const occupied = [];
    for (const table of ORDER) {
      const name = getTableConfig(table).name;
      const r = await pool.query(`select exists (select 1 from ${name}) as x`);
      if (r.rows[0].x) occupied.push(name);
    }
    if (occupied.length) throw new Error(`${redactUrl(to)} is not empty (${occupied.join(', ')} hold rows): a record is moved into an empty database only, never merged`);
    const client = await pool.connect();
    try {
      await client.query('begin');
      // SQLite reads one snapshot for the whole copy (a server still running writes after it, not into it).
      source.exec('begin');
      for (const table of ORDER) {
        const config = getTableConfig(table);
        const booleans = new Set(config.columns.filter((c) => c.getSQLType() === 'boolean').map((c) => c.name));
        const names = config.columns.map((c) => c.name);
        const present = new Set((source.prepare(`select name from pragma_table_info(?)`).pluck().all(config.name) as string[]));
        const cols = names.filter((n) => present.has(n));
        // A source from before a table existed (the read models: the server fills them at its first start).
        if (!cols.length) {
          rows[config.name] = 0;
          continue;
        }
        let batch: unknown[][] = [];
        let count = 0;
        const flush = async () => {
          if (!batch.length) return;
          const values = batch.map((_, i) => `(${cols.map((__, j) => `$${i * cols.length + j + 1}`).join(', ')})`).join(', ');
          await client.query(`insert into ${config.name} (${cols.join(', ')}) values ${values}`, batch.flat());
          count += batch.length;
          batch = [];
        };
        const order = config.columns.some((c) => c.name === 'seq') ? ' order by seq' : config.name === 'checkpoints' ? ' order by n' : '';
        for (const raw of source.prepare(`select ${cols.join(', ')} from ${config.name}${order}`).raw().iterate()) {
          batch.push((raw as unknown[]).map((v, i) => (booleans.has(cols[i]) && v !== null ? v === 1 || v === true : v)));
          if (batch.length >= ROWS_PER_INSERT) await flush();
        }
        await flush();
        rows[config.name] = count;
      }
      // The checkpoints of a source from before they lived in the database: its file log, as it is.
      const logFile = opts.logFile ?? `${from}.checkpoints.jsonl`;
      if (!rows.checkpoints && fs.existsSync(logFile)) {
        for (const c of new CheckpointLog(logFile).read()) {
          const r = checkpointRow(c);
          await client.query('insert into checkpoints (n, at, reason, heads, key_id, prev, signature) values ($1, $2, $3, $4, $5, $6, $7)', [r.n, r.at, r.reason, r.heads, r.keyId, r.prev, r.signature]);
          rows.checkpoints = (rows.checkpoints ?? 0) + 1;
        }
      }
      for (const [table, column] of SERIALS) {
        await client.query(`select setval(pg_get_serial_sequence('${table}', '${column}'), coalesce((select max(${column}) from ${table}), 0) + 1, false)`);
      }
      await client.query('commit');
    } catch (e) {
      await client.query('rollback').catch(() => {});
      throw e;
    } finally {
      source.exec('rollback');
      client.release();
    }
    const sourceHeads = Object.fromEntries(CHAIN_TABLES.map((c) => [c, (source.prepare(`select seq, hash from ${c} order by seq desc limit 1`).get() as Head | undefined) ?? { seq: 0, hash: '0'.repeat(64) }])) as Record<ChainTable, Head>;
    // Verified as any PostgreSQL server would verify it at start: the chains, the signed checkpoints, the identities.
    const target = await openPostgresStore(to, { poolSize: 2 });
    try {
      let checkpoints = await target.checkpoints();
      const logProblem = opts.publicKeys ? checkCheckpointLog(checkpoints, opts.publicKeys, opts.mark) : null;
      if (logProblem) checkpoints = [];
      let verification = await target.verifyChains(checkpoints);
      const mismatches = await target.identityMismatches();
      if (mismatches.length) verification = { ...verification, valid: false, mismatches };
      if (verification.valid && logProblem) verification = { ...verification, valid: false, firstInvalid: { table: 'checkpoints', seq: 0, reason: logProblem, kind: 'chain' } };
      const heads = await target.heads();
      const moved = CHAIN_TABLES.find((c) => heads[c].seq !== sourceHeads[c].seq || heads[c].hash !== sourceHeads[c].hash);
      if (verification.valid && moved) verification = { ...verification, valid: false, firstInvalid: { table: moved, seq: heads[moved].seq, reason: 'the head of the chain on PostgreSQL is not the head in the SQLite file', kind: 'chain' } };
      return { from, to: redactUrl(to), rows, heads, verification };
    } finally {
      await target.close();
    }
  } finally {
    source.close();
    await pool.end();
  }
}
