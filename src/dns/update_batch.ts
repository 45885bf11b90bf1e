/**
 * Signed TXT UPDATEs through the coalescer of batch.ts: the values of concurrent orders for the same zone,
 * server, key and operation that are ready within UPDATE_WINDOW_MS of each other go out in one message. Each
 * caller's promise still settles for its own values only (see batch.ts), so callers keep their per-value add
 * and delete bookkeeping unchanged.
 */
import { createHash } from "node:crypto";
import { formatServer } from "./address.ts";
import { createCoalescer } from "./batch.ts";
import type { Transport } from "./exchange.ts";
import type { ServerAddress, TsigKey } from "./types.ts";
import { sendTxtUpdate, type TxtValue, UnconfirmedUpdateError, type UpdateOperation } from "./update.ts";
import { canonicalName } from "./wire.ts";

/** How long an UPDATE waits for other orders' values to the same zone: a few ms, against 1 ms of work. */
export const UPDATE_WINDOW_MS = 5;

/**
 * Values per message at most: a TXT record of a challenge is about 120 bytes on the wire, so a full message
 * stays far below TCP's 64 KiB.
 */
export const MAX_VALUES_PER_UPDATE = 200;

/** Sends UPDATEs, sharing messages between concurrent callers. */
export interface UpdateBatcher {
  /** Like sendTxtUpdate (same errors, UnconfirmedUpdateError included), for this caller's `values`. */
  send(
    transport: Transport,
    server: ServerAddress,
    key: TsigKey,
    zone: string,
    operation: UpdateOperation,
    values: TxtValue[],
  ): Promise<void>;
}

/** How one merged message is sent: sendTxtUpdate, or a wrapper around it (e.g. one that counts messages). */
export type SendTxtUpdate = typeof sendTxtUpdate;

/** A batcher with its own open batches; `windowMs` 0 still merges the values submitted in one tick. */
export function createUpdateBatcher(
  windowMs: number = UPDATE_WINDOW_MS,
  sendUpdate: SendTxtUpdate = sendTxtUpdate,
): UpdateBatcher {
  const coalescer = createCoalescer<TxtValue>({
    windowMs,
    maxValues: MAX_VALUES_PER_UPDATE,
    identity: (v) => `${canonicalName(v.owner)} ${v.value}`,
    possiblyApplied: (err) => err instanceof UnconfirmedUpdateError,
  });
  return {
    send(transport, server, key, zone, operation, values) {
      // Only messages signed by the same key may be merged: a key names who may change what (its ACL).
      const keyId = createHash("sha256").update(key.secret).digest("hex").slice(0, 16);
      const group = [operation, formatServer(server), canonicalName(zone), key.algorithm, key.name, keyId]
        .join(" ");
      return coalescer.submit(
        group,
        values,
        (batch) => sendUpdate(transport, server, key, zone, operation, batch),
      );
    },
  };
}

/** The batcher of the process, used when a DNS context brings none. */
export const sharedUpdateBatcher: UpdateBatcher = createUpdateBatcher();
