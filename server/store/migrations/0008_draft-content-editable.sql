-- A draft is not yet a master record: its author may replace its content (each replacement audited
-- with the hashes before and after) until it is submitted for review. From then on the content is
-- locked as before (Annex 11 §10: an approved master record changes only by a new version). Who
-- wrote a version, its number, source and creation never change at any status.
DROP TRIGGER process_versions_content_locked;
--> statement-breakpoint
CREATE TRIGGER process_versions_identity_locked BEFORE UPDATE OF process_id, version, source, created_at, created_by ON process_versions BEGIN SELECT RAISE(ABORT, 'process_versions: the identity of a version never changes; issue a new version'); END;
--> statement-breakpoint
CREATE TRIGGER process_versions_content_locked BEFORE UPDATE OF hash, definition ON process_versions WHEN OLD.status <> 'draft' OR NEW.status <> 'draft' BEGIN SELECT RAISE(ABORT, 'process_versions: the content of a version never changes once it leaves draft; issue a new version'); END;
