CREATE TABLE `audit_log` (
	`seq` integer PRIMARY KEY NOT NULL,
	`at` text NOT NULL,
	`user_id` text,
	`action` text NOT NULL,
	`entity` text NOT NULL,
	`entity_id` text,
	`batch_id` text,
	`before` text,
	`after` text,
	`reason` text,
	`prev_hash` text NOT NULL,
	`hash` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_batch` ON `audit_log` (`batch_id`,`seq`);--> statement-breakpoint
CREATE INDEX `audit_at` ON `audit_log` (`at`);--> statement-breakpoint
CREATE TABLE `batches` (
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
	`patient` text NOT NULL,
	`training` integer NOT NULL,
	`open_deviations` integer NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `batches_batch_number` ON `batches` (`batch_number`);--> statement-breakpoint
CREATE INDEX `batches_din` ON `batches` (`din`);--> statement-breakpoint
CREATE INDEX `batches_status` ON `batches` (`status`,`id`);--> statement-breakpoint
CREATE TABLE `entries` (
	`seq` integer PRIMARY KEY NOT NULL,
	`id` text NOT NULL,
	`batch_id` text NOT NULL,
	`batch_seq` integer NOT NULL,
	`kind` text NOT NULL,
	`step_id` text,
	`payload` text NOT NULL,
	`recorded_at` text NOT NULL,
	`actor_id` text NOT NULL,
	`training` integer NOT NULL,
	`prev_hash` text NOT NULL,
	`hash` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `entries_id` ON `entries` (`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `entries_batch_seq` ON `entries` (`batch_id`,`batch_seq`);--> statement-breakpoint
CREATE TABLE `equipment` (
	`id` text PRIMARY KEY NOT NULL,
	`asset_id` text NOT NULL,
	`type` text NOT NULL,
	`name` text NOT NULL,
	`calibration_due_on` text NOT NULL,
	`created_at` text NOT NULL,
	`created_by` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `equipment_asset_id` ON `equipment` (`asset_id`);--> statement-breakpoint
CREATE TABLE `materials` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`name` text NOT NULL,
	`lot_number` text NOT NULL,
	`expires_on` text NOT NULL,
	`status` text NOT NULL,
	`created_at` text NOT NULL,
	`created_by` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `materials_type` ON `materials` (`type`);--> statement-breakpoint
CREATE TABLE `process_definitions` (
	`hash` text PRIMARY KEY NOT NULL,
	`process_id` text NOT NULL,
	`version` integer NOT NULL,
	`definition` text NOT NULL,
	`loaded_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `sessions` (
	`token_hash` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`created_at` text NOT NULL,
	`last_seen_at` text NOT NULL,
	`revoked_at` text,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `settings` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `signatures` (
	`seq` integer PRIMARY KEY NOT NULL,
	`id` text NOT NULL,
	`entry_id` text NOT NULL,
	`entry_hash` text NOT NULL,
	`user_id` text NOT NULL,
	`username` text NOT NULL,
	`printed_name` text NOT NULL,
	`meaning` text NOT NULL,
	`signed_at` text NOT NULL,
	`prev_hash` text NOT NULL,
	`hash` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `signatures_id` ON `signatures` (`id`);--> statement-breakpoint
CREATE INDEX `signatures_entry` ON `signatures` (`entry_id`);--> statement-breakpoint
CREATE TABLE `users` (
	`id` text PRIMARY KEY NOT NULL,
	`username` text NOT NULL,
	`username_key` text NOT NULL,
	`full_name` text NOT NULL,
	`roles` text NOT NULL,
	`password_hash` text NOT NULL,
	`active` integer NOT NULL,
	`must_change_password` integer NOT NULL,
	`failed_attempts` integer DEFAULT 0 NOT NULL,
	`locked` integer DEFAULT false NOT NULL,
	`password_changed_at` text NOT NULL,
	`created_at` text NOT NULL,
	`last_login_at` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_username_key` ON `users` (`username_key`);