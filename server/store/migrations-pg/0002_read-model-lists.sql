-- SQLite's 0009: the read models of GET /deviations and GET /me/pending (derived rows, not record: no
-- trigger; the application's role may delete and rewrite them, roles.ts) and the index of audit rows by action.
CREATE TABLE "deviation_list" (
	"deviation_id" text COLLATE "C" PRIMARY KEY NOT NULL,
	"batch_id" text COLLATE "C" NOT NULL,
	"sort_key" text COLLATE "C" NOT NULL,
	"status" text COLLATE "C" NOT NULL,
	"severity" text COLLATE "C" NOT NULL,
	"item" text COLLATE "C" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "pending_work" (
	"batch_id" text COLLATE "C" NOT NULL,
	"position" integer NOT NULL,
	"action" text COLLATE "C" NOT NULL,
	"roles" text COLLATE "C" NOT NULL,
	"gate" text COLLATE "C",
	"excluded" text COLLATE "C" NOT NULL,
	"item" text COLLATE "C" NOT NULL,
	CONSTRAINT "pending_work_batch_id_position_pk" PRIMARY KEY("batch_id","position")
);
--> statement-breakpoint
CREATE UNIQUE INDEX "deviation_list_sort" ON "deviation_list" USING btree ("sort_key");--> statement-breakpoint
CREATE INDEX "deviation_list_status" ON "deviation_list" USING btree ("status","sort_key");--> statement-breakpoint
CREATE INDEX "deviation_list_severity" ON "deviation_list" USING btree ("severity","sort_key");--> statement-breakpoint
CREATE INDEX "deviation_list_batch" ON "deviation_list" USING btree ("batch_id");--> statement-breakpoint
CREATE INDEX "audit_action" ON "audit_log" USING btree ("action","seq");