import assert from "node:assert/strict";
import { createProbeTracker } from "../../src/controller/probe.ts";

const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1) + seconds * 1000);

Deno.test("ready only after the first successful read of the ConfigMap", () => {
  const probe = createProbeTracker({ leaderElection: false });
  assert.deepEqual(probe.ready(at(0)), { ok: false, reason: "the ConfigMap has not been read yet" });
  probe.tick(at(1));
  assert.equal(probe.ready(at(1)).ok, false);
  probe.configLoaded(at(2));
  assert.equal(probe.ready(at(2)).ok, true);
});

Deno.test("with leader election, a standby is ready and a leader only once it read the ConfigMap", () => {
  const probe = createProbeTracker({ leaderElection: true });
  assert.match(probe.ready(at(0)).reason, /leader election has not decided/);
  probe.leadership("standby");
  assert.deepEqual(probe.ready(at(1)), { ok: true, reason: "ok: standing by" });
  probe.leadership("leader");
  assert.equal(probe.ready(at(2)).ok, false);
  probe.configLoaded(at(3));
  assert.deepEqual(probe.ready(at(3)), { ok: true, reason: "ok: leading" });
});

Deno.test("live fails when the loop stopped ticking for longer than the limit", () => {
  const probe = createProbeTracker({ leaderElection: false, stuckAfterMs: 60_000 });
  assert.equal(probe.live(at(0)).ok, true, "before the loop starts there is nothing to be stuck");
  probe.tick(at(0));
  assert.equal(probe.live(at(60)).ok, true);
  assert.deepEqual(probe.live(at(61)), { ok: false, reason: "the control loop has not run for 61 s" });
  probe.tick(at(61));
  assert.equal(probe.live(at(62)).ok, true);
});

Deno.test("live fails while the watches are known dead, and recovers with them", () => {
  const probe = createProbeTracker({ leaderElection: false });
  probe.tick(at(0));
  probe.watchesHealthy(false);
  assert.deepEqual(probe.live(at(1)), { ok: false, reason: "the watches are dead" });
  probe.watchesHealthy(true);
  assert.equal(probe.live(at(2)).ok, true);
});

Deno.test("a standby's liveness does not depend on the ticks of a loop it no longer runs", () => {
  const probe = createProbeTracker({ leaderElection: true, stuckAfterMs: 60_000 });
  probe.leadership("leader");
  probe.tick(at(0));
  probe.leadership("standby");
  assert.equal(probe.live(at(600)).ok, true);
});
