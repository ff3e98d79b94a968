-- A lease moves into the claim's index: `ready` 2 (leased) until `next_at`. Leases held now (live or run out) carry over.
UPDATE `webhook_deliveries` SET `ready` = 2, `next_at` = `lease_until` WHERE `lease_token` IS NOT NULL;--> statement-breakpoint
DROP INDEX `webhook_deliveries_lease_idx`;--> statement-breakpoint
ALTER TABLE `webhook_deliveries` DROP COLUMN `lease_until`;
