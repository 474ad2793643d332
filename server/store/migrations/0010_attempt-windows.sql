-- Per-address attempt counters of the per-minute limits (login 60/minute, POST /me/password 30/minute;
-- issue 10), kept in the database so that every app server counts the same attempts (issue 15). They
-- are not GMP records: no chain, no append-only trigger (0001 names its tables one by one); a window
-- that has ended is deleted.
CREATE TABLE `attempt_windows` (
	`key` text PRIMARY KEY NOT NULL,
	`window_ends_at` text NOT NULL,
	`hits` integer NOT NULL
);
