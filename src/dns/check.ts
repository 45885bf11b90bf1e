/**
 * `notariat dns-check`: proves that a TSIG key can publish and remove a challenge for a domain, through the same
 * path a certificate order takes (CNAME chase, zone discovery, signed UPDATE, propagation), and says where it
 * went and how long each step took.
 */
import { errorMessage } from "../errors.ts";
import { formatServer } from "./address.ts";
import {
  DEFAULT_POLL_INTERVAL_MS,
  type DnsContext,
  publishChallenges,
  type PublishedChallenges,
} from "./challenges.ts";
import { waitForTxt } from "./propagation.ts";
import type { ServerAddress } from "./types.ts";
import { createTransport } from "./exchange.ts";
import { parseTsigKey } from "./tsig_key.ts";

/** What dns-check needs: the key as a TSIG Secret holds it, the domain, and optionally the update server. */
export interface DnsCheckInput {
  keyText: string;
  /** Where the key came from, for messages (e.g. "file key.txt"). */
  keySource: string;
  /** The certificate identifier to test, e.g. "www.example.com" or "*.example.com". */
  domain: string;
  /** The server that receives updates; absent means the zone's primary. */
  nameserver?: ServerAddress;
  ctx: DnsContext;
  /** Interrupts the check (SIGINT, SIGTERM); the probe record is removed all the same. */
  signal?: AbortSignal;
}

function probeValue(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `notariat-dns-check-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Turns the DNS module's progress events into lines with the time since the previous step. */
function stepPrinter(print: (line: string) => void): { step(text: string): void; log: DnsContext["log"] } {
  let last = performance.now();
  const step = (text: string) => {
    const now = performance.now();
    print(`  ${text} (${Math.round(now - last)} ms)`);
    last = now;
  };
  const log = (message: string, fields: Record<string, unknown>) => {
    switch (message) {
      case "dns CNAME followed":
        return step(`CNAME ${(fields.chain as string[]).join(" -> ")}`);
      case "dns zone found":
        return step(
          `zone ${fields.zone} holds ${fields.owner}; primary ${fields.primary}; updates go to ${fields.server}`,
        );
      case "dns TXT values added":
        return step(`added the probe TXT in zone ${fields.zone} at ${fields.server}`);
      case "dns TXT values deleted":
        return step(`deleted the probe TXT from zone ${fields.zone} at ${fields.server}`);
      case "dns TXT values propagated":
        return step(`served by ${(fields.servers as string[]).join(", ")}`);
      default:
        return step(`${message} ${JSON.stringify(fields)}`);
    }
  };
  return { step, log };
}

/**
 * Adds a unique probe TXT at `_acme-challenge.<domain>`, confirms it is served, deletes it and confirms it is
 * gone, printing each step with its timing. Returns false, with the reason printed, on the first failure;
 * the probe is removed whenever it was added.
 */
export async function runDnsCheck(input: DnsCheckInput, print: (line: string) => void): Promise<boolean> {
  const started = performance.now();
  const printer = stepPrinter(print);
  let published: PublishedChallenges | undefined;
  try {
    const key = parseTsigKey(input.keyText, input.keySource);
    print(
      `dns-check for ${input.domain} with key '${key.name}' (${key.algorithm})` +
        (input.nameserver ? ` via nameserver ${formatServer(input.nameserver)}` : ""),
    );
    const ctx: DnsContext = { ...input.ctx, log: printer.log };
    const value = probeValue();
    published = await publishChallenges(
      [{ domain: input.domain, value }],
      {
        key,
        nameserver: input.nameserver,
      },
      ctx,
      input.signal,
    );
    const [record] = published.records;
    const where = { server: record.server, owner: record.owner, values: [value] };
    const transport = createTransport({ timeoutMs: ctx.timeoutMs });
    const poll = {
      timeoutMs: ctx.propagationTimeoutMs,
      intervalMs: ctx.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
      signal: input.signal,
    };
    await waitForTxt(transport, [where], { ...poll, present: true });
    printer.step(`${formatServer(record.server)} serves TXT "${value}" at ${record.owner}`);
    const removing = published;
    published = undefined;
    await removing.remove();
    await waitForTxt(transport, [where], { ...poll, present: false });
    printer.step(`${formatServer(record.server)} no longer serves it`);
    const totalMs = Math.round(performance.now() - started);
    print(`OK: ${record.owner} in zone ${record.zone} can be updated (${totalMs} ms)`);
    return true;
  } catch (err) {
    print(`FAILED: ${errorMessage(err)}`);
    if (published !== undefined) {
      await published.remove().catch((cleanup) =>
        print(`FAILED to delete the probe: ${errorMessage(cleanup)}`)
      );
    }
    return false;
  }
}
