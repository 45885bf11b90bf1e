/**
 * Waiting until authoritative servers serve (or no longer serve) TXT values, by polling them: the CA looks as
 * soon as it is told to, so the values must be visible everywhere it might ask first.
 */
import { errorMessage, NotariatError } from "../errors.ts";
import { checkStopped, sleep, untilStopped } from "../stop.ts";
import { formatServer } from "./address.ts";
import { query } from "./query.ts";
import type { Transport } from "./exchange.ts";
import type { ServerAddress } from "./types.ts";
import { canonicalName, Rcode, rcodeName, RecordType } from "./wire.ts";

/** One server that must serve (or stop serving) some values at one owner name. */
export interface TxtExpectation {
  server: ServerAddress;
  owner: string;
  values: string[];
}

/** How to poll. `present: false` waits for the values to disappear. */
export interface PollOptions {
  timeoutMs: number;
  intervalMs: number;
  present: boolean;
  /** Ends the wait with a "stopped" error (notariat is shutting down). */
  signal?: AbortSignal;
}

/** The TXT values `server` serves authoritatively at `owner` (each record's strings joined). */
export async function servedTxt(
  transport: Transport,
  server: ServerAddress,
  owner: string,
): Promise<string[]> {
  const answer = await query(transport, server, owner, RecordType.TXT, { recursionDesired: false });
  if (answer.header.rcode !== Rcode.NOERROR && answer.header.rcode !== Rcode.NXDOMAIN) {
    throw new NotariatError(
      "dns",
      `server ${formatServer(server)} answered ${rcodeName(answer.header.rcode)} to query ${owner} TXT`,
    );
  }
  return answer.answers.flatMap((rr) =>
    rr.type === RecordType.TXT && rr.data.kind === "txt" && canonicalName(rr.name) === canonicalName(owner)
      ? [rr.data.strings.join("")]
      : []
  );
}

/** The values of `e` that are not yet in the state asked for, given what the server serves. */
function pendingValues(e: TxtExpectation, served: string[], present: boolean): string[] {
  return e.values.filter((v) => served.includes(v) !== present);
}

/**
 * Polls every expectation until each server serves every value (or none of them), checking at once and then
 * every `intervalMs`. Throws NotariatError kind "dns" on timeout, naming each server and what it still lacks
 * (or still has), with the last query error if there was one.
 */
export async function waitForTxt(
  transport: Transport,
  expectations: TxtExpectation[],
  options: PollOptions,
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let pending = expectations.map((e) => ({ e, missing: e.values, error: undefined as string | undefined }));
  const what = options.present
    ? "waiting for the TXT values to be served"
    : "waiting for the TXT values to go";
  for (;;) {
    checkStopped(options.signal, what);
    pending = await untilStopped(
      Promise.all(pending.map(async (p) => {
        try {
          const served = await servedTxt(transport, p.e.server, p.e.owner);
          return { ...p, missing: pendingValues(p.e, served, options.present), error: undefined };
        } catch (err) {
          return { ...p, error: errorMessage(err) };
        }
      })),
      options.signal,
      what,
    );
    pending = pending.filter((p) => p.missing.length > 0 || p.error !== undefined);
    if (pending.length === 0) return;
    const left = deadline - Date.now();
    if (left <= 0) break;
    await sleep(Math.min(options.intervalMs, left), options.signal, what);
  }
  const state = options.present ? "does not serve" : "still serves";
  const details = pending.map((p) => {
    const values = p.missing.map((v) => `"${v}"`).join(", ");
    const lastError = p.error === undefined ? "" : ` (last query failed: ${p.error})`;
    return `server ${formatServer(p.e.server)} ${state} TXT ${values} at ${p.e.owner}${lastError}`;
  });
  const step = options.present ? "propagation" : "removal";
  throw new NotariatError("dns", `${step} not seen after ${options.timeoutMs} ms: ${details.join("; ")}`);
}
