import { formatRef } from "../config/types.ts";
import type { EventRecorder } from "../observe/events.ts";
import type { Logger } from "../observe/log.ts";
import { entryLabel, type Outcome } from "./reconcile.ts";

/** The one place where what happened is told: log lines and Kubernetes Events (and later, metrics). */
export interface OutcomeRecorder {
  outcome(outcome: Outcome): Promise<void>;
  /** An entry (or the whole list) of the ConfigMap is invalid; `text` is formatProblem's line. */
  invalidConfig(text: string): Promise<void>;
}

/** Records outcomes to `logger` and, unless `events` is undefined (dry run), as Events on the ConfigMap. */
export function createOutcomeRecorder(logger: Logger, events: EventRecorder | undefined): OutcomeRecorder {
  return {
    async outcome(o) {
      const fields = {
        entry: `certificates[${o.spec.index}]`,
        secret: formatRef(o.spec.secret),
        domains: o.spec.domains,
        challenge: o.challenge,
        reason: o.reason,
        duration: `${(o.durationMs / 1000).toFixed(3)}s`,
        renew_at: o.renewAt,
      };
      const eventMessage = `${entryLabel(o.spec)}: ${o.reason}: ${o.message}`;
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
          logger.error("certificate failed", { ...fields, error: o.message });
          await events?.record("Warning", "Failed", eventMessage);
          return;
      }
    },
    async invalidConfig(text) {
      logger.error("invalid configuration, entry skipped", { error: text });
      await events?.record("Warning", "InvalidConfig", text);
    },
  };
}
