/**
 * DNS messages on the wire for the DNS helpers that run inside the test process (the fault proxy, the CNAME
 * forwarder, the servers' readiness probe): TCP framing (RFC 1035 section 4.2.2: each message preceded by its
 * length in two bytes), one exchange with a server over TCP or UDP, and one port bound for both. Hand-written so
 * the helpers do not depend on notariat's own DNS transport, which is under test.
 */
import type { ServerAddress } from "../../src/dns/types.ts";

/** `message` preceded by its two-byte length, as it goes over TCP. */
export function frame(message: Uint8Array): Uint8Array {
  const framed = new Uint8Array(message.length + 2);
  framed[0] = message.length >> 8;
  framed[1] = message.length & 0xff;
  framed.set(message, 2);
  return framed;
}

/** Reads exactly `length` bytes; undefined when the stream ends first. */
async function readExactly(conn: Deno.Conn, length: number): Promise<Uint8Array | undefined> {
  const buffer = new Uint8Array(length);
  for (let received = 0; received < length;) {
    const n = await conn.read(buffer.subarray(received));
    if (n === null) return undefined;
    received += n;
  }
  return buffer;
}

/**
 * Reads one length-prefixed message from a TCP stream and returns it as it arrived, prefix included (the message
 * is `subarray(2)`); undefined when the stream ends before a whole message came.
 */
export async function readFrame(conn: Deno.Conn): Promise<Uint8Array | undefined> {
  const prefix = await readExactly(conn, 2);
  const body = prefix && await readExactly(conn, (prefix[0] << 8) | prefix[1]);
  return body && frame(body);
}

/**
 * Sends `message` to `server` over a new TCP connection and returns the answer (without its prefix), undefined
 * when the server closes the connection first. Throws when the connection fails or `timeoutMs` passes.
 */
export async function exchangeTcp(
  server: ServerAddress,
  message: Uint8Array,
  timeoutMs: number,
): Promise<Uint8Array | undefined> {
  const conn = await Deno.connect({ hostname: server.host, port: server.port });
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    await conn.write(frame(message));
    return (await readFrame(conn))?.subarray(2);
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

/** Sends `message` to `server` from a fresh UDP socket and returns the first datagram that comes back. */
export async function exchangeUdp(
  server: ServerAddress,
  message: Uint8Array,
  timeoutMs: number,
): Promise<Uint8Array> {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const timer = setTimeout(() => socket.close(), timeoutMs);
  try {
    await socket.send(message, { transport: "udp", hostname: server.host, port: server.port });
    const [answer] = await socket.receive();
    return answer;
  } finally {
    clearTimeout(timer);
    try {
      socket.close();
    } catch {
      // closed by the timer
    }
  }
}

/** A UDP socket and a TCP listener on one port of `hostname`, picked free. */
export interface DnsSockets {
  port: number;
  udp: Deno.DatagramConn;
  tcp: Deno.Listener;
}

/** Binds UDP and TCP on one free port of `hostname` (127.0.0.1, or ::1 for IPv6), as a DNS server listens. */
export function listenUdpAndTcp(hostname = "127.0.0.1"): DnsSockets {
  for (let attempt = 0; attempt < 50; attempt++) {
    const tcp = Deno.listen({ hostname, port: 0 });
    const port = (tcp.addr as Deno.NetAddr).port;
    try {
      return { port, tcp, udp: Deno.listenDatagram({ transport: "udp", hostname, port }) };
    } catch {
      // taken for UDP: try another
      tcp.close();
    }
  }
  throw new Error(`no port on ${hostname} is free for both TCP and UDP`);
}
