/**
 * `notariat status`: one line per configured entry, as cert-manager users get from `kubectl get
 * certificates` and `cmctl status`. The state is judged by the same policy the controller uses (from the
 * Secret itself); the last reason and message come from the latest Event about the entry, else the policy.
 */
import { formatProblem, parseCertificatesConfig } from "../config/parse.ts";
import { type CertificateSpec, DEFAULT_CHALLENGE, formatRef } from "../config/types.ts";
import { errorMessage } from "../errors.ts";
import type { Kube, KubeEvent, KubeSecret } from "../kube/types.ts";
import { inspectSecret } from "./inspect.ts";
import { decide } from "./policy.ts";

/** What an entry looks like now. */
export interface EntryStatus {
  secret: string;
  domains: string[];
  /** The ACME challenge type the entry is validated with. */
  challenge: string;
  /** Ready: a valid certificate in place; Renewing: due and not failed (yet); Failed; Invalid: bad entry. */
  state: "Ready" | "Renewing" | "Failed" | "Invalid";
  notAfter?: Date;
  renewAt?: Date;
  reason: string;
  message: string;
}

/** The latest Event about the entry of `secret` (Events name it as `(secret ns/name)`). */
export function latestEventFor(secret: string, events: readonly KubeEvent[]): KubeEvent | undefined {
  const tag = `(secret ${secret}):`;
  return events.filter((e) => e.message.includes(tag))
    .sort((a, b) => a.lastTimestamp.getTime() - b.lastTimestamp.getTime())
    .at(-1);
}

/** The part of an Event message after the entry label. */
function eventText(event: KubeEvent): string {
  const at = event.message.indexOf("): ");
  return at < 0 ? event.message : event.message.slice(at + 3);
}

/** The status of one valid entry from its Secret (or its absence, or the error reading it) and the Events. */
export async function entryStatus(
  spec: CertificateSpec,
  secret: KubeSecret | undefined | Error,
  events: readonly KubeEvent[],
  now: Date,
  renewBeforeMs: number,
): Promise<EntryStatus> {
  const ref = formatRef(spec.secret);
  const base = { secret: ref, domains: spec.domains, challenge: spec.challenge ?? DEFAULT_CHALLENGE };
  const event = latestEventFor(ref, events);
  const last = event === undefined ? undefined : { reason: event.reason, message: eventText(event) };
  if (secret instanceof Error) {
    return { ...base, state: "Failed", reason: "ReadFailed", message: errorMessage(secret) };
  }
  const input = await inspectSecret(secret, spec.domains, now, renewBeforeMs, spec.keyType);
  const decision = decide(input);
  const validity = { notAfter: input.certificate?.notAfter };
  if (decision.action === "renew-later") {
    return {
      ...base,
      ...validity,
      state: "Ready",
      renewAt: decision.renewAt,
      reason: last?.reason ?? decision.reason,
      message: last?.message ?? decision.message,
    };
  }
  const failed = decision.action === "refuse" || event?.reason === "Failed";
  return {
    ...base,
    ...validity,
    state: failed ? "Failed" : "Renewing",
    renewAt: failed ? undefined : now,
    reason: last?.reason ?? decision.reason,
    message: last?.message ?? decision.message,
  };
}

const date = (d: Date | undefined) => d === undefined ? "-" : d.toISOString().replace(/\.\d{3}Z$/, "Z");

/** The table: a header, then one line per entry, columns padded; the message is last and not padded. */
export function formatStatusTable(rows: readonly EntryStatus[]): string {
  const header = [
    "SECRET",
    "DOMAINS",
    "CHALLENGE",
    "STATE",
    "NOT AFTER",
    "NEXT RENEWAL",
    "REASON",
    "MESSAGE",
  ];
  const cells = rows.map((r) => [
    r.secret,
    r.domains.join(",") || "-",
    r.challenge,
    r.state,
    date(r.notAfter),
    date(r.renewAt),
    r.reason,
    r.message.replaceAll("\n", " "),
  ]);
  const all = [header, ...cells];
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i].length)));
  return all.map((row) =>
    row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i])).join("  ").trimEnd()
  ).join("\n") + "\n";
}

/**
 * Reads the ConfigMap, each entry's Secret and the Events on the ConfigMap, and returns one status per
 * entry in the ConfigMap's order (invalid entries as Invalid, with the problem). Throws when the ConfigMap
 * cannot be read.
 */
export async function readStatus(
  kube: Kube,
  config: string,
  now: Date,
  renewBeforeMs: number,
): Promise<EntryStatus[]> {
  const configMap = await kube.readConfigMap(kube.namespace, config);
  if (configMap === undefined) throw new Error(`ConfigMap ${kube.namespace}/${config} does not exist`);
  const parsed = parseCertificatesConfig(configMap.data, kube.namespace);
  const events = await kube.listEvents(kube.namespace, { kind: "ConfigMap", name: config }).catch(() => []);
  const rows: { index: number; status: EntryStatus }[] = [];
  for (const problem of parsed.problems) {
    rows.push({
      index: problem.index ?? -1,
      status: {
        secret: problem.secret ?? (problem.index === undefined ? "-" : `certificates[${problem.index}]`),
        domains: [],
        challenge: "-",
        state: "Invalid",
        reason: "InvalidConfig",
        message: formatProblem(problem),
      },
    });
  }
  for (const spec of parsed.specs) {
    const secret = await kube.readSecret(spec.secret.namespace, spec.secret.name).catch((err) =>
      err instanceof Error ? err : new Error(String(err))
    );
    rows.push({ index: spec.index, status: await entryStatus(spec, secret, events, now, renewBeforeMs) });
  }
  return rows.sort((a, b) => a.index - b.index).map((row) => row.status);
}
