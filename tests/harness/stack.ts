/** The whole local stack notariat runs against: kube-apiserver + etcd, Knot, and pebble validating against Knot. */
import { type DnsServerHandle, startKnot } from "./dns_servers.ts";
import { type KubeHandle, type KubeOptions, startKube } from "./kube.ts";
import { type PebbleHandle, startPebble } from "./pebble.ts";

/** The three servers; `stop` stops them all (each by its own PID). */
export interface Stack {
  cluster: KubeHandle;
  knot: DnsServerHandle;
  pebble: PebbleHandle;
  stop(): Promise<void>;
}

/** Starts the stack; when one server fails to start, the ones already started are stopped again. */
export async function startStack(options: { kube?: KubeOptions } = {}): Promise<Stack> {
  const [cluster, knot] = await Promise.all([startKube(options.kube), startKnot()]);
  const pebble = await startPebble({ dnsServer: knot.address }).catch(async (err) => {
    await Promise.all([cluster.stop(), knot.stop()]);
    throw err;
  });
  return {
    cluster,
    knot,
    pebble,
    stop: async () => {
      await Promise.all([cluster.stop(), knot.stop(), pebble.stop()]);
    },
  };
}
