CREATE TABLE `order_events` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`id` text NOT NULL,
	`type` text NOT NULL,
	`order_id` text NOT NULL,
	`user_id` integer NOT NULL,
	`at` integer NOT NULL,
	`payload` text NOT NULL,
	CONSTRAINT "order_events_type_check" CHECK("order_events"."type" IN ('order.created', 'order.updated', 'order.cancelled', 'order.review_approved', 'order.review_rejected'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `order_events_id_idx` ON `order_events` (`id`);--> statement-breakpoint
CREATE INDEX `order_events_user_idx` ON `order_events` (`user_id`,`seq`);--> statement-breakpoint
CREATE INDEX `order_events_order_idx` ON `order_events` (`order_id`,`seq`);--> statement-breakpoint
-- Events are never changed; only the retention purge deletes them.
CREATE TRIGGER `order_events_no_update` BEFORE UPDATE ON `order_events`
BEGIN
	SELECT RAISE(ABORT, 'order_events are never changed');
END;
