/**
 * The system resolver, from /etc/resolv.conf: the default for discovery when no nameserver is configured.
 */
import { errorMessage, NotariatError } from "../errors.ts";
import { DNS_PORT } from "./address.ts";
import type { ServerAddress } from "./types.ts";

/** The first `nameserver` of a resolv.conf text (resolv.conf(5)), or undefined when there is none. */
export function parseResolvConf(text: string): ServerAddress | undefined {
  for (const line of text.split("\n")) {
    const [keyword, value] = line.replace(/[#;].*$/, "").trim().split(/\s+/);
    // A link-local IPv6 address may carry a zone ("fe80::1%eth0"); the socket API takes it as part of the host.
    if (keyword === "nameserver" && value) return { host: value, port: DNS_PORT };
  }
  return undefined;
}

/** The first nameserver of `path`; throws NotariatError kind "dns" when the file is missing or names none. */
export async function systemResolver(path = "/etc/resolv.conf"): Promise<ServerAddress> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new NotariatError("dns", `cannot read ${path}: ${errorMessage(err)}`);
  }
  const server = parseResolvConf(text);
  if (server === undefined) throw new NotariatError("dns", `${path} names no nameserver`);
  return server;
}
