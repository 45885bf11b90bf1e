import assert from "node:assert/strict";
import { microTime } from "../../src/kube/lease.ts";

Deno.test("a Lease's times are written as MicroTime: six fractional digits", () => {
  assert.equal(microTime(new Date("2026-12-02T00:15:42.123Z")), "2026-12-02T00:15:42.123000Z");
  assert.equal(microTime(new Date("2026-12-02T00:15:42Z")), "2026-12-02T00:15:42.000000Z");
});
