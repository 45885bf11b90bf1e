/** Assertions the ACME tests share: how an issuance fails, and the CA problem documents a proxy injects. */
import assert from "node:assert/strict";
import { NotariatError } from "../../src/errors.ts";

/** An RFC 8555 problem document of `urn:ietf:params:acme:error:<type>`, as a response body. */
export function problem(type: string, detail: string, status: number): string {
  return JSON.stringify({ type: `urn:ietf:params:acme:error:${type}`, detail, status });
}

/** `text` as a literal inside a RegExp. */
export function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The NotariatError `promise` rejects with; fails the test when it resolves or throws anything else. */
export async function rejection(promise: Promise<unknown>): Promise<NotariatError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof NotariatError, `a NotariatError, got ${err}`);
    return err;
  }
  assert.fail("expected the issuance to fail");
}

/**
 * pebble 2.10 finalizes an order in a goroutine and indexes it by certificate serial only afterwards, so a
 * `replaces` naming a certificate just downloaded can meet this 500 (a defect of the test CA; Boulder has no
 * such window). notariat then orders once more without `replaces`, as for any refusal of it.
 */
export const PEBBLE_ORDER_INDEX_RACE =
  "could not find order resulting in the given certificate serial number";

/** Whether an order was placed with `replaces: certId`, or pebble's index race made notariat drop it. */
export function sentReplaces(
  logs: { message: string; fields: Record<string, unknown> }[],
  certId: string,
): boolean {
  return logs.some((l) =>
    (l.message === "ACME order created" && l.fields.replaces === certId) ||
    (l.message.includes("refused replaces") && l.fields.replaces === certId &&
      String(l.fields.problem).includes(PEBBLE_ORDER_INDEX_RACE))
  );
}
