-- Per-address attempt counters of the per-minute limits (login 60/minute, POST /me/password 30/minute;
-- issue 10), kept in the database so that every app server counts the same attempts (issue 15). They
-- are not GMP records: no chain, no append-only trigger (0001 names its tables one by one); a window
-- that has ended is deleted, so the application's role may DELETE here and nowhere else (roles.ts).
CREATE TABLE "attempt_windows" (
	"key" text COLLATE "C" PRIMARY KEY NOT NULL,
	"window_ends_at" text COLLATE "C" NOT NULL,
	"hits" integer NOT NULL
);
