-- Each entry records how it was sealed: entries written before are unkeyed SHA-256 and keep verifying as they are.
ALTER TABLE `audit_log` ADD `seal` text DEFAULT 'sha256' NOT NULL;--> statement-breakpoint
ALTER TABLE `audit_log` ADD `key_id` text;--> statement-breakpoint
-- From now on every entry is sealed under the audit key: the database refuses an unkeyed one.
CREATE TRIGGER `audit_log_keyed_only` BEFORE INSERT ON `audit_log`
WHEN NEW.`seal` <> 'hmac-sha256' OR NEW.`key_id` IS NULL
BEGIN
	SELECT RAISE(ABORT, 'audit_log entries are sealed under the audit key');
END;
