CREATE TABLE `accounts` (
	`user_id` integer PRIMARY KEY NOT NULL,
	`disabled_at` integer,
	`tokens_revoked_before` integer,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `orders` ADD `created_by` integer;--> statement-breakpoint
ALTER TABLE `orders` ADD `review_state` text;--> statement-breakpoint
ALTER TABLE `orders` ADD `review_reasons` text;