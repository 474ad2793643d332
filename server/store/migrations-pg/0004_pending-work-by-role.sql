-- SQLite's 0011: one pending_work row per item and role, indexed by (role, batch, position). The rows
-- are derived: emptied here (the table kept, with the application role's grants) and rebuilt from the
-- entries by the first server to start on this schema (the removed setting calls for it).
DELETE FROM "pending_work";--> statement-breakpoint
ALTER TABLE "pending_work" DROP CONSTRAINT "pending_work_batch_id_position_pk";--> statement-breakpoint
ALTER TABLE "pending_work" DROP COLUMN "roles";--> statement-breakpoint
ALTER TABLE "pending_work" ADD COLUMN "role" text COLLATE "C" NOT NULL;--> statement-breakpoint
ALTER TABLE "pending_work" ADD CONSTRAINT "pending_work_batch_id_position_role_pk" PRIMARY KEY("batch_id","position","role");--> statement-breakpoint
CREATE INDEX "pending_work_role" ON "pending_work" USING btree ("role","batch_id","position");--> statement-breakpoint
DELETE FROM "settings" WHERE "key" = 'read-model.version';
