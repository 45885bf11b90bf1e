/**
 * One DNS query: over UDP, repeated over TCP when the answer is truncated (RFC 7766 5), decoded.
 */
import { errorMessage, NotariatError } from "../errors.ts";
import { formatServer } from "./address.ts";
import type { Transport } from "./exchange.ts";
import type { ServerAddress } from "./types.ts";
import {
  canonicalName,
  type DecodedMessage,
  decodeMessage,
  encodeMessage,
  Opcode,
  RecordClass,
  requestHeader,
  typeName,
  WireError,
} from "./wire.ts";

/**
 * Asks `server` for `name`/`type` (class IN) and returns the decoded answer, whatever its RCODE. RD is set by
 * default so a recursive resolver resolves; authoritative servers ignore it. Throws NotariatError kind "dns"
 * when the server cannot be reached or answers garbage.
 */
export async function query(
  transport: Transport,
  server: ServerAddress,
  name: string,
  type: number,
  options: { recursionDesired?: boolean } = {},
): Promise<DecodedMessage> {
  const request = encodeMessage({
    header: requestHeader(Opcode.QUERY, options.recursionDesired ?? true),
    questions: [{ name: canonicalName(name), type, class: RecordClass.IN }],
    answers: [],
    authority: [],
    additional: [],
  });
  const what = `query ${canonicalName(name)} ${typeName(type)}`;
  try {
    let response = decodeMessage(await transport.exchange(server, request, "udp"));
    if (response.header.truncated) response = decodeMessage(await transport.exchange(server, request, "tcp"));
    return response;
  } catch (err) {
    const reason = err instanceof WireError ? `the answer is malformed (${err.message})` : errorMessage(err);
    throw new NotariatError("dns", `${what} to ${formatServer(server)} failed: ${reason}`, { cause: err });
  }
}
