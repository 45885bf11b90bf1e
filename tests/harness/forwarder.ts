/**
 * A resolver with no cache at all, in front of one authoritative server, that follows CNAMEs from one zone into
 * another. pebble needs it for CNAME-delegated challenges (neither it nor an authoritative server chases a
 * CNAME across zones). A caching resolver will not do: BIND, even with every TTL capped at 0, keeps serving an
 * RRset for the rest of the second it fetched it in, so a challenge value replaced within that second (a second
 * order for the same name) would be validated against the old one.
 *
 * Runs inside the test process on 127.0.0.1 (UDP and TCP, one picked port) and asks the upstream over TCP.
 */
import type { ServerAddress } from "../../src/dns/types.ts";
import { exchangeTcp, frame, listenUdpAndTcp, readFrame } from "./dns_stream.ts";

/** A running forwarder; `stop` closes its sockets. */
export interface CnameForwarder {
  address: ServerAddress;
  stop(): Promise<void>;
}

const TYPE_CNAME = 5;
const MAX_CNAME_HOPS = 8;
const RCODE_SERVFAIL = 2;
const UPSTREAM_TIMEOUT_MS = 2000;

interface Record {
  owner: string;
  type: number;
  /** The record re-encoded without compression pointers, ready to go into another message. */
  wire: Uint8Array;
  /** For a CNAME, its target. */
  target?: string;
}

/** Reads a possibly compressed name at `offset` (RFC 1035 4.1.4); returns it lower-cased and where it ends. */
function readName(message: Uint8Array, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let end = -1;
  for (let jumps = 0; jumps < 64; jumps++) {
    const length = message[offset];
    if (length === undefined) throw new Error("name runs past the message");
    if ((length & 0xc0) === 0xc0) {
      if (end < 0) end = offset + 2;
      offset = ((length & 0x3f) << 8) | message[offset + 1];
      continue;
    }
    if (length === 0) {
      return { name: labels.join(".").toLowerCase(), end: end < 0 ? offset + 1 : end };
    }
    labels.push(new TextDecoder().decode(message.subarray(offset + 1, offset + 1 + length)));
    offset += 1 + length;
  }
  throw new Error("name has too many compression pointers");
}

function encodeName(name: string): Uint8Array {
  const bytes: number[] = [];
  for (const label of name.split(".").filter((l) => l !== "")) {
    const encoded = new TextEncoder().encode(label);
    bytes.push(encoded.length, ...encoded);
  }
  bytes.push(0);
  return new Uint8Array(bytes);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

const u16 = (m: Uint8Array, o: number) => (m[o] << 8) | m[o + 1];

/** Types whose RDATA starts with (CNAME, NS, PTR) or holds names (SOA: two names, then 20 bytes; MX: 2 bytes, a name). */
function expandRdata(message: Uint8Array, type: number, start: number, end: number): Uint8Array {
  switch (type) {
    case 2:
    case 5:
    case 12:
      return encodeName(readName(message, start).name);
    case 6: {
      const mname = readName(message, start);
      const rname = readName(message, mname.end);
      return concat([encodeName(mname.name), encodeName(rname.name), message.slice(rname.end, end)]);
    }
    case 15:
      return concat([message.slice(start, start + 2), encodeName(readName(message, start + 2).name)]);
    default:
      return message.slice(start, end);
  }
}

/** The answer section of `message`, each record decompressed. */
function readAnswers(message: Uint8Array): Record[] {
  let offset = 12;
  for (let i = 0; i < u16(message, 4); i++) offset = readName(message, offset).end + 4;
  const records: Record[] = [];
  for (let i = 0; i < u16(message, 6); i++) {
    const owner = readName(message, offset);
    const type = u16(message, owner.end);
    const rdStart = owner.end + 10;
    const rdEnd = rdStart + u16(message, owner.end + 8);
    const rdata = expandRdata(message, type, rdStart, rdEnd);
    const fixed = message.slice(owner.end, owner.end + 8); // type, class, TTL
    const wire = concat([
      encodeName(owner.name),
      fixed,
      new Uint8Array([rdata.length >> 8, rdata.length & 0xff]),
      rdata,
    ]);
    records.push({
      owner: owner.name,
      type,
      wire,
      target: type === TYPE_CNAME ? readName(message, rdStart).name : undefined,
    });
    offset = rdEnd;
  }
  return records;
}

/** The target of the CNAME owned by `owner`, unless the question asks for the CNAME itself. */
function findCname(records: Record[], owner: string, qtype: number): string | undefined {
  if (qtype === TYPE_CNAME) return undefined;
  return records.find((r) => r.owner === owner && r.type === TYPE_CNAME)?.target;
}

async function askUpstream(upstream: ServerAddress, name: string, qtype: number): Promise<Uint8Array> {
  const id = Math.floor(Math.random() * 0x10000);
  const query = concat([
    new Uint8Array([id >> 8, id & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
    encodeName(name),
    new Uint8Array([qtype >> 8, qtype & 0xff, 0, 1]),
  ]);
  const response = await exchangeTcp(upstream, query, UPSTREAM_TIMEOUT_MS);
  if (response === undefined || u16(response, 0) !== id) throw new Error("upstream closed without an answer");
  return response;
}

/**
 * Answers `query` by asking `upstream`, following CNAMEs that leave the upstream's answer; SERVFAIL on a CNAME
 * loop, an upstream failure or an unreadable query. The rcode is the last upstream answer's (RFC 6604).
 */
async function resolve(upstream: ServerAddress, query: Uint8Array): Promise<Uint8Array> {
  const questionEnd = readName(query, 12).end + 4;
  const question = query.slice(12, questionEnd);
  const qname = readName(query, 12).name;
  const qtype = u16(query, questionEnd - 4);
  const answers: Uint8Array[] = [];
  let rcode = RCODE_SERVFAIL;
  try {
    let name = qname;
    const seen = new Set([qname]);
    for (let hop = 0; hop < MAX_CNAME_HOPS; hop++) {
      const response = await askUpstream(upstream, name, qtype);
      rcode = response[3] & 0x0f;
      const records = readAnswers(response);
      answers.push(...records.map((r) => r.wire));
      // Walk the chain as far as this answer goes (the upstream follows it within its own zone).
      let current = name;
      for (
        let cname = findCname(records, current, qtype);
        cname;
        cname = findCname(records, current, qtype)
      ) {
        current = cname;
        if (seen.has(current)) throw new Error("CNAME loop");
        seen.add(current);
      }
      const answered = current === name || records.some((r) => r.owner === current && r.type === qtype);
      if (answered || rcode !== 0) break;
      if (hop === MAX_CNAME_HOPS - 1) throw new Error("CNAME chain too long");
      name = current;
    }
  } catch {
    rcode = RCODE_SERVFAIL;
    answers.length = 0;
  }
  // QR, the query's opcode and RD, RA; QDCOUNT 1, ANCOUNT, no authority or additional records.
  const flags = 0x8000 | (u16(query, 2) & 0x7900) | 0x0080 | rcode;
  return concat([
    new Uint8Array([
      query[0],
      query[1],
      flags >> 8,
      flags & 0xff,
      0,
      1,
      answers.length >> 8,
      answers.length & 0xff,
    ]),
    new Uint8Array(4),
    question,
    ...answers,
  ]);
}

/** Over UDP without EDNS a client accepts 512 bytes: a longer answer goes out empty with TC set. */
function fitUdp(query: Uint8Array, response: Uint8Array): Uint8Array {
  const hasEdns = u16(query, 10) > 0;
  if (hasEdns || response.length <= 512) return response;
  const questionEnd = readName(response, 12).end + 4;
  const truncated = response.slice(0, questionEnd);
  truncated[2] |= 0x02;
  truncated.set([0, 0, 0, 0, 0, 0], 6);
  return truncated;
}

/** Starts a forwarder on a free 127.0.0.1 port (UDP and TCP) in front of `upstream`. */
export function startCnameForwarder(upstream: ServerAddress): CnameForwarder {
  const { port, udp, tcp } = listenUdpAndTcp();
  const connections = new Set<Deno.Conn>();
  const pending = new Set<Promise<void>>();
  const track = (work: Promise<void>) => {
    const p = work.catch(() => {}).finally(() => pending.delete(p));
    pending.add(p);
  };

  const serveUdp = async () => {
    try {
      for await (const [query, from] of udp) {
        track(
          resolve(upstream, query).then((response) => udp.send(fitUdp(query, response), from)).then(() => {}),
        );
      }
    } catch {
      // closed by stop
    }
  };
  const serveTcp = async () => {
    try {
      for await (const conn of tcp) {
        connections.add(conn);
        track((async () => {
          try {
            for (let query = await readFrame(conn); query !== undefined; query = await readFrame(conn)) {
              await conn.write(frame(await resolve(upstream, query.subarray(2))));
            }
          } finally {
            connections.delete(conn);
            try {
              conn.close();
            } catch {
              // closed by stop
            }
          }
        })());
      }
    } catch {
      // closed by stop
    }
  };
  const loops = Promise.all([serveUdp(), serveTcp()]);
  let stopping: Promise<void> | undefined;

  return {
    address: { host: "127.0.0.1", port },
    stop() {
      stopping ??= (async () => {
        udp.close();
        tcp.close();
        for (const conn of connections) {
          try {
            conn.close();
          } catch {
            // closed meanwhile
          }
        }
        await loops;
        await Promise.all(pending);
      })();
      return stopping;
    },
  };
}
