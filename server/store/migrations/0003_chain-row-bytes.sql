-- The hashed form of a chained row changes with this migration (docs/design-decisions.md, "Hashed
-- form of a row"): from SHA-256(prev_hash + canonical JSON of the row as an object) to SHA-256 of the
-- JSON array [prev_hash, column 1, column 2, ...] in table order, which the database can render
-- itself. Rows already written keep their hashes; the last row of each chain written in the old form
-- is remembered here, and verification hashes rows up to it the old way. Rows are never rewritten.
--
-- A signature also records the seq of the entry it signs (NULL in rows written before), so that
-- verification finds that entry by its rowid instead of searching the index of entry ids.
ALTER TABLE `signatures` ADD `entry_seq` integer;
--> statement-breakpoint
INSERT INTO `settings` (`key`, `value`) SELECT 'chain.legacy-heads', json_object(
  'entries', (SELECT coalesce(max(`seq`), 0) FROM `entries`),
  'signatures', (SELECT coalesce(max(`seq`), 0) FROM `signatures`),
  'audit_log', (SELECT coalesce(max(`seq`), 0) FROM `audit_log`)
) WHERE NOT EXISTS (SELECT 1 FROM `settings` WHERE `key` = 'chain.legacy-heads');
