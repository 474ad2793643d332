CREATE TABLE `record_pdfs` (
	`batch_id` text NOT NULL,
	`lang` text NOT NULL,
	`sha256` text NOT NULL,
	`bytes` blob NOT NULL,
	`frozen_at` text NOT NULL,
	PRIMARY KEY(`batch_id`, `lang`),
	FOREIGN KEY (`batch_id`) REFERENCES `batches`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
-- API.md "PDF bytes": the batch record frozen at disposition is served byte-identical afterwards; the
-- database refuses to change or remove it (21 CFR 11.10(c): records protected for their retention).
CREATE TRIGGER record_pdfs_no_update BEFORE UPDATE ON record_pdfs BEGIN SELECT RAISE(ABORT, 'record_pdfs are append-only: UPDATE refused'); END;
--> statement-breakpoint
CREATE TRIGGER record_pdfs_no_delete BEFORE DELETE ON record_pdfs BEGIN SELECT RAISE(ABORT, 'record_pdfs are append-only: DELETE refused'); END;
