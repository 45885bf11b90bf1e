/**
 * Sending one DNS message and receiving its answer, over UDP or TCP, IPv4 or IPv6, with a timeout per attempt
 * and a bounded number of attempts. Only answers whose id and question match the request are accepted, so a
 * late or spoofed datagram cannot stand in for the real answer. Deno's own sockets: `Deno.connect` for TCP,
 * `Deno.listenDatagram` for UDP (still behind `--unstable-net`, which deno.json and the compiled binary carry).
 */
import { errorMessage } from "../errors.ts";
import { formatServer } from "./address.ts";
import type { ServerAddress } from "./types.ts";
import { answersRequest } from "./wire.ts";

/** The protocol of one exchange: queries use UDP (TCP after truncation), updates TCP. */
export type Protocol = "udp" | "tcp";

/** Sends DNS messages; the one dependency the query and update code needs for the network. */
export interface Transport {
  /** Sends `request` to `server` and resolves with the first answer that matches it; throws TransportError. */
  exchange(server: ServerAddress, request: Uint8Array, protocol: Protocol): Promise<Uint8Array>;
}

/** How long one attempt may take and how many attempts an exchange makes. */
export interface TransportOptions {
  timeoutMs: number;
  /** Attempts per exchange (default 2). */
  attempts?: number;
}

/** The network failed: no answer in time, connection refused or closed. The message names the server. */
export class TransportError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TransportError";
  }
}

class Timeout extends Error {}

/** The server answered, but not with a usable answer; the message completes "server X ...". */
class BadAnswer extends Error {}

/** What a UDP attempt that got no matching answer in time comes to. */
function unanswered(ignored: number, timeoutMs: number): Error {
  if (ignored === 0) return new Timeout();
  return new BadAnswer(
    "answered over UDP only with messages that are not the answer to the request (their id or question " +
      `differ; ${ignored} ignored in ${timeoutMs} ms)`,
  );
}

async function udpAttempt(
  server: ServerAddress,
  request: Uint8Array,
  timeoutMs: number,
): Promise<Uint8Array> {
  const socket = Deno.listenDatagram({
    transport: "udp",
    hostname: server.host.includes(":") ? "::" : "0.0.0.0",
    port: 0,
  });
  // Datagrams that do not answer the request are ignored (a late or spoofed one must not count), but if
  // nothing else came they are what to report: the server is reachable and answers wrongly.
  let ignored = 0;
  let timedOut = false;
  // Closing the socket ends the pending receive: that is how the timeout stops the wait.
  const timer = setTimeout(() => {
    timedOut = true;
    socket.close();
  }, timeoutMs);
  try {
    await socket.send(request, { transport: "udp", hostname: server.host, port: server.port });
    for (;;) {
      const [bytes, remote] = await socket.receive();
      if ((remote as Deno.NetAddr).port === server.port && answersRequest(request, bytes)) return bytes;
      ignored++;
    }
  } catch (err) {
    if (timedOut) throw unanswered(ignored, timeoutMs);
    throw err;
  } finally {
    clearTimeout(timer);
    if (!timedOut) socket.close();
  }
}

async function readExactly(conn: Deno.Conn, length: number): Promise<Uint8Array | undefined> {
  const buffer = new Uint8Array(length);
  let received = 0;
  while (received < length) {
    const n = await conn.read(buffer.subarray(received));
    if (n === null) return undefined;
    received += n;
  }
  return buffer;
}

async function tcpAttempt(
  server: ServerAddress,
  request: Uint8Array,
  timeoutMs: number,
): Promise<Uint8Array> {
  let conn: Deno.Conn | undefined;
  let timedOut = false;
  let expire: (err: Error) => void = () => {};
  const deadline = new Promise<never>((_, reject) => (expire = reject));
  deadline.catch(() => {});
  const timer = setTimeout(() => {
    timedOut = true;
    expire(new Timeout());
    try {
      conn?.close();
    } catch {
      // already closed
    }
  }, timeoutMs);
  const connecting = Deno.connect({ hostname: server.host, port: server.port, transport: "tcp" });
  try {
    conn = await Promise.race([connecting, deadline]);
    // RFC 1035 4.2.2: over TCP each message is preceded by its length as two bytes.
    const framed = new Uint8Array(request.length + 2);
    framed[0] = request.length >> 8;
    framed[1] = request.length & 0xff;
    framed.set(request, 2);
    const exchange = async () => {
      let written = 0;
      while (written < framed.length) written += await conn!.write(framed.subarray(written));
      const prefix = await readExactly(conn!, 2);
      if (prefix === undefined) throw new Error("the server closed the connection without an answer");
      const length = (prefix[0] << 8) | prefix[1];
      const body = await readExactly(conn!, length);
      if (body === undefined) {
        throw new BadAnswer(
          `closed the TCP connection in the middle of the answer (${length} bytes announced)`,
        );
      }
      return body;
    };
    const response = await Promise.race([exchange(), deadline]);
    if (!answersRequest(request, response)) {
      throw new BadAnswer(
        "answered over TCP with a message that is not the answer to the request (its id or question differ)",
      );
    }
    return response;
  } catch (err) {
    if (timedOut) throw new Timeout();
    throw err;
  } finally {
    clearTimeout(timer);
    connecting.then((c) => {
      try {
        c.close();
      } catch {
        // closed already
      }
    }, () => {});
  }
}

function reason(err: unknown): string {
  if (err instanceof Deno.errors.ConnectionRefused) return "connection refused";
  return errorMessage(err);
}

/** A transport over the real network with the given timeout per attempt and number of attempts. */
export function createTransport(options: TransportOptions): Transport {
  const attempts = Math.max(1, options.attempts ?? 2);
  return {
    async exchange(server, request, protocol) {
      let last: unknown;
      let badAnswer: BadAnswer | undefined;
      let timeouts = 0;
      for (let attempt = 0; attempt < attempts; attempt++) {
        try {
          return protocol === "udp"
            ? await udpAttempt(server, request, options.timeoutMs)
            : await tcpAttempt(server, request, options.timeoutMs);
        } catch (err) {
          last = err;
          if (err instanceof Timeout) timeouts++;
          if (err instanceof BadAnswer) badAnswer = err;
        }
      }
      const where = `server ${formatServer(server)}`;
      // A wrong answer says more than a silence or a refusal on another attempt.
      if (badAnswer !== undefined) {
        throw new TransportError(`${where} ${badAnswer.message} (${attempts} attempts)`, {
          cause: badAnswer,
        });
      }
      const what = timeouts === attempts
        ? `did not answer within ${options.timeoutMs} ms`
        : `could not be reached (${reason(last)})`;
      throw new TransportError(`${where} ${what} over ${protocol.toUpperCase()} (${attempts} attempts)`, {
        cause: last,
      });
    },
  };
}
