CREATE TABLE "audit_log" (
	"seq" integer PRIMARY KEY NOT NULL,
	"at" text COLLATE "C" NOT NULL,
	"user_id" text COLLATE "C",
	"action" text COLLATE "C" NOT NULL,
	"entity" text COLLATE "C" NOT NULL,
	"entity_id" text COLLATE "C",
	"batch_id" text COLLATE "C",
	"before" text COLLATE "C",
	"after" text COLLATE "C",
	"reason" text COLLATE "C",
	"prev_hash" text COLLATE "C" NOT NULL,
	"hash" text COLLATE "C" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "batches" (
	"id" text COLLATE "C" PRIMARY KEY NOT NULL,
	"batch_number" text COLLATE "C" NOT NULL,
	"process_id" text COLLATE "C" NOT NULL,
	"process_version" integer NOT NULL,
	"process_hash" text COLLATE "C" NOT NULL,
	"status" text COLLATE "C" NOT NULL,
	"version" integer NOT NULL,
	"din" text COLLATE "C" NOT NULL,
	"din_check" text COLLATE "C" NOT NULL,
	"chain_of_identity_id" text COLLATE "C" NOT NULL,
	"patient" text COLLATE "C",
	"donor" text COLLATE "C",
	"training" boolean NOT NULL,
	"open_deviations" integer NOT NULL,
	"created_at" text COLLATE "C" NOT NULL,
	"updated_at" text COLLATE "C" NOT NULL,
	"record_state" text COLLATE "C"
);
--> statement-breakpoint
CREATE TABLE "entries" (
	"seq" integer PRIMARY KEY NOT NULL,
	"id" text COLLATE "C" NOT NULL,
	"batch_id" text COLLATE "C" NOT NULL,
	"batch_seq" integer NOT NULL,
	"kind" text COLLATE "C" NOT NULL,
	"step_id" text COLLATE "C",
	"payload" text COLLATE "C" NOT NULL,
	"recorded_at" text COLLATE "C" NOT NULL,
	"actor_id" text COLLATE "C" NOT NULL,
	"training" boolean NOT NULL,
	"prev_hash" text COLLATE "C" NOT NULL,
	"hash" text COLLATE "C" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "equipment" (
	"id" text COLLATE "C" PRIMARY KEY NOT NULL,
	"asset_id" text COLLATE "C" NOT NULL,
	"type" text COLLATE "C" NOT NULL,
	"name" text COLLATE "C" NOT NULL,
	"calibration_due_on" text COLLATE "C" NOT NULL,
	"created_at" text COLLATE "C" NOT NULL,
	"created_by" text COLLATE "C" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "materials" (
	"id" text COLLATE "C" PRIMARY KEY NOT NULL,
	"type" text COLLATE "C" NOT NULL,
	"name" text COLLATE "C" NOT NULL,
	"lot_number" text COLLATE "C" NOT NULL,
	"expires_on" text COLLATE "C" NOT NULL,
	"status" text COLLATE "C" NOT NULL,
	"created_at" text COLLATE "C" NOT NULL,
	"created_by" text COLLATE "C" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "password_history" (
	"id" serial PRIMARY KEY NOT NULL,
	"user_id" text COLLATE "C" NOT NULL,
	"password_hash" text COLLATE "C" NOT NULL,
	"changed_at" text COLLATE "C" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "process_definitions" (
	"hash" text COLLATE "C" PRIMARY KEY NOT NULL,
	"process_id" text COLLATE "C" NOT NULL,
	"version" integer NOT NULL,
	"definition" text COLLATE "C" NOT NULL,
	"loaded_at" text COLLATE "C" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "process_version_signatures" (
	"seq" serial PRIMARY KEY NOT NULL,
	"version_id" text COLLATE "C" NOT NULL,
	"action" text COLLATE "C" NOT NULL,
	"meaning" text COLLATE "C" NOT NULL,
	"user_id" text COLLATE "C" NOT NULL,
	"username" text COLLATE "C" NOT NULL,
	"printed_name" text COLLATE "C" NOT NULL,
	"reason" text COLLATE "C" NOT NULL,
	"signed_at" text COLLATE "C" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "process_versions" (
	"id" text COLLATE "C" PRIMARY KEY NOT NULL,
	"process_id" text COLLATE "C" NOT NULL,
	"version" integer NOT NULL,
	"hash" text COLLATE "C" NOT NULL,
	"definition" text COLLATE "C" NOT NULL,
	"status" text COLLATE "C" NOT NULL,
	"source" text COLLATE "C" NOT NULL,
	"created_at" text COLLATE "C" NOT NULL,
	"created_by" text COLLATE "C",
	"updated_at" text COLLATE "C" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "record_pdfs" (
	"batch_id" text COLLATE "C" NOT NULL,
	"lang" text COLLATE "C" NOT NULL,
	"sha256" text COLLATE "C" NOT NULL,
	"bytes" "bytea" NOT NULL,
	"frozen_at" text COLLATE "C" NOT NULL,
	CONSTRAINT "record_pdfs_batch_id_lang_pk" PRIMARY KEY("batch_id","lang")
);
--> statement-breakpoint
CREATE TABLE "sessions" (
	"token_hash" text COLLATE "C" PRIMARY KEY NOT NULL,
	"user_id" text COLLATE "C" NOT NULL,
	"created_at" text COLLATE "C" NOT NULL,
	"last_seen_at" text COLLATE "C" NOT NULL,
	"revoked_at" text COLLATE "C"
);
--> statement-breakpoint
CREATE TABLE "settings" (
	"key" text COLLATE "C" PRIMARY KEY NOT NULL,
	"value" text COLLATE "C" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "signatures" (
	"seq" integer PRIMARY KEY NOT NULL,
	"id" text COLLATE "C" NOT NULL,
	"entry_id" text COLLATE "C" NOT NULL,
	"entry_hash" text COLLATE "C" NOT NULL,
	"user_id" text COLLATE "C" NOT NULL,
	"username" text COLLATE "C" NOT NULL,
	"printed_name" text COLLATE "C" NOT NULL,
	"meaning" text COLLATE "C" NOT NULL,
	"signed_at" text COLLATE "C" NOT NULL,
	"prev_hash" text COLLATE "C" NOT NULL,
	"hash" text COLLATE "C" NOT NULL,
	"entry_seq" integer
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" text COLLATE "C" PRIMARY KEY NOT NULL,
	"username" text COLLATE "C" NOT NULL,
	"username_key" text COLLATE "C" NOT NULL,
	"full_name" text COLLATE "C" NOT NULL,
	"roles" text COLLATE "C" NOT NULL,
	"password_hash" text COLLATE "C" NOT NULL,
	"active" boolean NOT NULL,
	"must_change_password" boolean NOT NULL,
	"failed_attempts" integer DEFAULT 0 NOT NULL,
	"locked" boolean DEFAULT false NOT NULL,
	"password_changed_at" text COLLATE "C" NOT NULL,
	"created_at" text COLLATE "C" NOT NULL,
	"last_login_at" text COLLATE "C"
);
--> statement-breakpoint
ALTER TABLE "password_history" ADD CONSTRAINT "password_history_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "record_pdfs" ADD CONSTRAINT "record_pdfs_batch_id_batches_id_fk" FOREIGN KEY ("batch_id") REFERENCES "public"."batches"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_batch" ON "audit_log" USING btree ("batch_id","seq");--> statement-breakpoint
CREATE INDEX "audit_at" ON "audit_log" USING btree ("at");--> statement-breakpoint
CREATE UNIQUE INDEX "batches_batch_number" ON "batches" USING btree ("batch_number");--> statement-breakpoint
CREATE INDEX "batches_din" ON "batches" USING btree ("din");--> statement-breakpoint
CREATE INDEX "batches_status" ON "batches" USING btree ("status","id");--> statement-breakpoint
CREATE UNIQUE INDEX "entries_id" ON "entries" USING btree ("id");--> statement-breakpoint
CREATE UNIQUE INDEX "entries_batch_seq" ON "entries" USING btree ("batch_id","batch_seq");--> statement-breakpoint
CREATE UNIQUE INDEX "equipment_asset_id" ON "equipment" USING btree ("asset_id");--> statement-breakpoint
CREATE INDEX "materials_type" ON "materials" USING btree ("type");--> statement-breakpoint
CREATE INDEX "password_history_user" ON "password_history" USING btree ("user_id","id");--> statement-breakpoint
CREATE INDEX "process_version_signatures_version" ON "process_version_signatures" USING btree ("version_id","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "process_versions_process_version" ON "process_versions" USING btree ("process_id","version");--> statement-breakpoint
CREATE UNIQUE INDEX "signatures_id" ON "signatures" USING btree ("id");--> statement-breakpoint
CREATE INDEX "signatures_entry" ON "signatures" USING btree ("entry_id");--> statement-breakpoint
CREATE UNIQUE INDEX "users_username_key" ON "users" USING btree ("username_key");