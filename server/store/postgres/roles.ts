// The application's role in PostgreSQL (docs/deployment.md "PostgreSQL: two roles"). The owner of the
// tables runs the migrations; the role the app servers connect as may read everything and append to
// the record, and change only the rows that are state rather than record (accounts, sessions, the batch
// projection, a master record version's status, settings), and delete only read-model rows and ended
// attempt windows (neither is record). 21 CFR 11.10(d), 11.10(e), Annex 11 §12: besides the
// append-only triggers, the role cannot UPDATE, DELETE or TRUNCATE a record row at all.
import type pg from 'pg';

/** Tables the application appends to and reads, never changes. */
export const RECORD_TABLES = ['entries', 'signatures', 'audit_log', 'checkpoints', 'record_pdfs', 'process_version_signatures', 'process_definitions', 'password_history'] as const;
/** Tables whose rows the application updates (state, not record). Nothing is ever deleted. */
export const STATE_TABLES = ['users', 'sessions', 'materials', 'equipment', 'batches', 'settings', 'process_versions'] as const;
/** Read models rebuilt from the record (services/projection.ts): a batch's rows are deleted and written again with each write to it. */
export const READ_MODEL_TABLES = ['deviation_list', 'pending_work'] as const;
/** Counters that are neither record nor state: per-address attempt windows, deleted once they end (migration 0003). */
export const COUNTER_TABLES = ['attempt_windows'] as const;

const ident = (s: string) => `"${s.replaceAll('"', '""')}"`;

/** The statements that give `role` exactly the rights the application needs, and no more. */
export function appRoleGrants(role: string): string[] {
  const r = ident(role);
  return [
    `GRANT USAGE ON SCHEMA public TO ${r}`,
    `REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${r}`,
    `GRANT SELECT, INSERT ON ${RECORD_TABLES.join(', ')} TO ${r}`,
    `GRANT SELECT, INSERT, UPDATE ON ${STATE_TABLES.join(', ')} TO ${r}`,
    `GRANT SELECT, INSERT, UPDATE, DELETE ON ${READ_MODEL_TABLES.join(', ')} TO ${r}`,
    `GRANT SELECT, INSERT, UPDATE, DELETE ON ${COUNTER_TABLES.join(', ')} TO ${r}`,
    // serial columns (password_history.id, process_version_signatures.seq)
    `GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${r}`,
    // the server checks at start that the migrations are applied
    `GRANT USAGE ON SCHEMA drizzle TO ${r}`,
    `GRANT SELECT ON drizzle.__drizzle_migrations TO ${r}`,
  ];
}

/** Grants the application's role its rights (run as the owner, after the migrations). */
export async function grantAppRole(client: pg.Pool | pg.Client, role: string): Promise<void> {
  for (const statement of appRoleGrants(role)) await client.query(statement);
}
