-- Signed checkpoints of the chain heads in the database (issue 15 item 3), where each app server kept its
-- own file log: one chain for the whole site, whichever server signed. The signing keys stay outside
-- the database (the table names a key only by its fingerprint). 21 CFR 11.10(a), 11.10(e), Annex 11 §9:
-- append-only as the record's tables are (0001): UPDATE, DELETE and TRUNCATE refused by triggers, and
-- the application's role granted only INSERT and SELECT (roles.ts).
CREATE TABLE "checkpoints" (
	"n" integer PRIMARY KEY NOT NULL,
	"at" text COLLATE "C" NOT NULL,
	"reason" text COLLATE "C" NOT NULL,
	"heads" text COLLATE "C" NOT NULL,
	"key_id" text COLLATE "C" NOT NULL,
	"prev" text COLLATE "C" NOT NULL,
	"signature" text COLLATE "C" NOT NULL
);
--> statement-breakpoint
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints FOR EACH ROW EXECUTE FUNCTION cellbatch_refuse_change('checkpoints are append-only: UPDATE refused');
--> statement-breakpoint
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints FOR EACH ROW EXECUTE FUNCTION cellbatch_refuse_change('checkpoints are append-only: DELETE refused');
--> statement-breakpoint
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints FOR EACH STATEMENT EXECUTE FUNCTION cellbatch_refuse_change('checkpoints are append-only: TRUNCATE refused');
--> statement-breakpoint
REVOKE ALL ON checkpoints FROM PUBLIC;
