/**
 * DNS UPDATE (RFC 2136) of TXT values: adding values, and deleting exactly those values with class NONE
 * (RFC 2136 2.5.4) so other values at the same name (the apex and wildcard challenges of one order, other
 * orders, other tools) survive.
 */
import { errorMessage, NotariatError } from "../errors.ts";
import { formatServer } from "./address.ts";
import { diagnoseUpdate } from "./diagnose.ts";
import type { Protocol, Transport } from "./exchange.ts";
import { signMessage, verifyMessage } from "./tsig.ts";
import type { ServerAddress, TsigKey } from "./types.ts";
import {
  canonicalName,
  decodeMessage,
  encodeMessage,
  type Message,
  Opcode,
  Rcode,
  RecordClass,
  RecordType,
  requestHeader,
} from "./wire.ts";

/** TTL of added challenge values: short, so resolvers do not keep a stale value across attempts. */
export const CHALLENGE_TTL_SECONDS = 60;

/** One TXT value at one owner name: what an UPDATE adds or deletes. */
export interface TxtValue {
  owner: string;
  value: string;
}

/**
 * A TXT value where it is published: its owner name (after any CNAME), the zone holding that name and the
 * server taking the zone's updates. What a removal deletes, and what the challenge journal records.
 */
export interface PlacedValue extends TxtValue {
  zone: string;
  server: ServerAddress;
}

/** Add or delete. */
export type UpdateOperation = "add" | "delete";

/** Splits a value into 255-byte character-strings (RFC 1035 3.3.14); ACME values are 43 bytes, one string. */
function txtStrings(value: string): string[] {
  const strings: string[] = [];
  for (let i = 0; i < value.length; i += 255) strings.push(value.slice(i, i + 255));
  return strings.length > 0 ? strings : [""];
}

/** The unsigned UPDATE message that adds or deletes `values` in `zone` (pure; the id is random). */
export function buildTxtUpdate(zone: string, operation: UpdateOperation, values: TxtValue[]): Message {
  return {
    header: requestHeader(Opcode.UPDATE, false),
    // RFC 2136 2.3: the zone section names the zone, type SOA.
    questions: [{ name: canonicalName(zone), type: RecordType.SOA, class: RecordClass.IN }],
    answers: [],
    authority: values.map(({ owner, value }) => ({
      name: canonicalName(owner),
      type: RecordType.TXT,
      class: operation === "add" ? RecordClass.IN : RecordClass.NONE,
      ttl: operation === "add" ? CHALLENGE_TTL_SECONDS : 0,
      data: { kind: "txt" as const, strings: txtStrings(value) },
    })),
    additional: [],
  };
}

/**
 * An update whose outcome is unknown: no answer, a malformed one, or a NOERROR that does not verify. The server
 * may have applied it, so a caller that added values removes them again.
 */
export class UnconfirmedUpdateError extends NotariatError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("dns", message, options);
    this.name = "UnconfirmedUpdateError";
  }
}

/** How an update is sent: TCP unless asked otherwise (an UPDATE answer is small, but TCP is never truncated). */
export interface UpdateOptions {
  protocol?: Protocol;
  /** Milliseconds since the epoch; the TSIG time. */
  clock?: () => number;
}

/**
 * Sends one signed UPDATE to `server` and checks the signed answer. Throws NotariatError kind "dns" with the
 * decoded reason (see diagnoseUpdate) or the transport failure; UnconfirmedUpdateError when the server may have
 * applied the update all the same.
 */
export async function sendTxtUpdate(
  transport: Transport,
  server: ServerAddress,
  key: TsigKey,
  zone: string,
  operation: UpdateOperation,
  values: TxtValue[],
  options: UpdateOptions = {},
): Promise<void> {
  const clock = options.clock ?? Date.now;
  const signed = signMessage(
    encodeMessage(buildTxtUpdate(zone, operation, values)),
    key,
    Math.floor(clock() / 1000),
  );
  let response: Uint8Array;
  try {
    response = await transport.exchange(server, signed.bytes, options.protocol ?? "tcp");
  } catch (err) {
    throw new UnconfirmedUpdateError(`update of zone '${zone}': ${errorMessage(err)}`, { cause: err });
  }
  const now = Math.floor(clock() / 1000);
  let rcode: number;
  try {
    rcode = decodeMessage(response).header.rcode;
  } catch (err) {
    throw new UnconfirmedUpdateError(
      `server ${formatServer(server)} sent a malformed answer to the update of zone '${zone}': ` +
        errorMessage(err),
    );
  }
  const problem = diagnoseUpdate({
    server: formatServer(server),
    zone: canonicalName(zone),
    key,
    rcode,
    verdict: verifyMessage(response, key, now, signed.mac),
    now,
  });
  if (problem === undefined) return;
  // RFC 2136 3.7: an error RCODE means nothing was applied; a NOERROR that does not verify proves nothing.
  if (rcode === Rcode.NOERROR) throw new UnconfirmedUpdateError(problem);
  throw new NotariatError("dns", problem);
}
