/**
 * Signed TXT UPDATEs through the coalescer of batch.ts: the values of concurrent orders for the same zone,
 * server, key and operation that are ready within UPDATE_WINDOW_MS of each other go out in one message, by the
 * rule of update_plan.ts (its group, value identity and size limit). Each caller's promise still settles for
 * its own values only (see batch.ts), so callers keep their per-value add and delete bookkeeping unchanged.
 */
import { createCoalescer } from "./batch.ts";
import type { Transport } from "./exchange.ts";
import { sendTxtUpdate, type TxtValue, UnconfirmedUpdateError } from "./update.ts";
import { MAX_VALUES_PER_UPDATE, type TxtUpdate, updateGroup, valueIdentity } from "./update_plan.ts";

/** How long an UPDATE waits for other orders' values to the same zone: a few ms, against 1 ms of work. */
export const UPDATE_WINDOW_MS = 5;

/** Sends UPDATEs, sharing messages between concurrent callers. */
export interface UpdateBatcher {
  /**
   * Sends `update` like sendTxtUpdate (same errors, UnconfirmedUpdateError included), possibly merged with
   * other callers' messages of the same group; settles for this caller's values.
   */
  send(transport: Transport, update: TxtUpdate): Promise<void>;
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
    identity: valueIdentity,
    possiblyApplied: (err) => err instanceof UnconfirmedUpdateError,
  });
  return {
    send(transport, update) {
      const { server, key, zone, operation, values } = update;
      return coalescer.submit(
        updateGroup(update),
        values,
        (batch) => sendUpdate(transport, server, key, zone, operation, batch),
      );
    },
  };
}

/** The batcher of the process, used when a DNS context brings none. */
export const sharedUpdateBatcher: UpdateBatcher = createUpdateBatcher();
