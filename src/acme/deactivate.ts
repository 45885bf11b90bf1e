/**
 * Giving back what a failed issuance leaves at the CA. An order that will never be finalized keeps its
 * pending authorizations for days, and CAs cap them per account (Let's Encrypt: 300): a controller retrying a
 * broken entry would pile them up until every entry of the account is refused.
 */
import { errorMessage } from "../errors.ts";
import type { AcmeSession } from "./client.ts";
import { expectJsonObject, expectStatus } from "./problem.ts";

/** What was done to one authorization of a failed order. */
export type DeactivationOutcome = "deactivated" | "not pending" | "failed";

/**
 * Deactivates each authorization in `urls` that is still pending (RFC 8555 section 7.5.2). Best effort: it
 * never throws, and each failure is only logged, because it must not hide the error that failed the issuance.
 * Valid authorizations are kept: the CA may reuse them for the next order.
 */
export async function deactivatePendingAuthorizations(
  session: AcmeSession,
  urls: readonly string[],
  log: (message: string, fields?: Record<string, unknown>) => void,
): Promise<DeactivationOutcome[]> {
  return await Promise.all(urls.map(async (url): Promise<DeactivationOutcome> => {
    try {
      const what = `fetching the authorization ${url}`;
      const fetched = await session.post(url, null);
      expectStatus(what, fetched, [200]);
      const { status } = expectJsonObject(what, fetched, ["status"]) as { status: unknown };
      if (status !== "pending") return "not pending";
      const answered = await session.post(url, { status: "deactivated" });
      expectStatus(`deactivating the authorization ${url}`, answered, [200]);
      log("ACME authorization deactivated", { authorization: url });
      return "deactivated";
    } catch (err) {
      log("deactivating an ACME authorization failed", { authorization: url, error: errorMessage(err) });
      return "failed";
    }
  }));
}
