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
