CREATE TABLE `process_version_signatures` (
	`seq` integer PRIMARY KEY NOT NULL,
	`version_id` text NOT NULL,
	`action` text NOT NULL,
	`meaning` text NOT NULL,
	`user_id` text NOT NULL,
	`username` text NOT NULL,
	`printed_name` text NOT NULL,
	`reason` text NOT NULL,
	`signed_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `process_version_signatures_version` ON `process_version_signatures` (`version_id`,`seq`);--> statement-breakpoint
CREATE TABLE `process_versions` (
	`id` text PRIMARY KEY NOT NULL,
	`process_id` text NOT NULL,
	`version` integer NOT NULL,
	`hash` text NOT NULL,
	`definition` text NOT NULL,
	`status` text NOT NULL,
	`source` text NOT NULL,
	`created_at` text NOT NULL,
	`created_by` text,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `process_versions_process_version` ON `process_versions` (`process_id`,`version`);--> statement-breakpoint
-- Annex 11 §10: an approved master record is changed only by a new version. The content of a version
-- (its definition and hash) never changes, a version is never deleted, and its signatures are append-only.
CREATE TRIGGER process_versions_content_locked BEFORE UPDATE OF process_id, version, hash, definition, source, created_at, created_by ON process_versions BEGIN SELECT RAISE(ABORT, 'process_versions: the content of a version never changes; issue a new version'); END;
--> statement-breakpoint
CREATE TRIGGER process_versions_no_delete BEFORE DELETE ON process_versions BEGIN SELECT RAISE(ABORT, 'process_versions: DELETE refused'); END;
--> statement-breakpoint
CREATE TRIGGER process_version_signatures_no_update BEFORE UPDATE ON process_version_signatures BEGIN SELECT RAISE(ABORT, 'process_version_signatures are append-only: UPDATE refused'); END;
--> statement-breakpoint
CREATE TRIGGER process_version_signatures_no_delete BEFORE DELETE ON process_version_signatures BEGIN SELECT RAISE(ABORT, 'process_version_signatures are append-only: DELETE refused'); END;
