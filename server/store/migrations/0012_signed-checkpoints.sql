-- Signed checkpoints of the chain heads in the database (issue 15 item 3), where each app server kept its
-- own file log: one chain for the whole site, whichever server signed. The signing keys stay outside
-- the database (the table names a key only by its fingerprint). 21 CFR 11.10(a), 11.10(e), Annex 11 §9:
-- append-only, refused by the database itself as the record's tables are (0001).
CREATE TABLE `checkpoints` (
	`n` integer PRIMARY KEY NOT NULL,
	`at` text NOT NULL,
	`reason` text NOT NULL,
	`heads` text NOT NULL,
	`key_id` text NOT NULL,
	`prev` text NOT NULL,
	`signature` text NOT NULL
);
--> statement-breakpoint
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only: UPDATE refused'); END;
--> statement-breakpoint
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only: DELETE refused'); END;
