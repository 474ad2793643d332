-- GET /me/pending read by role (issue 12 item 7): one pending_work row per item and role that may do
-- it, indexed by (role, batch, position), so that a caller's page is read from the index of each of
-- their roles instead of scanning every row. Derived rows: the table is made again empty and the
-- server rebuilds every batch's rows from the entries at its first start on this schema
-- (services/projection.ts fillReadModel, which the removed setting calls for).
DROP TABLE `pending_work`;--> statement-breakpoint
CREATE TABLE `pending_work` (
	`batch_id` text NOT NULL,
	`position` integer NOT NULL,
	`role` text NOT NULL,
	`action` text NOT NULL,
	`gate` text,
	`excluded` text NOT NULL,
	`item` text NOT NULL,
	PRIMARY KEY(`batch_id`, `position`, `role`)
);
--> statement-breakpoint
CREATE INDEX `pending_work_role` ON `pending_work` (`role`,`batch_id`,`position`);--> statement-breakpoint
DELETE FROM `settings` WHERE `key` = 'read-model.version';
