/** The assertion the name and address tests share: a call that must fail as bad configuration. */
import assert from "node:assert/strict";
import { NotariatError } from "../../src/errors.ts";

/** Asserts that `fn` throws a NotariatError of kind "config" with exactly `message`. */
export function configError(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof NotariatError);
    assert.equal(err.kind, "config");
    assert.equal(err.message, message);
    return true;
  }, message);
}
