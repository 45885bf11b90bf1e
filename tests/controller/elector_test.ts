/**
 * Leader election against a real kube-apiserver: two candidates on one Lease. One candidate's Lease calls are
 * cut off (a network partition of that client alone, which no real server can stage): it stops leading after
 * the renew deadline, and the other takes over once the Lease went unrenewed for the lease duration.
 */
import assert from "node:assert/strict";
import { startLeaderElection } from "../../src/controller/elector.ts";
import type { Leadership } from "../../src/controller/probe.ts";
import { createKube } from "../../src/kube/client.ts";
import { type Kube, KubeError } from "../../src/kube/types.ts";
import { createLogger } from "../../src/observe/log.ts";
import { waitFor } from "../harness/cluster_objects.ts";
import { startKube } from "../harness/kube.ts";

Deno.test("a leader cut off from the API server stops leading; the standby takes over; release hands over", async () => {
  const cluster = await startKube();
  const kubes: Kube[] = [];
  try {
    const connect = async () => {
      const kube = await createKube({ kubeconfig: cluster.adminKubeconfig });
      kubes.push(kube);
      return kube;
    };
    let partitioned = false;
    const real = await connect();
    const cut = <T>(call: () => Promise<T>) =>
      partitioned ? Promise.reject(new KubeError(0, "connection refused (partition)")) : call();
    const partitionable: Kube = {
      ...real,
      readLease: (ns, name) => cut(() => real.readLease(ns, name)),
      createLease: (lease) => cut(() => real.createLease(lease)),
      replaceLease: (lease) => cut(() => real.replaceLease(lease)),
    };
    const logger = createLogger({ format: "json", write: () => {} });
    const states: Record<string, Leadership[]> = { a: [], b: [] };
    const stop = new AbortController();
    const candidate = (kube: Kube, identity: string) =>
      startLeaderElection({
        kube,
        namespace: "default",
        name: "notariat-leader",
        identity,
        logger,
        signal: stop.signal,
        onLeadership: (state) => states[identity].push(state),
      });
    const a = candidate(partitionable, "a");
    assert.equal(await a.acquired, true);
    const b = candidate(await connect(), "b");
    await waitFor("b to stand by", () => Promise.resolve(states.b.includes("standby") || undefined));

    partitioned = true;
    await waitFor("a to lose leadership", () => Promise.resolve(a.lost.aborted || undefined), 30_000);
    assert.equal(await b.acquired, true);
    const lease = await real.readLease("default", "notariat-leader");
    assert.equal(lease?.holderIdentity, "b");
    assert.equal(lease?.leaseTransitions, 1);
    assert.deepEqual(states, { a: ["leader"], b: ["standby", "leader"] });

    await a.release();
    await b.release();
    const released = await real.readLease("default", "notariat-leader");
    assert.equal(released?.holderIdentity, "", "b handed the Lease back");
    stop.abort();
  } finally {
    for (const kube of kubes) await kube.close();
    await cluster.stop();
  }
});
