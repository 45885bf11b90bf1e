/** The notariat program as users run it: `deno run main.ts`, with the permissions `deno task dev` grants. */

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
/**
 * The flags notariat runs with (also `deno task dev`'s and the Dockerfile's `deno compile`'s): its permissions,
 * and the unstable API it uses (`Deno.listenDatagram`, for DNS over UDP).
 */
export const PERMISSIONS: readonly string[] = [
  "--unstable-net",
  "--allow-net",
  "--allow-read",
  "--allow-env",
  "--allow-sys",
];

/** The arguments after the deno executable: `run`, the permissions, main.ts, then notariat's `args`. */
export function notariatArgs(args: readonly string[]): string[] {
  return ["run", ...PERMISSIONS, MAIN, ...args];
}

/**
 * A command running notariat with `args`, Deno's update check off. `options` sets stdio and extra environment
 * (stdin defaults to null; stdout and stderr as Deno.Command has them: piped for output(), inherited for spawn()).
 */
export function notariatCommand(
  args: readonly string[],
  options: Omit<Deno.CommandOptions, "args"> = {},
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    stdin: "null",
    ...options,
    args: notariatArgs(args),
    env: { DENO_NO_UPDATE_CHECK: "1", ...options.env },
  });
}

/** Where a local stack's servers are, as `localStackFlags` needs them. */
export interface LocalStackTarget {
  kubeconfig: string;
  pebble: { directoryUrl: string; caFile: string };
  /** The DNS server, "host:port": notariat's resolver, and where propagation is checked. */
  dns: string;
}

/**
 * The flags that point notariat at a local stack: its kubeconfig, pebble and pebble's CA, the DNS server as
 * resolver, and propagation checked on the server that took the update (the zones' NS names lead nowhere).
 */
export function localStackFlags(target: LocalStackTarget): string[] {
  return [
    "-kubeconfig",
    target.kubeconfig,
    "-acme",
    target.pebble.directoryUrl,
    "-acme-ca",
    target.pebble.caFile,
    "-dns-resolver",
    target.dns,
    "-propagation-check",
    "update-server",
  ];
}
