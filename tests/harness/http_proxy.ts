/**
 * A real HTTP proxy (tinyproxy from Debian, fetched once by scripts/install-tinyproxy.sh) on 127.0.0.1, for
 * clients configured with a proxy URL: HTTPS goes through it as CONNECT tunnels, which its log records.
 */
import { freePort } from "./ports.ts";
import {
  isRunning,
  killedWithTestProcess,
  makeStateDir,
  removeStateDir,
  type Service,
  spawnService,
  waitUntilReady,
} from "./process.ts";

/** A running proxy. */
export interface HttpProxyHandle {
  /** http://127.0.0.1:PORT */
  url: string;
  /** How many CONNECT tunnels it opened to `target` (host:port) so far, from its log. */
  tunnels(target: string): number;
  stop(): Promise<void>;
}

async function tinyproxyBinary(): Promise<string> {
  const script = new URL("../../scripts/install-tinyproxy.sh", import.meta.url).pathname;
  const out = await new Deno.Command("bash", { args: [script], stdout: "piped", stderr: "inherit" }).output();
  if (!out.success) throw new Error("scripts/install-tinyproxy.sh failed");
  return new TextDecoder().decode(out.stdout).trim();
}

/** Starts tinyproxy on a free port, allowing clients from 127.0.0.1 only and CONNECT to any port. */
export async function startHttpProxy(): Promise<HttpProxyHandle> {
  const binary = await tinyproxyBinary();
  const stateDir = makeStateDir("proxy");
  const port = freePort();
  const log = `${stateDir}/tinyproxy.log`;
  Deno.writeTextFileSync(
    `${stateDir}/tinyproxy.conf`,
    [
      `Port ${port}`,
      "Listen 127.0.0.1",
      "Timeout 600",
      `LogFile "${log}"`,
      "LogLevel Connect",
      "MaxClients 100",
      "Allow 127.0.0.1",
    ].join("\n") + "\n",
  );
  let service: Service | undefined;
  try {
    service = spawnService(
      "tinyproxy",
      stateDir,
      ...killedWithTestProcess(binary, ["-d", "-c", `${stateDir}/tinyproxy.conf`]),
    );
    await waitUntilReady(service, async () => {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        return true;
      } catch {
        return false;
      }
    }, 10_000);
  } catch (err) {
    await service?.stop();
    removeStateDir(stateDir);
    throw err;
  }
  const running = service;
  return {
    url: `http://127.0.0.1:${port}`,
    tunnels(target) {
      let text = "";
      try {
        text = Deno.readTextFileSync(log);
      } catch {
        // nothing logged yet
      }
      return text.split("\n").filter((line) => line.includes(`CONNECT ${target} `)).length;
    },
    async stop() {
      if (isRunning(running.pid)) await running.stop();
      removeStateDir(stateDir);
    },
  };
}
