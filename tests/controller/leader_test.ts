import assert from "node:assert/strict";
import {
  leadershipLost,
  LEASE_DURATION_MS,
  nextStep,
  observe,
  releasedLease,
  RENEW_DEADLINE_MS,
} from "../../src/controller/leader.ts";
import type { KubeLease } from "../../src/kube/types.ts";

const where = { namespace: "notariat", name: "notariat-leader" };
const T0 = Date.UTC(2026, 0, 1);
const held = (holder: string, renewedAt: number, transitions = 0): KubeLease => ({
  ...where,
  resourceVersion: "7",
  holderIdentity: holder,
  leaseDurationSeconds: 15,
  acquireTime: new Date(T0),
  renewTime: new Date(renewedAt),
  leaseTransitions: transitions,
});

Deno.test("controller-runtime's timings: 15 s lease, 10 s renew deadline", () => {
  assert.equal(LEASE_DURATION_MS, 15_000);
  assert.equal(RENEW_DEADLINE_MS, 10_000);
});

Deno.test("a missing Lease is created, held by the candidate", () => {
  const step = nextStep("a", where, undefined, T0);
  assert.equal(step.action, "create");
  if (step.action !== "create") return;
  assert.equal(step.lease.holderIdentity, "a");
  assert.equal(step.lease.leaseDurationSeconds, 15);
  assert.equal(step.lease.leaseTransitions, 0);
});

Deno.test("another holder's Lease is waited for until it went unrenewed for the lease duration", () => {
  let seen = observe(undefined, held("b", T0), T0);
  assert.deepEqual(nextStep("a", where, seen, T0 + 14_999), {
    action: "wait",
    holder: "b",
    expiresAt: T0 + 15_000,
  });
  // Re-reading the same record does not restart the clock...
  seen = observe(seen, held("b", T0), T0 + 10_000);
  assert.equal(nextStep("a", where, seen, T0 + 15_000).action, "take");
  // ...a renewal does.
  seen = observe(seen, held("b", T0 + 12_000), T0 + 12_000);
  assert.equal(nextStep("a", where, seen, T0 + 20_000).action, "wait");
});

Deno.test("expiry is judged on the candidate's clock, not on the holder's timestamps", () => {
  // The holder's clock is an hour behind: its renewTime looks ancient, but it was seen renewing just now.
  const seen = observe(undefined, held("b", T0 - 3_600_000), T0);
  assert.equal(nextStep("a", where, seen, T0 + 1000).action, "wait");
});

Deno.test("taking over counts a transition and keeps the version for the conditional replace", () => {
  const seen = observe(undefined, held("b", T0, 3), T0);
  const step = nextStep("a", where, seen, T0 + 16_000);
  assert.equal(step.action, "take");
  if (step.action !== "take") return;
  assert.equal(step.lease.holderIdentity, "a");
  assert.equal(step.lease.leaseTransitions, 4);
  assert.equal(step.lease.resourceVersion, "7");
  assert.equal(step.lease.acquireTime?.getTime(), T0 + 16_000);
});

Deno.test("the holder renews its own Lease without a transition", () => {
  const seen = observe(undefined, held("a", T0, 2), T0);
  const step = nextStep("a", where, seen, T0 + 2000);
  assert.equal(step.action, "renew");
  if (step.action !== "renew") return;
  assert.equal(step.lease.leaseTransitions, 2);
  assert.equal(step.lease.acquireTime?.getTime(), T0);
  assert.equal(step.lease.renewTime?.getTime(), T0 + 2000);
});

Deno.test("a released Lease is taken at once", () => {
  const released = releasedLease(held("b", T0), T0 + 1000);
  assert.equal(released.holderIdentity, "");
  assert.equal(released.leaseDurationSeconds, 1);
  const seen = observe(undefined, released, T0 + 1000);
  assert.equal(nextStep("a", where, seen, T0 + 1000).action, "take");
});

Deno.test("a leader that could not renew for longer than the renew deadline stops leading", () => {
  assert.equal(leadershipLost(T0, T0 + 10_000), false);
  assert.equal(leadershipLost(T0, T0 + 10_001), true);
});
