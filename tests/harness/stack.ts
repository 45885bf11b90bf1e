/** The whole local stack notariat runs against: kube-apiserver + etcd, Knot, and pebble validating against Knot. */
import {
  type DnsServerHandle,
  type ForwarderHandle,
  startBind,
  startForwarder,
  startKnot,
} from "./dns_servers.ts";
import { type KubeHandle, type KubeOptions, startKube } from "./kube.ts";
import { type PebbleHandle, startPebble } from "./pebble.ts";

/** The three servers (and the forwarder, when asked for); `stop` stops them all (each by its own PID). */
export interface Stack {
  cluster: KubeHandle;
  knot: DnsServerHandle;
  pebble: PebbleHandle;
  /** The resolver pebble validates through, when `followCnames` was set. */
  forwarder?: ForwarderHandle;
  stop(): Promise<void>;
}

/** What the stack needs beyond the defaults. */
export interface StackOptions {
  kube?: KubeOptions;
  /**
   * Put a CNAME-following resolver between pebble and Knot, so pebble validates CNAME-delegated challenge
   * names (pebble's own resolver does not follow a CNAME into another zone).
   */
  followCnames?: boolean;
  /** BIND in Knot's place (the handle is still called `knot`): for benchmarks that compare the two. */
  bind?: boolean;
  /** Which pebble (see startPebble); Debian 12's 2.4 by default. */
  pebbleVersion?: "2.4" | "2.10";
}

/** Starts the stack; when one server fails to start, the ones already started are stopped again. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const [cluster, knot] = await Promise.all([
    startKube(options.kube),
    options.bind ? startBind() : startKnot(),
  ]);
  let forwarder: ForwarderHandle | undefined;
  try {
    if (options.followCnames) forwarder = await startForwarder(knot.address);
    const pebble = await startPebble({
      dnsServer: forwarder?.address ?? knot.address,
      version: options.pebbleVersion,
    });
    return {
      cluster,
      knot,
      pebble,
      forwarder,
      stop: async () => {
        await Promise.all([cluster.stop(), knot.stop(), pebble.stop(), forwarder?.stop()]);
      },
    };
  } catch (err) {
    await Promise.all([cluster.stop(), knot.stop(), forwarder?.stop()]);
    throw err;
  }
}
