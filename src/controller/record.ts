import { formatRef } from "../config/types.ts";
import type { EventRecorder } from "../observe/events.ts";
import type { Logger } from "../observe/log.ts";
import type { CertificateState, Metrics } from "../observe/metrics.ts";
import { entryLabel, type Outcome } from "./reconcile.ts";

/**
 * cert-manager's Ready condition for an outcome: True when a valid certificate is in place; also True while
 * the renewal of a certificate that is still valid fails (as cert-manager keeps Ready while re-issuing);
 * False otherwise.
 */
export function readiness(outcome: Outcome, now: Date): CertificateState["ready"] {
  switch (outcome.result) {
    case "valid":
    case "issued":
    case "renewed":
    case "kept":
      return "True";
    case "would-issue":
      return "False";
    case "failed": {
      // The failure's reason is its error kind; what was attempted (a renewal or not) is the attempt's.
      const renewal = outcome.attempt?.reason === "Expiring" ||
        outcome.attempt?.reason === "RenewalSuggested";
      const stillValid = outcome.notAfter !== undefined && outcome.notAfter.getTime() > now.getTime();
      return renewal && stillValid ? "True" : "False";
    }
  }
}

/** The one place where what happened is told: log lines, Kubernetes Events and metrics. */
export interface OutcomeRecorder {
  outcome(outcome: Outcome): Promise<void>;
  /** An entry (or the whole list) of the ConfigMap is invalid; `text` is formatProblem's line. */
  invalidConfig(text: string): Promise<void>;
}

/**
 * Records outcomes to `logger`, to `metrics` when given, and, unless `events` is undefined (dry run), as
 * Events on the ConfigMap.
 */
export function createOutcomeRecorder(
  logger: Logger,
  events: EventRecorder | undefined,
  metrics?: Metrics,
  now: () => Date = () => new Date(),
): OutcomeRecorder {
  return {
    async outcome(o) {
      metrics?.reconciled(o.result, o.reason);
      metrics?.certificate({
        namespace: o.spec.secret.namespace,
        name: o.spec.secret.name,
        ready: readiness(o, now()),
        notBefore: o.notBefore,
        notAfter: o.notAfter,
        // When the certificate will be renewed (by ARI or the rule), not the next look at it.
        renewAt: o.renewal?.at ?? o.renewAt,
        challenge: o.challenge,
        renewalSource: o.renewal?.source,
      });
      const fields = {
        entry: `certificates[${o.spec.index}]`,
        secret: formatRef(o.spec.secret),
        domains: o.spec.domains,
        challenge: o.challenge,
        reason: o.reason,
        duration: `${(o.durationMs / 1000).toFixed(3)}s`,
        renew_at: o.renewal?.at ?? o.renewAt,
        ...(o.renewal === undefined ? {} : { renewal_source: o.renewal.source }),
        ...(o.renewAt !== undefined && o.renewal !== undefined && o.renewAt.getTime() < o.renewal.at.getTime()
          ? { next_check: o.renewAt }
          : {}),
      };
      const eventMessage = `${entryLabel(o.spec)}: ${o.reason}: ${o.message}`;
      // The failure first (an Event is cut at 1 KiB), then why the issuance was attempted, each named as such.
      const failure = o.attempt === undefined
        ? `${entryLabel(o.spec)}: failed (${o.reason}): ${o.message}`
        : `${entryLabel(o.spec)}: failed (${o.reason}): ${o.message}; ` +
          `the issuance was attempted because of ${o.attempt.reason} (${o.attempt.message})`;
      switch (o.result) {
        case "valid":
          logger.info("certificate is valid", fields);
          return;
        case "kept":
          logger.info(o.message, fields);
          return;
        case "would-issue":
          logger.info(`dry run: ${o.message}`, fields);
          return;
        case "issued":
          logger.info("certificate issued", { ...fields, detail: o.message });
          await events?.record("Normal", "Issued", eventMessage);
          return;
        case "renewed":
          logger.info("certificate renewed", { ...fields, detail: o.message });
          await events?.record("Normal", "Renewed", eventMessage);
          return;
        case "failed":
          logger.error("certificate failed", {
            ...fields,
            error: o.message,
            attempted_because: o.attempt?.reason,
          });
          await events?.record("Warning", "Failed", failure);
          return;
      }
    },
    async invalidConfig(text) {
      metrics?.configProblem();
      logger.error("invalid configuration, entry skipped", { error: text });
      await events?.record("Warning", "InvalidConfig", text);
    },
  };
}
