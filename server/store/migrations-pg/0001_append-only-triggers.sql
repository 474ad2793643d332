-- 21 CFR 11.10(e), EU GMP Annex 11 §9: the record, its signatures, the audit trail, the frozen record
-- PDFs and the signatures of master records are append-only; the content of a master record version
-- never changes once it leaves draft (Annex 11 §10). The database itself refuses, whatever code or tool connects to it, as
-- SQLite's migrations 0001, 0006, 0007 and 0008 do. TRUNCATE skips row triggers, so it is refused too.
-- Besides these triggers, the application's role is granted only INSERT and SELECT on these tables
-- (server/store/postgres/roles.ts, docs/deployment.md "PostgreSQL: two roles").
CREATE FUNCTION cellbatch_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
END
$$;
--> statement-breakpoint
CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries FOR EACH ROW EXECUTE FUNCTION cellbatch_refuse_change('entries are append-only: UPDATE refused');
--> statement-breakpoint
CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries FOR EACH ROW EXECUTE FUNCTION cellbatch_refuse_change('entries are append-only: DELETE refused');
--> statement-breakpoint
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries FOR EACH STATEMENT EXECUTE FUNCTION cellbatch_refuse_change('entries are append-only: TRUNCATE refused');
--> statement-breakpoint
CREATE TRIGGER signatures_no_update BEFORE UPDATE ON signatures FOR EACH ROW EXECUTE FUNCTION cellbatch_refuse_change('signatures are append-only: UPDATE refused');
--> statement-breakpoint
CREATE TRIGGER signatures_no_delete BEFORE DELETE ON signatures FOR EACH ROW EXECUTE FUNCTION cellbatch_refuse_change('signatures are append-only: DELETE refused');
--> statement-breakpoint
CREATE TRIGGER signatures_no_truncate BEFORE TRUNCATE ON signatures FOR EACH STATEMENT EXECUTE FUNCTION cellbatch_refuse_change('signatures are append-only: TRUNCATE refused');
--> statement-breakpoint
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log FOR EACH ROW EXECUTE FUNCTION cellbatch_refuse_change('audit_log is append-only: UPDATE refused');
--> statement-breakpoint
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION cellbatch_refuse_change('audit_log is append-only: DELETE refused');
--> statement-breakpoint
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION cellbatch_refuse_change('audit_log is append-only: TRUNCATE refused');
--> statement-breakpoint
CREATE TRIGGER record_pdfs_no_update BEFORE UPDATE ON record_pdfs FOR EACH ROW EXECUTE FUNCTION cellbatch_refuse_change('record_pdfs are append-only: UPDATE refused');
--> statement-breakpoint
CREATE TRIGGER record_pdfs_no_delete BEFORE DELETE ON record_pdfs FOR EACH ROW EXECUTE FUNCTION cellbatch_refuse_change('record_pdfs are append-only: DELETE refused');
--> statement-breakpoint
CREATE TRIGGER record_pdfs_no_truncate BEFORE TRUNCATE ON record_pdfs FOR EACH STATEMENT EXECUTE FUNCTION cellbatch_refuse_change('record_pdfs are append-only: TRUNCATE refused');
--> statement-breakpoint
-- SQLite's 0007 and 0008: a draft's author may replace its content while it stays a draft; from then
-- on the content is locked, and who wrote a version, its number, source and creation never change.
CREATE TRIGGER process_versions_identity_locked BEFORE UPDATE OF process_id, version, source, created_at, created_by ON process_versions FOR EACH ROW EXECUTE FUNCTION cellbatch_refuse_change('process_versions: the identity of a version never changes; issue a new version');
--> statement-breakpoint
CREATE TRIGGER process_versions_content_locked BEFORE UPDATE OF hash, definition ON process_versions FOR EACH ROW WHEN (OLD.status <> 'draft' OR NEW.status <> 'draft') EXECUTE FUNCTION cellbatch_refuse_change('process_versions: the content of a version never changes once it leaves draft; issue a new version');
--> statement-breakpoint
CREATE TRIGGER process_versions_no_delete BEFORE DELETE ON process_versions FOR EACH ROW EXECUTE FUNCTION cellbatch_refuse_change('process_versions: DELETE refused');
--> statement-breakpoint
CREATE TRIGGER process_versions_no_truncate BEFORE TRUNCATE ON process_versions FOR EACH STATEMENT EXECUTE FUNCTION cellbatch_refuse_change('process_versions: TRUNCATE refused');
--> statement-breakpoint
CREATE TRIGGER process_version_signatures_no_update BEFORE UPDATE ON process_version_signatures FOR EACH ROW EXECUTE FUNCTION cellbatch_refuse_change('process_version_signatures are append-only: UPDATE refused');
--> statement-breakpoint
CREATE TRIGGER process_version_signatures_no_delete BEFORE DELETE ON process_version_signatures FOR EACH ROW EXECUTE FUNCTION cellbatch_refuse_change('process_version_signatures are append-only: DELETE refused');
--> statement-breakpoint
CREATE TRIGGER process_version_signatures_no_truncate BEFORE TRUNCATE ON process_version_signatures FOR EACH STATEMENT EXECUTE FUNCTION cellbatch_refuse_change('process_version_signatures are append-only: TRUNCATE refused');
--> statement-breakpoint
-- Nobody but the owner (who runs the migrations) may change rows of these tables through a grant;
-- the application's role gets INSERT and SELECT only (roles.ts).
REVOKE ALL ON entries, signatures, audit_log, record_pdfs, process_version_signatures FROM PUBLIC;
