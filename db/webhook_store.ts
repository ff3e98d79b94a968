/**
 * Webhooks in libSQL: the endpoints (with their secrets encrypted under the
 * master key and an audit chain each), the outbox of deliveries and the
 * attempts log. `queueEventDeliveries` is the statement a change's batch
 * runs to queue its event for every subscribed endpoint, so a delivery is
 * committed with its change or not at all; the dispatcher
 * (`webhooks/dispatcher.ts`) leases due deliveries and records attempts
 * through `DeliveryQueue`.
 */
import type { InStatement, InValue, ResultSet, Row } from "@libsql/client/web";
import {
  type AuditDraft,
  type AuditSealer,
  GENESIS_HASH,
  webhookEndpointChainId,
} from "../domain/audit.ts";
import {
  ORDER_EVENT_TYPES,
  type OrderEvent,
  orderEventBody,
} from "../domain/order_events.ts";
import type {
  ClaimedWork,
  DeliveryQueue,
  DueClaim,
  RecordedAttempt,
  WebhookEndpointStore,
} from "../domain/ports.ts";
import { WEBHOOK_ATTEMPT_OUTCOMES } from "../domain/webhook_schedule.ts";
import type { WebhookEndpoint, WebhookEventType } from "../domain/webhooks.ts";
import { decryptSecret, encryptSecret, type MasterKey } from "../pii/cipher.ts";
import {
  appendAuditEntry,
  PREVIOUS_CHANGED_ONE_ROW,
  writeAppendingBatch,
} from "./audit_append.ts";
import { CHAIN_HEAD_SQL, readChainHead } from "./audit_rows.ts";
import type { Db } from "./database.ts";
import {
  DELIVERY_STATES,
  webhookAttempts,
  webhookDeliveries,
  type WebhookEndpointRow,
  webhookEndpoints,
} from "./schema.ts";
import {
  enumValue,
  type Guard,
  insertRows,
  integerValue,
  nullableInteger,
  nullableText,
  qualified,
  selectAs,
  selectList,
  type SqlText,
  sqlText,
  textValue,
} from "./sql.ts";

const E = webhookEndpoints;
const D = webhookDeliveries;
const A = webhookAttempts;
const { waiting: WAITING, ready: READY, leased: LEASED } = DELIVERY_STATES;

/** Subscribed types as stored: between commas, or empty for every type. */
function storedEventTypes(types: readonly string[]): string {
  return types.length === 0 ? "" : `,${types.join(",")},`;
}

/**
 * Queues `event` for every enabled endpoint subscribed to its type, due at
 * once: the statement to run in the batch of the change (with `onlyIf`, the
 * guard of its event). With no endpoint registered it writes nothing.
 */
export function queueEventDeliveries(
  event: OrderEvent,
  onlyIf?: Guard,
): InStatement {
  const guard = onlyIf ? sqlText` AND ${onlyIf.sql}` : sqlText``;
  return {
    sql: sqlText`INSERT INTO ${D} (${D.endpointId}, ${D.eventId},
      ${D.eventType}, ${D.orderId}, ${D.payload}, ${D.ready}, ${D.attempts},
      ${D.nextAt}, ${D.createdAt})
      SELECT ${E.id}, ?1, ?2, ?3, ?4, ${
      readyFor(sqlText`${E.id}`, sqlText`?3`)
    },
        0, ?5, ?5 FROM ${E}
      WHERE ${E.enabled} = 1
        AND (${E.eventTypes} = '' OR instr(${E.eventTypes}, ?6) > 0)${guard}`,
    args: [
      event.id,
      event.type,
      event.data.order_id,
      JSON.stringify(orderEventBody(event)),
      event.at,
      `,${event.type},`,
      ...(onlyIf?.args ?? []),
    ],
  };
}

/**
 * The state of a delivery queued now for `endpoint` about `order` (SQL
 * expressions): ready at once unless an earlier one of the order is
 * pending.
 */
function readyFor(endpoint: SqlText, order: SqlText): SqlText {
  return sqlText`CASE WHEN ${order} IS NULL OR NOT EXISTS (SELECT 1 FROM ${D} p
    WHERE p.${D.endpointId} = ${endpoint} AND p.${D.orderId} = ${order})
    THEN ${READY} ELSE ${WAITING} END`;
}

/** Queues one delivery (arguments: endpoint, event id, type, order, payload, at). */
const QUEUE_ONE_SQL = sqlText`INSERT INTO ${D} (${D.endpointId}, ${D.eventId},
  ${D.eventType}, ${D.orderId}, ${D.payload}, ${D.ready}, ${D.attempts},
  ${D.nextAt}, ${D.createdAt})
  SELECT ?1, ?2, ?3, ?4, ?5, ${readyFor(sqlText`?1`, sqlText`?4`)}, 0, ?6, ?6`;

const SELECT_ENDPOINTS = selectAs(E);

function rowToEndpoint(row: WebhookEndpointRow): WebhookEndpoint {
  return {
    id: row.id,
    url: row.url,
    eventTypes: row.eventTypes === ""
      ? []
      : row.eventTypes.slice(1, -1).split(",").map((type) =>
        enumValue(ORDER_EVENT_TYPES, type)
      ),
    description: row.description,
    enabled: row.enabled,
    disabledReason: row.disabledReason,
    failedDeliveries: row.failedDeliveries,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    version: row.version,
  };
}

function readEndpointRow(row: Row): WebhookEndpointRow {
  return {
    id: textValue(row.id),
    url: textValue(row.url),
    eventTypes: textValue(row.eventTypes),
    description: nullableText(row.description),
    enabled: integerValue(row.enabled) === 1,
    disabledReason: nullableText(row.disabledReason),
    failedDeliveries: integerValue(row.failedDeliveries),
    secret: textValue(row.secret),
    previousSecret: nullableText(row.previousSecret),
    previousSecretUntil: nullableInteger(row.previousSecretUntil),
    createdAt: integerValue(row.createdAt),
    updatedAt: integerValue(row.updatedAt),
    version: integerValue(row.version),
  };
}

const ENDPOINT_BY_ID_SQL = sqlText`${SELECT_ENDPOINTS} WHERE ${E.id} = ?`;

const UPDATE_ENDPOINT_SQL = sqlText`UPDATE ${E} SET ${E.url} = ?,
  ${E.eventTypes} = ?, ${E.description} = ?, ${E.enabled} = ?,
  ${E.disabledReason} = ?, ${E.failedDeliveries} = ?, ${E.updatedAt} = ?,
  ${E.version} = ? WHERE ${E.id} = ? AND ${E.version} = ?
  AND ${E.enabled} = ? AND ${E.failedDeliveries} = ?`;

const ROTATE_SQL = sqlText`UPDATE ${E} SET ${E.previousSecret} = ${E.secret},
  ${E.previousSecretUntil} = ?, ${E.secret} = ?, ${E.updatedAt} = ?,
  ${E.version} = ${E.version} + 1 WHERE ${E.id} = ? AND ${E.version} = ?`;

const DELETE_ENDPOINT_SQL =
  sqlText`DELETE FROM ${E} WHERE ${E.id} = ? AND ${E.version} = ?`;

/** Holds once the endpoint given as the one argument is gone. */
const ENDPOINT_GONE =
  sqlText`NOT EXISTS (SELECT 1 FROM ${E} WHERE ${E.id} = ?)`;

const ATTEMPTS_SQL = sqlText`SELECT ${
  selectList({
    seq: A.seq,
    eventId: A.eventId,
    eventType: A.eventType,
    attempt: A.attempt,
    at: A.at,
    outcome: A.outcome,
    responseStatus: A.responseStatus,
    durationMs: A.durationMs,
  })
}
  FROM ${A} WHERE ${A.endpointId} = ? AND ${A.seq} < ?
  ORDER BY ${A.seq} DESC LIMIT ?`;

/**
 * Each enabled endpoint and whether a delivery is due, ready or with its
 * lease run out (argument: now).
 */
const DUE_ENDPOINTS_SQL = sqlText`SELECT ${selectList({ endpointId: E.id })},
    EXISTS (SELECT 1 FROM ${D} d
      WHERE d.${D.endpointId} = ${qualified(E.id)}
        AND d.${D.ready} IN (${READY}, ${LEASED}) AND d.${D.nextAt} <= ?1) AS due
  FROM ${E} WHERE ${E.enabled} = 1`;

/**
 * Endpoint ?3's deliveries in `state` due at ?4, the earliest first, as
 * many as it has free slots (`free`, below).
 */
function dueIn(state: number): SqlText {
  return sqlText`SELECT * FROM (SELECT ${D.seq} AS pick, ${state} AS lane,
      ${D.nextAt} AS due FROM ${D}
    WHERE ${D.endpointId} = ?3 AND ${D.ready} = ${state} AND ${D.nextAt} <= ?4
    ORDER BY ${D.nextAt} LIMIT (SELECT n FROM free))`;
}

/**
 * Leases one endpoint's due deliveries, those whose lease ran out first
 * (a process died mid-attempt), then the ready ones in due order, no more
 * than its free slots (attempts in flight anywhere hold theirs by their
 * live lease) nor the limit. Arguments: lease until, token, endpoint, now,
 * limit, concurrency. Each statement reads a few entries of the one index
 * `(endpoint_id, ready, next_at)` whatever the backlog: its leased ones
 * and its first due ones.
 */
const CLAIM_SQL = sqlText`WITH free (n) AS (SELECT max(0, min(?5, ?6 -
    (SELECT count(*) FROM ${D} WHERE ${D.endpointId} = ?3
      AND ${D.ready} = ${LEASED} AND ${D.nextAt} > ?4))))
  UPDATE ${D} SET ${D.ready} = ${LEASED}, ${D.nextAt} = ?1,
    ${D.leaseToken} = ?2
  WHERE ${D.seq} IN (SELECT pick FROM (${dueIn(LEASED)} UNION ALL ${
  dueIn(READY)
}
    ORDER BY lane DESC, due LIMIT (SELECT n FROM free)))
  RETURNING ${
  selectList({
    seq: D.seq,
    endpointId: D.endpointId,
    eventId: D.eventId,
    eventType: D.eventType,
    orderId: D.orderId,
    payload: D.payload,
    attempts: D.attempts,
    queuedAt: D.createdAt,
  })
}`;

const TARGETS_SQL = sqlText`SELECT ${
  selectList({
    id: E.id,
    url: E.url,
    secret: E.secret,
    previousSecret: E.previousSecret,
    previousSecretUntil: E.previousSecretUntil,
  })
} FROM ${E} WHERE ${E.enabled} = 1`;

const HOLDS_LEASE = sqlText`${D.seq} = ? AND ${D.leaseToken} = ?`;

const SUCCEEDED_OR_FAILED_SQL = sqlText`DELETE FROM ${D} WHERE ${HOLDS_LEASE}`;

/**
 * After a delivery is done, the next of its order to its endpoint may go
 * (arguments: endpoint, order); a delivery already ready or leased (the
 * one recorded, if its record lost the lease) stays as it is.
 */
const PROMOTE_NEXT_SQL = sqlText`UPDATE ${D} SET ${D.ready} = ${READY}
  WHERE ${D.seq} = (SELECT min(${D.seq}) FROM ${D}
    WHERE ${D.endpointId} = ?1 AND ${D.orderId} = ?2)
    AND ${D.ready} = ${WAITING}`;

const RETRY_SQL = sqlText`UPDATE ${D} SET ${D.attempts} = ${D.attempts} + 1,
  ${D.ready} = ${READY}, ${D.nextAt} = ?, ${D.leaseToken} = NULL
  WHERE ${HOLDS_LEASE}`;

/**
 * After a recorded attempt (arguments: succeeded, failed for good, gone,
 * disable after, reason when gone, reason when failing, now, id): a
 * success resets the count of failed deliveries, a delivery failed for good
 * adds one, and a 410 or the count reaching the limit disables the
 * endpoint. Only for an enabled endpoint and when the attempt was
 * recorded (the statement before), so a row it returns disabled was
 * disabled by this attempt; a success with no failure to forget writes
 * nothing (the common case: no endpoint row rewritten per delivery).
 */
const ENDPOINT_AFTER_ATTEMPT_SQL = sqlText`UPDATE ${E} SET
  ${E.failedDeliveries} = CASE WHEN ?1 THEN 0
    WHEN ?2 THEN ${E.failedDeliveries} + 1 ELSE ${E.failedDeliveries} END,
  ${E.enabled} = CASE WHEN ${E.enabled} = 1 AND (?3
    OR (?2 AND ${E.failedDeliveries} + 1 >= ?4)) THEN 0 ELSE ${E.enabled} END,
  ${E.disabledReason} = CASE WHEN ${E.enabled} = 1 AND ?3 THEN ?5
    WHEN ${E.enabled} = 1 AND ?2 AND ${E.failedDeliveries} + 1 >= ?4 THEN ?6
    ELSE ${E.disabledReason} END,
  ${E.updatedAt} = ?7
  WHERE ${E.id} = ?8 AND ${E.enabled} = 1 AND changes() = 1
    AND ((?1 AND ${E.failedDeliveries} > 0) OR ?2 OR ?3)
  RETURNING ${
  selectList({ enabled: E.enabled, disabledReason: E.disabledReason })
}`;

const BACKLOG_SQL = sqlText`SELECT count(*) AS pending,
  min(d.${D.createdAt}) AS oldest
  FROM ${D} d JOIN ${E} e ON e.${E.id} = d.${D.endpointId} AND e.${E.enabled} = 1`;

const PURGE_ATTEMPTS_SQL = sqlText`DELETE FROM ${A} WHERE ${A.at} < ?`;

/** Why an endpoint that answered 410 Gone was disabled. */
export const GONE_REASON = "The receiver answered 410 Gone";

/** Why an endpoint was disabled after failed deliveries. */
export function failingReason(disableAfter: number): string {
  return `The last ${disableAfter} deliveries all failed`;
}

/** Creates the webhook store over an open database. */
export function createWebhookStore(
  db: Db,
  options: {
    masters: readonly MasterKey[];
    /** Seals the endpoints' audit entries (the audit key). */
    auditSealer: AuditSealer;
  },
): WebhookEndpointStore & DeliveryQueue {
  const sealer = options.auditSealer;
  const client = db.$client;
  const [master] = options.masters;
  if (!master) throw new Error("A master key is needed to seal secrets");
  const seal = (endpointId: string, secret: string) =>
    encryptSecret(master, secret, webhookEndpointChainId(endpointId));
  /** Decrypted secrets by ciphertext: decryption happens once per secret. */
  const opened = new Map<string, Promise<string>>();
  const openSecret = (endpointId: string, sealed: string) => {
    let secret = opened.get(sealed);
    if (!secret) {
      secret = decryptSecret(
        options.masters,
        sealed,
        webhookEndpointChainId(endpointId),
      );
      opened.set(sealed, secret);
    }
    return secret;
  };

  /** The chain position after the endpoint's current version. */
  async function entryAfter(
    endpoint: WebhookEndpoint,
    entry: AuditDraft,
  ) {
    const chainId = webhookEndpointChainId(endpoint.id);
    const head = readChainHead(
      (await client.execute({ sql: CHAIN_HEAD_SQL, args: [chainId] })).rows[0],
    );
    return {
      ...entry,
      chainId,
      chainSeq: endpoint.version + 1,
      prevHash: head?.hash ?? GENESIS_HASH,
    };
  }

  /** The statements of a claim: the targets, then each endpoint's leases. */
  function claimStatements(claim: DueClaim, token: string): InStatement[] {
    return [
      TARGETS_SQL,
      ...claim.endpointIds.map((id) => ({
        sql: CLAIM_SQL,
        args: [
          claim.leaseUntil,
          token,
          id,
          claim.now,
          claim.limit,
          claim.concurrency,
        ],
      })),
    ];
  }

  /** What the results of `claimStatements` leased, with their targets. */
  async function claimedWork(
    [targets, ...claims]: ResultSet[],
    now: number,
    token: string,
  ): Promise<ClaimedWork> {
    const endpoints = new Map<string, { url: string; secrets: string[] }>();
    for (const row of targets!.rows) {
      const id = textValue(row.id);
      const secrets = [await openSecret(id, textValue(row.secret))];
      const previous = nullableText(row.previousSecret);
      const until = nullableInteger(row.previousSecretUntil);
      if (previous !== null && until !== null && until > now) {
        secrets.push(await openSecret(id, previous));
      }
      endpoints.set(id, { url: textValue(row.url), secrets });
    }
    return {
      deliveries: claims.flatMap((claimed) => claimed.rows).map((row) => ({
        seq: integerValue(row.seq),
        endpointId: textValue(row.endpointId),
        eventId: textValue(row.eventId),
        eventType: textValue(row.eventType),
        orderId: nullableText(row.orderId),
        payload: textValue(row.payload),
        attempts: integerValue(row.attempts),
        queuedAt: integerValue(row.queuedAt),
        leaseToken: token,
      })),
      targets: endpoints,
    };
  }

  return {
    async listEndpoints() {
      const { rows } = await client.execute(
        sqlText`${SELECT_ENDPOINTS} ORDER BY ${E.createdAt}, ${E.id}`,
      );
      return rows.map((row) => rowToEndpoint(readEndpointRow(row)));
    },

    async findEndpoint(id) {
      const { rows } = await client.execute({
        sql: ENDPOINT_BY_ID_SQL,
        args: [id],
      });
      const row = rows[0];
      return row && rowToEndpoint(readEndpointRow(row));
    },

    async createEndpoint(endpoint, secret, entry, maxEndpoints) {
      const row: WebhookEndpointRow = {
        ...endpoint,
        eventTypes: storedEventTypes(endpoint.eventTypes),
        secret: await seal(endpoint.id, secret),
        previousSecret: null,
        previousSecretUntil: null,
        version: 1,
      };
      const underLimit: Guard = {
        sql: sqlText`(SELECT count(*) FROM ${E}) < ?`,
        args: [maxEndpoints],
      };
      const [inserted] = await client.batch([
        insertRows(E, [row], underLimit),
        await appendAuditEntry({
          ...entry,
          chainId: webhookEndpointChainId(endpoint.id),
          chainSeq: 1,
          prevHash: GENESIS_HASH,
        }, { sealer, onlyIf: PREVIOUS_CHANGED_ONE_ROW }),
      ], "write");
      return inserted!.rowsAffected === 1;
    },

    async updateEndpoint(before, after, entry) {
      if (after.version !== before.version + 1) {
        throw new Error(
          `Endpoint ${after.id} written at version ${after.version} after ${before.version}`,
        );
      }
      const placed = await entryAfter(before, entry);
      const written = await writeAppendingBatch(client, [
        {
          sql: UPDATE_ENDPOINT_SQL,
          args: [
            after.url,
            storedEventTypes(after.eventTypes),
            after.description,
            after.enabled ? 1 : 0,
            after.disabledReason,
            after.failedDeliveries,
            after.updatedAt,
            after.version,
            after.id,
            before.version,
            before.enabled ? 1 : 0,
            before.failedDeliveries,
          ],
        },
        await appendAuditEntry(placed, {
          sealer,
          onlyIf: PREVIOUS_CHANGED_ONE_ROW,
        }),
      ]);
      return written?.[0]?.rowsAffected === 1;
    },

    async deleteEndpoint(endpoint, entry) {
      const placed = await entryAfter(endpoint, entry);
      const gone: Guard = { sql: ENDPOINT_GONE, args: [endpoint.id] };
      const written = await writeAppendingBatch(client, [
        { sql: DELETE_ENDPOINT_SQL, args: [endpoint.id, endpoint.version] },
        await appendAuditEntry(placed, {
          sealer,
          onlyIf: PREVIOUS_CHANGED_ONE_ROW,
        }),
        {
          sql:
            sqlText`DELETE FROM ${D} WHERE ${D.endpointId} = ? AND ${gone.sql}`,
          args: [endpoint.id, ...gone.args],
        },
        {
          sql:
            sqlText`DELETE FROM ${A} WHERE ${A.endpointId} = ? AND ${gone.sql}`,
          args: [endpoint.id, ...gone.args],
        },
      ]);
      return written?.[0]?.rowsAffected === 1;
    },

    async rotateSecret(endpoint, secret, previousUntil, entry) {
      const placed = await entryAfter(endpoint, entry);
      const written = await writeAppendingBatch(client, [
        {
          sql: ROTATE_SQL,
          args: [
            previousUntil,
            await seal(endpoint.id, secret),
            entry.at,
            endpoint.id,
            endpoint.version,
          ],
        },
        await appendAuditEntry(placed, {
          sealer,
          onlyIf: PREVIOUS_CHANGED_ONE_ROW,
        }),
      ]);
      return written?.[0]?.rowsAffected === 1;
    },

    async enqueueDeliveries(deliveries, at) {
      if (deliveries.length === 0) return;
      await client.batch(
        deliveries.map((delivery) => ({
          sql: QUEUE_ONE_SQL,
          args: [
            delivery.endpointId,
            delivery.payload.id,
            delivery.payload.type,
            delivery.orderId,
            JSON.stringify(delivery.payload),
            at,
          ],
        })),
        "write",
      );
    },

    async listAttempts(endpointId, page) {
      const { rows } = await client.execute({
        sql: ATTEMPTS_SQL,
        args: [
          endpointId,
          page.beforeSeq ?? Number.MAX_SAFE_INTEGER,
          page.limit + 1,
        ],
      });
      const attempts = rows.slice(0, page.limit).map((row) => ({
        seq: integerValue(row.seq),
        eventId: textValue(row.eventId),
        eventType: textValue(row.eventType) as WebhookEventType,
        attempt: integerValue(row.attempt),
        at: integerValue(row.at),
        outcome: enumValue(WEBHOOK_ATTEMPT_OUTCOMES, row.outcome),
        responseStatus: nullableInteger(row.responseStatus),
        durationMs: integerValue(row.durationMs),
      }));
      return { attempts, hasMore: rows.length > page.limit };
    },

    async dueEndpoints(now) {
      const { rows } = await client.execute({
        sql: DUE_ENDPOINTS_SQL,
        args: [now],
      });
      return {
        due: rows.filter((row) => integerValue(row.due) === 1).map((row) =>
          textValue(row.endpointId)
        ),
        enabled: rows.map((row) => textValue(row.endpointId)),
      };
    },

    async claimDue(claim) {
      const token = crypto.randomUUID();
      const results = await client.batch(
        claimStatements(claim, token),
        "write",
      );
      return await claimedWork(results, claim.now, token);
    },

    async recordAttempts(records, claim) {
      const statements: InStatement[] = [];
      for (const record of records) {
        const { delivery, fate } = record;
        const lease: InValue[] = [delivery.seq, delivery.leaseToken];
        statements.push(
          fate.kind === "retry"
            ? { sql: RETRY_SQL, args: [fate.at, ...lease] }
            : { sql: SUCCEEDED_OR_FAILED_SQL, args: lease },
          insertRows(A, [{
            endpointId: delivery.endpointId,
            eventId: delivery.eventId,
            eventType: delivery.eventType,
            attempt: delivery.attempts + 1,
            at: record.at,
            outcome: record.outcome,
            responseStatus: record.responseStatus,
            durationMs: record.durationMs,
          }], PREVIOUS_CHANGED_ONE_ROW),
          {
            sql: ENDPOINT_AFTER_ATTEMPT_SQL,
            args: [
              fate.kind === "succeeded" ? 1 : 0,
              fate.kind === "failed" ? 1 : 0,
              record.gone ? 1 : 0,
              record.disableAfter,
              GONE_REASON,
              failingReason(record.disableAfter),
              record.now,
              delivery.endpointId,
            ],
          },
          // Done with it (or it never left): the order's next may go.
          {
            sql: PROMOTE_NEXT_SQL,
            args: [delivery.endpointId, delivery.orderId],
          },
        );
      }
      const token = crypto.randomUUID();
      if (claim) statements.push(...claimStatements(claim, token));
      if (statements.length === 0) return { recorded: [] };
      const results = await client.batch(statements, "write");
      const recorded = records.map((_, i): RecordedAttempt => {
        const recorded = results[4 * i + 1]!.rowsAffected === 1;
        const endpoint = results[4 * i + 2]!.rows[0];
        const disabled = endpoint !== undefined &&
          integerValue(endpoint.enabled) === 0;
        return {
          recorded,
          disabledReason: disabled
            ? nullableText(endpoint.disabledReason) ?? undefined
            : undefined,
        };
      });
      return {
        recorded,
        claimed: claim &&
          await claimedWork(
            results.slice(4 * records.length),
            claim.now,
            token,
          ),
      };
    },

    async backlog() {
      const { rows } = await client.execute(BACKLOG_SQL);
      return {
        pending: integerValue(rows[0]?.pending ?? 0),
        oldestQueuedAt: nullableInteger(rows[0]?.oldest),
      };
    },

    async purgeAttempts(cutoff) {
      const purged = await client.execute({
        sql: PURGE_ATTEMPTS_SQL,
        args: [cutoff],
      });
      return purged.rowsAffected;
    },
  };
}

/**
 * Seals every endpoint's secrets under the current master key (the first
 * of `masters`), opening each with whichever of `masters` sealed it: the
 * webhook part of a master key rotation (`deno task pii:rotate`). A secret
 * changed meanwhile (a rotation of the endpoint's secret) is left as it is:
 * it was sealed by the service's current key. Returns how many were sealed
 * again and how many no configured key opens.
 */
export async function resealWebhookSecrets(
  db: Db,
  masters: readonly MasterKey[],
): Promise<{ resealed: number; unreadable: number }> {
  const [current] = masters;
  if (!current) throw new Error("A master key is needed to seal secrets");
  const client = db.$client;
  const { rows } = await client.execute(SELECT_ENDPOINTS);
  let resealed = 0;
  let unreadable = 0;
  for (const row of rows.map(readEndpointRow)) {
    const context = webhookEndpointChainId(row.id);
    for (const column of [E.secret, E.previousSecret]) {
      const sealed = column === E.secret ? row.secret : row.previousSecret;
      if (sealed === null || sealed.startsWith(`${current.id}.`)) continue;
      let secret: string;
      try {
        secret = await decryptSecret(masters, sealed, context);
      } catch {
        unreadable++;
        continue;
      }
      const written = await client.execute({
        sql:
          sqlText`UPDATE ${E} SET ${column} = ? WHERE ${E.id} = ? AND ${column} = ?`,
        args: [await encryptSecret(current, secret, context), row.id, sealed],
      });
      resealed += written.rowsAffected;
    }
  }
  return { resealed, unreadable };
}
