/**
 * Runs the real servers the tests need: each in its own fresh state directory, with its output kept in a log
 * file there (shown when it fails to start), and stopped by its own PID.
 */
export interface Service {
  readonly name: string;
  readonly pid: number;
  readonly stateDir: string;
  readonly logFile: string;
  /** Sends SIGTERM, waits for exit (SIGKILL after 5 s). Idempotent. */
  stop(): Promise<void>;
  /** The tail of the service's log, for error messages. */
  logTail(lines?: number): string;
}

/** A fresh state directory under the system temp dir, removed by `removeStateDir`. */
export function makeStateDir(name: string): string {
  return Deno.makeTempDirSync({ prefix: `notariat-${name}-` });
}

export function removeStateDir(dir: string): void {
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch {
    // already gone
  }
}

/** Starts `command args` with output to `<stateDir>/<name>.log`. */
export function spawnService(
  name: string,
  stateDir: string,
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Service {
  const logFile = `${stateDir}/${name}.log`;
  const log = Deno.openSync(logFile, { write: true, create: true, append: true });
  const child = new Deno.Command(command, {
    args,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Copy output to the log file; the streams end when the process exits.
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) log.writeSync(chunk);
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]).catch(() => {});
  let stopped: Promise<void> | undefined;
  return {
    name,
    pid: child.pid,
    stateDir,
    logFile,
    stop() {
      stopped ??= (async () => {
        try {
          child.kill("SIGTERM");
        } catch {
          // already exited
        }
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch {
            // exited meanwhile
          }
        }, 5000);
        await child.status;
        clearTimeout(timer);
        await pumps;
        log.close();
      })();
      return stopped;
    },
    logTail(lines = 30) {
      try {
        return Deno.readTextFileSync(logFile).split("\n").slice(-lines).join("\n");
      } catch {
        return "";
      }
    },
  };
}

/** Polls `ready` until it returns true or `timeoutMs` passes; then fails with the service's log tail. */
export async function waitUntil(
  service: Service,
  ready: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ready().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `${service.name} (pid ${service.pid}) not ready after ${timeoutMs} ms:\n${service.logTail()}`,
  );
}

/** Runs a command to completion and returns its stdout; throws with stderr when it fails. */
export async function run(
  command: string,
  args: string[],
  options: { stdin?: string } = {},
): Promise<string> {
  const child = new Deno.Command(command, {
    args,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const out = await child.output();
  const text = new TextDecoder();
  if (!out.success) {
    throw new Error(`${command} ${args.join(" ")} failed (${out.code}): ${text.decode(out.stderr)}`);
  }
  return text.decode(out.stdout);
}

/** Whether `pid` is a live process (not gone, not a zombie waiting to be reaped). Linux only: reads /proc. */
export function isRunning(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Field 3 (after the parenthesised command name) is the state; Z and X are exited processes.
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Like `waitUntil`, but fails at once, with the log tail, when the service exits before it is ready. */
export async function waitUntilReady(
  service: Service,
  ready: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  await waitUntil(service, async () => !isRunning(service.pid) || await ready(), timeoutMs);
  if (!isRunning(service.pid)) {
    throw new Error(`${service.name} (pid ${service.pid}) exited before it was ready:\n${service.logTail()}`);
  }
}

/**
 * `command args` wrapped in util-linux's setpriv so the kernel sends SIGKILL to the server when the test
 * process dies (killed, crashed, or a test that never called stop), instead of leaving it running. setpriv
 * execs the command, so the PID stays the server's.
 */
export function killedWithTestProcess(command: string, args: string[]): [string, string[]] {
  return ["setpriv", ["--pdeathsig", "SIGKILL", "--", command, ...args]];
}
