/**
 * Which UPDATE messages carry which TXT values: one message per operation, server, zone and TSIG key, each
 * value once. Pure, so the rule is tested with plain values. A challenge set sends its values with it (and
 * later deletes exactly them the same way); the batcher (update_batch.ts) applies the same rule to the
 * messages of concurrent orders that arrive within its window, so planUpdates over several sets at once is
 * what the batcher sends when they arrive together.
 */
import { createHash } from "node:crypto";
import { formatServer } from "./address.ts";
import type { ServerAddress, TsigKey } from "./types.ts";
import type { PlacedValue, TxtValue, UpdateOperation } from "./update.ts";
import { canonicalName } from "./wire.ts";

/**
 * Values per message at most: a TXT record of a challenge is about 120 bytes on the wire, so a full message
 * stays far below TCP's 64 KiB.
 */
export const MAX_VALUES_PER_UPDATE = 200;

/** One UPDATE message: `values` added to or deleted from `zone`, sent to `server`, signed with `key`. */
export interface TxtUpdate {
  operation: UpdateOperation;
  server: ServerAddress;
  zone: string;
  key: TsigKey;
  values: TxtValue[];
}

/**
 * The identity of the messages that may carry a value: values with equal groups may share one message. Only
 * values signed by the same key are merged, since a key names who may change what (its ACL); the key's
 * secret enters as a short hash only.
 */
export function updateGroup(update: Omit<TxtUpdate, "values">): string {
  const { operation, server, zone, key } = update;
  const keyId = createHash("sha256").update(key.secret).digest("hex").slice(0, 16);
  return [operation, formatServer(server), canonicalName(zone), key.algorithm, key.name, keyId].join(" ");
}

/** A value's identity within one message: its owner name as DNS compares names, and the value. */
export function valueIdentity(value: TxtValue): string {
  return `${canonicalName(value.owner)} ${value.value}`;
}

interface OpenMessage {
  update: TxtUpdate;
  seen: Set<string>;
  /** Values submitted to it, counted as the batcher counts them (each set's own values once). */
  size: number;
}

/**
 * The UPDATE messages that add (or delete) the values of `sets`, each set the values one signer publishes
 * together (one order's challenge values, say). Values go to the message of their group (updateGroup), in
 * order of first appearance, each once (valueIdentity). A set's values for one message are never split: a
 * message is closed once it holds MAX_VALUES_PER_UPDATE values or when the next set's values would take it
 * past that. Messages come in the order they were opened.
 *
 * @example Two orders for one zone, one key: one message with both orders' values.
 * ```ts
 * planUpdates("add", [{ key, values: [a1, a2] }, { key, values: [b1] }]); // [{ zone, values: [a1, a2, b1] }]
 * ```
 */
export function planUpdates(
  operation: UpdateOperation,
  sets: readonly { key: TsigKey; values: readonly PlacedValue[] }[],
): TxtUpdate[] {
  const messages: TxtUpdate[] = [];
  const open = new Map<string, OpenMessage>();
  for (const { key, values } of sets) {
    // This set's values per group, each once, as one caller would send them alone.
    const own = new Map<
      string,
      { zone: string; server: ServerAddress; values: TxtValue[]; seen: Set<string> }
    >();
    for (const { owner, value, zone, server } of values) {
      const group = updateGroup({ operation, server, zone, key });
      const part = own.get(group) ?? { zone, server, values: [], seen: new Set() };
      own.set(group, part);
      const id = valueIdentity({ owner, value });
      if (part.seen.has(id)) continue;
      part.seen.add(id);
      part.values.push({ owner, value });
    }
    for (const [group, part] of own) {
      let message = open.get(group);
      if (message !== undefined && message.size + part.values.length > MAX_VALUES_PER_UPDATE) {
        open.delete(group);
        message = undefined;
      }
      if (message === undefined) {
        message = {
          update: { operation, server: part.server, zone: part.zone, key, values: [] },
          seen: new Set(),
          size: 0,
        };
        open.set(group, message);
        messages.push(message.update);
      }
      for (const value of part.values) {
        const id = valueIdentity(value);
        if (message.seen.has(id)) continue;
        message.seen.add(id);
        message.update.values.push(value);
      }
      message.size += part.values.length;
      if (message.size >= MAX_VALUES_PER_UPDATE) open.delete(group);
    }
  }
  return messages;
}
