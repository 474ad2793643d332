-- Read models of GET /deviations and GET /me/pending (issue 12 item 7): derived rows, rewritten for a
-- batch in the transaction of every write to it and rebuilt-and-compared from the entries
-- (services/projection.ts). They are not record: no hash chain and no append-only trigger; the server
-- fills them from the entries at its first start on this schema. audit_action: verification and the
-- periodic review read the audit trail by action.
CREATE TABLE `deviation_list` (
	`deviation_id` text PRIMARY KEY NOT NULL,
	`batch_id` text NOT NULL,
	`sort_key` text NOT NULL,
	`status` text NOT NULL,
	`severity` text NOT NULL,
	`item` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `deviation_list_sort` ON `deviation_list` (`sort_key`);--> statement-breakpoint
CREATE INDEX `deviation_list_status` ON `deviation_list` (`status`,`sort_key`);--> statement-breakpoint
CREATE INDEX `deviation_list_severity` ON `deviation_list` (`severity`,`sort_key`);--> statement-breakpoint
CREATE INDEX `deviation_list_batch` ON `deviation_list` (`batch_id`);--> statement-breakpoint
CREATE TABLE `pending_work` (
	`batch_id` text NOT NULL,
	`position` integer NOT NULL,
	`action` text NOT NULL,
	`roles` text NOT NULL,
	`gate` text,
	`excluded` text NOT NULL,
	`item` text NOT NULL,
	PRIMARY KEY(`batch_id`, `position`)
);
--> statement-breakpoint
CREATE INDEX `audit_action` ON `audit_log` (`action`,`seq`);