PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_batches` (
	`id` text PRIMARY KEY NOT NULL,
	`batch_number` text NOT NULL,
	`process_id` text NOT NULL,
	`process_version` integer NOT NULL,
	`process_hash` text NOT NULL,
	`status` text NOT NULL,
	`version` integer NOT NULL,
	`din` text NOT NULL,
	`din_check` text NOT NULL,
	`chain_of_identity_id` text NOT NULL,
	`patient` text,
	`donor` text,
	`training` integer NOT NULL,
	`open_deviations` integer NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
INSERT INTO `__new_batches`("id", "batch_number", "process_id", "process_version", "process_hash", "status", "version", "din", "din_check", "chain_of_identity_id", "patient", "donor", "training", "open_deviations", "created_at", "updated_at") SELECT "id", "batch_number", "process_id", "process_version", "process_hash", "status", "version", "din", "din_check", "chain_of_identity_id", "patient", NULL, "training", "open_deviations", "created_at", "updated_at" FROM `batches`;--> statement-breakpoint
DROP TABLE `batches`;--> statement-breakpoint
ALTER TABLE `__new_batches` RENAME TO `batches`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE UNIQUE INDEX `batches_batch_number` ON `batches` (`batch_number`);--> statement-breakpoint
CREATE INDEX `batches_din` ON `batches` (`din`);--> statement-breakpoint
CREATE INDEX `batches_status` ON `batches` (`status`,`id`);