CREATE TABLE `user_keys` (
	`key_id` text PRIMARY KEY NOT NULL,
	`user_id` integer NOT NULL,
	`wrapped_key` text,
	`created_at` integer NOT NULL,
	`destroyed_at` integer,
	CONSTRAINT "user_keys_destroyed_check" CHECK(("user_keys"."wrapped_key" IS NULL) = ("user_keys"."destroyed_at" IS NOT NULL))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `user_keys_live_idx` ON `user_keys` (`user_id`) WHERE "user_keys"."destroyed_at" IS NULL;--> statement-breakpoint
CREATE INDEX `user_keys_user_idx` ON `user_keys` (`user_id`,`created_at`);--> statement-breakpoint
-- A data key row is never removed, never changes owner, and once destroyed
-- stays destroyed: the table is the record of every key that existed.
CREATE TRIGGER `user_keys_no_delete` BEFORE DELETE ON `user_keys`
BEGIN
	SELECT RAISE(ABORT, 'user_keys rows are never deleted');
END;
--> statement-breakpoint
CREATE TRIGGER `user_keys_destroyed_stays_destroyed` BEFORE UPDATE ON `user_keys`
WHEN OLD.destroyed_at IS NOT NULL OR NEW.key_id IS NOT OLD.key_id
	OR NEW.user_id IS NOT OLD.user_id OR NEW.created_at IS NOT OLD.created_at
BEGIN
	SELECT RAISE(ABORT, 'user_keys: a destroyed key stays destroyed, and a key keeps its id, owner and creation time');
END;
--> statement-breakpoint
-- An encrypted shipping address must name the owner's live data key: an
-- order written with a key that an erasure destroyed meanwhile is refused
-- (the service then retries with a new key), so no order can be created
-- already unreadable.
CREATE TRIGGER `orders_address_key_live_insert` BEFORE INSERT ON `orders`
WHEN NEW.shipping_address GLOB 'enc:*' AND NOT EXISTS (
	SELECT 1 FROM `user_keys` k WHERE k.user_id = NEW.user_id AND k.destroyed_at IS NULL
		AND NEW.shipping_address GLOB 'enc:v1:' || k.key_id || ':*')
BEGIN
	SELECT RAISE(ABORT, 'personal data key is not live');
END;
--> statement-breakpoint
CREATE TRIGGER `orders_address_key_live_update` BEFORE UPDATE OF `shipping_address`, `user_id` ON `orders`
WHEN NEW.shipping_address GLOB 'enc:*' AND NOT EXISTS (
	SELECT 1 FROM `user_keys` k WHERE k.user_id = NEW.user_id AND k.destroyed_at IS NULL
		AND NEW.shipping_address GLOB 'enc:v1:' || k.key_id || ':*')
BEGIN
	SELECT RAISE(ABORT, 'personal data key is not live');
END;
