DROP INDEX `webhook_deliveries_due_idx`;--> statement-breakpoint
ALTER TABLE `webhook_deliveries` ADD `ready` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
CREATE INDEX `webhook_deliveries_ready_idx` ON `webhook_deliveries` (`endpoint_id`,`ready`,`next_at`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_lease_idx` ON `webhook_deliveries` (`endpoint_id`,`lease_until`);