/**
 * Server addresses: the one parser of `host[:port]` (used where a value comes in: flags, the ConfigMap, the TSIG
 * Secret) and the one form every message prints.
 */
import { isIP } from "node:net";
import { normalizeHostName } from "./names.ts";
import { errorMessage, NotariatError } from "../errors.ts";
import { quoteValue } from "../quote.ts";
import type { ServerAddress } from "./types.ts";

/** The standard DNS port. */
export const DNS_PORT = 53;

/** `192.0.2.1:53` or `[2001:db8::1]:53`, the form every message uses. */
export function formatServer(server: ServerAddress): string {
  return server.host.includes(":") ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

/** Whether `host` is an IPv4 or IPv6 address literal rather than a name. */
export function isAddressLiteral(host: string): boolean {
  return isIP(host) !== 0;
}

/** How `parseServerAddress` reads a value. */
export interface ServerAddressOptions {
  /** The port when none is given (default 53). */
  defaultPort?: number;
  /** Refuse host names: for the resolver, which is what turns names into addresses. */
  addressOnly?: boolean;
}

/**
 * Parses `host[:port]`: `192.0.2.1`, `192.0.2.1:5353`, `[2001:db8::1]:53`, `2001:db8::1` (a bare IPv6 address
 * takes the default port), `ns1.example.com:53`. Host names are lower-cased, their trailing dot dropped, and
 * checked, not resolved. Throws NotariatError kind "config" whose message starts with the quoted value (see
 * quoteValue) and says what is wrong; the caller adds the field or flag it came from.
 *
 * @example parseServerAddress("[::1]:5353") // { host: "::1", port: 5353 }
 */
export function parseServerAddress(text: string, options: ServerAddressOptions = {}): ServerAddress {
  const fail = (reason: string) =>
    new NotariatError("config", `${quoteValue(text)} is not a valid server address: ${reason}`);
  let host: string;
  let portText: string | undefined;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) throw fail("missing ']' after the IPv6 address");
    host = text.slice(1, close);
    const after = text.slice(close + 1);
    if (after !== "" && !after.startsWith(":")) throw fail("expected ':port' after ']'");
    if (after !== "") portText = after.slice(1);
    if (isIP(host) !== 6) throw fail(`${quoteValue(host)} in brackets is not an IPv6 address`);
  } else if (text.indexOf(":") !== text.lastIndexOf(":")) {
    host = text;
    if (isIP(host) !== 6) {
      throw fail("not an IPv6 address (write an IPv6 address with a port as [address]:port)");
    }
  } else {
    const colon = text.indexOf(":");
    host = colon < 0 ? text : text.slice(0, colon);
    if (colon >= 0) portText = text.slice(colon + 1);
    if (host === "") throw fail("the host is empty");
    if (/^[0-9.]+$/.test(host)) {
      if (isIP(host) !== 4) throw fail(`${quoteValue(host)} is not an IPv4 address`);
    } else {
      try {
        host = normalizeHostName(host);
      } catch (err) {
        throw fail(errorMessage(err));
      }
      if (options.addressOnly) {
        throw fail("it must be an IP address, not a name (a resolver cannot be found by name)");
      }
    }
  }
  let port = options.defaultPort ?? DNS_PORT;
  if (portText !== undefined) {
    if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw fail(`port ${quoteValue(portText)} is not a number from 1 to 65535`);
    }
    port = Number(portText);
  }
  return { host, port };
}
