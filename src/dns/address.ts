/**
 * Server addresses: how they are printed in messages and how a configured `host[:port]` is read.
 */
import type { ServerAddress } from "./types.ts";

/** The standard DNS port. */
export const DNS_PORT = 53;

/** `192.0.2.1:53` or `[2001:db8::1]:53`, the form every message uses. */
export function formatServer(server: ServerAddress): string {
  return server.host.includes(":") ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

/** Whether `host` is an IPv4 or IPv6 address literal rather than a name. */
export function isAddressLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(":");
}

/** A configured nameserver split into host and port; `host` may still be a name to resolve. */
export interface NameserverSpec {
  host: string;
  port: number;
}

/**
 * Reads `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address (port 53 unless given). Returns an
 * error text instead of throwing so the caller can name the field it came from.
 */
export function parseNameserver(text: string, defaultPort = DNS_PORT): NameserverSpec | { error: string } {
  const trimmed = text.trim();
  let host = trimmed;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(trimmed);
  if (bracketed) {
    host = bracketed[1];
    portText = bracketed[2];
  } else if ((trimmed.match(/:/g) ?? []).length === 1) {
    [host, portText] = trimmed.split(":");
  }
  if (host === "") return { error: `'${text}' has no host` };
  if (!bracketed && host.includes(":") && !/^[0-9a-fA-F:.]+$/.test(host)) {
    return { error: `'${text}' is not a host, host:port or IPv6 address` };
  }
  if (!host.includes(":") && !/^[A-Za-z0-9_.-]+$/.test(host)) {
    return { error: `'${text}' has an invalid host` };
  }
  if (portText === undefined) return { host: host.replace(/\.$/, ""), port: defaultPort };
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) return { error: `'${text}' has an invalid port '${portText}'` };
  return { host: host.replace(/\.$/, ""), port };
}
