/**
 * DNS messages as plain data, and their wire format (RFC 1035 section 4), as pure functions over bytes.
 *
 * Only what notariat needs is understood: A, AAAA, NS, CNAME, SOA, TXT and TSIG records; any other record keeps
 * its raw RDATA. UPDATE messages (RFC 2136) use the same layout with the sections renamed (zone, prerequisite,
 * update, additional), so they are built from the same `Message` shape.
 */

/** Record types notariat reads or writes (RFC 1035 3.2.2, RFC 3596, RFC 8945). */
export const RecordType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  TXT: 16,
  AAAA: 28,
  TSIG: 250,
} as const;

/** Classes: IN for data, NONE to delete one RR and ANY for TSIG and whole-RRset deletes (RFC 2136 2.4). */
export const RecordClass = { IN: 1, NONE: 254, ANY: 255 } as const;

/** Opcodes (RFC 1035 4.1.1, RFC 2136 1.3). */
export const Opcode = { QUERY: 0, UPDATE: 5 } as const;

/** Response codes (RFC 1035 4.1.1, RFC 2136 2.2) and the TSIG error codes (RFC 8945 5.3). */
export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
  BADSIG: 16,
  BADKEY: 17,
  BADTIME: 18,
  BADTRUNC: 22,
} as const;

/** The header flags that matter here (RFC 1035 4.1.1). */
export interface Header {
  id: number;
  /** Set in responses. */
  response: boolean;
  opcode: number;
  authoritative: boolean;
  truncated: boolean;
  recursionDesired: boolean;
  recursionAvailable: boolean;
  rcode: number;
}

/** A question, or the zone of an UPDATE. Names are without trailing dot; the root is "". */
export interface Question {
  name: string;
  type: number;
  class: number;
}

/** TSIG RDATA (RFC 8945 4.2). `timeSigned` is seconds since the epoch (48 bits on the wire). */
export interface TsigData {
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Uint8Array;
  originalId: number;
  error: number;
  otherData: Uint8Array;
}

/** Decoded RDATA; `raw` keeps anything else, `empty` is RDLENGTH 0 (used by UPDATE deletes and prerequisites). */
export type RecordData =
  | { kind: "a"; address: string }
  | { kind: "aaaa"; address: string }
  | { kind: "name"; target: string }
  | {
    kind: "soa";
    mname: string;
    rname: string;
    serial: number;
    refresh: number;
    retry: number;
    expire: number;
    minimum: number;
  }
  | { kind: "txt"; strings: string[] }
  | { kind: "tsig"; tsig: TsigData }
  | { kind: "raw"; bytes: Uint8Array }
  | { kind: "empty" };

/** A resource record. */
export interface ResourceRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: RecordData;
}

/** A whole message; for UPDATE, `questions` is the zone section, `answers` the prerequisites, `authority` the updates. */
export interface Message {
  header: Header;
  questions: Question[];
  answers: ResourceRecord[];
  authority: ResourceRecord[];
  additional: ResourceRecord[];
}

/** A decoded message, with where its TSIG record starts when it has one (needed to verify the MAC). */
export interface DecodedMessage extends Message {
  tsigOffset?: number;
}

/** Thrown on malformed input; callers turn it into a NotariatError naming the server. */
export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WireError";
  }
}

const HEADER_LENGTH = 12;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** Lower-cases and drops a trailing dot, the form names are compared and stored in. */
export function canonicalName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

/** Whether `name` is `ancestor` or below it, case-insensitively. */
export function isSubdomain(name: string, ancestor: string): boolean {
  const n = canonicalName(name);
  const a = canonicalName(ancestor);
  return a === "" || n === a || n.endsWith(`.${a}`);
}

/** A name in uncompressed wire form (RFC 1035 3.1); labels must be 1..63 bytes and the whole at most 255. */
export function encodeName(name: string): Uint8Array {
  const trimmed = name.endsWith(".") ? name.slice(0, -1) : name;
  const parts: number[] = [];
  if (trimmed !== "") {
    for (const label of trimmed.split(".")) {
      const bytes = textEncoder.encode(label);
      if (bytes.length === 0 || bytes.length > 63) {
        throw new WireError(`name '${name}' has a label of ${bytes.length} bytes (allowed 1..63)`);
      }
      parts.push(bytes.length, ...bytes);
    }
  }
  parts.push(0);
  if (parts.length > 255) throw new WireError(`name '${name}' is ${parts.length} bytes long (allowed 255)`);
  return Uint8Array.from(parts);
}

/** Appends bytes to a growing buffer. */
class Writer {
  private chunks: number[] = [];

  u8(value: number): void {
    this.chunks.push(value & 0xff);
  }
  u16(value: number): void {
    this.chunks.push((value >>> 8) & 0xff, value & 0xff);
  }
  u32(value: number): void {
    this.u16(Math.floor(value / 0x10000) & 0xffff);
    this.u16(value & 0xffff);
  }
  u48(value: number): void {
    this.u16(Math.floor(value / 0x100000000) & 0xffff);
    this.u32(value % 0x100000000);
  }
  bytes(data: Uint8Array): void {
    for (const b of data) this.chunks.push(b);
  }
  get length(): number {
    return this.chunks.length;
  }
  patchU16(offset: number, value: number): void {
    this.chunks[offset] = (value >>> 8) & 0xff;
    this.chunks[offset + 1] = value & 0xff;
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

function encodeIpv4(address: string): Uint8Array {
  const parts = address.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new WireError(`'${address}' is not an IPv4 address`);
  }
  return Uint8Array.from(parts);
}

function encodeIpv6(address: string): Uint8Array {
  const [head, tail, extra] = address.split("::");
  if (extra !== undefined) throw new WireError(`'${address}' is not an IPv6 address`);
  const groups = (text: string | undefined) => (text ? text.split(":") : []);
  const left = groups(head);
  const right = groups(tail);
  const missing = 8 - left.length - right.length;
  if ((tail === undefined && missing !== 0) || missing < 0) {
    throw new WireError(`'${address}' is not an IPv6 address`);
  }
  const all = [...left, ...Array(tail === undefined ? 0 : missing).fill("0"), ...right];
  const out = new Uint8Array(16);
  all.forEach((group, i) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) throw new WireError(`'${address}' is not an IPv6 address`);
    const value = parseInt(group, 16);
    out[2 * i] = value >> 8;
    out[2 * i + 1] = value & 0xff;
  });
  return out;
}

/** The RDATA of `data` (RFC 1035 3.3, 3.4; RFC 8945 4.2 for TSIG). */
function encodeRecordData(data: RecordData): Uint8Array {
  const w = new Writer();
  switch (data.kind) {
    case "a":
      return encodeIpv4(data.address);
    case "aaaa":
      return encodeIpv6(data.address);
    case "name":
      return encodeName(data.target);
    case "soa":
      w.bytes(encodeName(data.mname));
      w.bytes(encodeName(data.rname));
      for (const n of [data.serial, data.refresh, data.retry, data.expire, data.minimum]) w.u32(n);
      return w.finish();
    case "txt":
      // RFC 1035 3.3.14: one or more <character-string>s, each a length byte and up to 255 bytes.
      for (const s of data.strings) {
        const bytes = textEncoder.encode(s);
        if (bytes.length > 255) throw new WireError(`TXT string of ${bytes.length} bytes (allowed 255)`);
        w.u8(bytes.length);
        w.bytes(bytes);
      }
      return w.finish();
    case "tsig":
      w.bytes(encodeName(data.tsig.algorithm));
      w.u48(data.tsig.timeSigned);
      w.u16(data.tsig.fudge);
      w.u16(data.tsig.mac.length);
      w.bytes(data.tsig.mac);
      w.u16(data.tsig.originalId);
      w.u16(data.tsig.error);
      w.u16(data.tsig.otherData.length);
      w.bytes(data.tsig.otherData);
      return w.finish();
    case "raw":
      return data.bytes;
    case "empty":
      return new Uint8Array(0);
  }
}

/** The header's 16 flag bits (RFC 1035 4.1.1): QR, Opcode(4), AA, TC, RD, RA, Z(3), RCODE(4). */
function encodeFlags(h: Header): number {
  return (h.response ? 0x8000 : 0) | ((h.opcode & 0xf) << 11) | (h.authoritative ? 0x0400 : 0) |
    (h.truncated ? 0x0200 : 0) | (h.recursionDesired ? 0x0100 : 0) | (h.recursionAvailable ? 0x0080 : 0) |
    (h.rcode & 0xf);
}

function writeRecord(w: Writer, rr: ResourceRecord): void {
  w.bytes(encodeName(rr.name));
  w.u16(rr.type);
  w.u16(rr.class);
  w.u32(rr.ttl);
  const rdata = encodeRecordData(rr.data);
  w.u16(rdata.length);
  w.bytes(rdata);
}

/** The wire form of `message`, without name compression (messages here are small). */
export function encodeMessage(message: Message): Uint8Array {
  const w = new Writer();
  w.u16(message.header.id);
  w.u16(encodeFlags(message.header));
  w.u16(message.questions.length);
  w.u16(message.answers.length);
  w.u16(message.authority.length);
  w.u16(message.additional.length);
  for (const q of message.questions) {
    w.bytes(encodeName(q.name));
    w.u16(q.type);
    w.u16(q.class);
  }
  for (const rr of [...message.answers, ...message.authority, ...message.additional]) writeRecord(w, rr);
  return w.finish();
}

/** One resource record in wire form, as appended to a message that already exists (e.g. its TSIG). */
export function encodeRecord(rr: ResourceRecord): Uint8Array {
  const w = new Writer();
  writeRecord(w, rr);
  return w.finish();
}

/** Reads a message, following compression pointers (RFC 1035 4.1.4). */
class Reader {
  offset = 0;
  constructor(readonly bytes: Uint8Array) {}

  need(n: number): void {
    if (this.offset + n > this.bytes.length) {
      throw new WireError(
        `message truncated at byte ${this.offset} (needed ${n} more of ${this.bytes.length})`,
      );
    }
  }
  u8(): number {
    this.need(1);
    return this.bytes[this.offset++];
  }
  u16(): number {
    this.need(2);
    const v = (this.bytes[this.offset] << 8) | this.bytes[this.offset + 1];
    this.offset += 2;
    return v;
  }
  u32(): number {
    return this.u16() * 0x10000 + this.u16();
  }
  u48(): number {
    return this.u16() * 0x100000000 + this.u32();
  }
  take(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.slice(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
  name(): string {
    const labels: string[] = [];
    let position = this.offset;
    let jumped = false;
    let jumps = 0;
    let length = 0;
    for (;;) {
      if (position >= this.bytes.length) throw new WireError(`name runs past the end at byte ${position}`);
      const len = this.bytes[position];
      if ((len & 0xc0) === 0xc0) {
        if (position + 1 >= this.bytes.length) {
          throw new WireError(`compression pointer cut at byte ${position}`);
        }
        if (++jumps > 64) throw new WireError("compression pointer loop");
        if (!jumped) this.offset = position + 2;
        jumped = true;
        position = ((len & 0x3f) << 8) | this.bytes[position + 1];
        continue;
      }
      if ((len & 0xc0) !== 0) {
        throw new WireError(`unknown label type 0x${len.toString(16)} at byte ${position}`);
      }
      if (len === 0) {
        if (!jumped) this.offset = position + 1;
        break;
      }
      length += len + 1;
      if (length > 255) throw new WireError("name longer than 255 bytes");
      if (position + 1 + len > this.bytes.length) {
        throw new WireError(`label runs past the end at byte ${position}`);
      }
      labels.push(textDecoder.decode(this.bytes.subarray(position + 1, position + 1 + len)));
      position += 1 + len;
    }
    return labels.join(".");
  }
}

function formatIpv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  // RFC 5952 4.2: compress the longest run (of two or more) of zero groups.
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

function decodeRecordData(r: Reader, type: number, length: number): RecordData {
  const end = r.offset + length;
  r.need(length);
  if (length === 0) return { kind: "empty" };
  let data: RecordData;
  switch (type) {
    case RecordType.A:
      if (length !== 4) throw new WireError(`A record with ${length} bytes of RDATA`);
      data = { kind: "a", address: Array.from(r.take(4)).join(".") };
      break;
    case RecordType.AAAA:
      if (length !== 16) throw new WireError(`AAAA record with ${length} bytes of RDATA`);
      data = { kind: "aaaa", address: formatIpv6(r.take(16)) };
      break;
    case RecordType.NS:
    case RecordType.CNAME:
      data = { kind: "name", target: r.name() };
      break;
    case RecordType.SOA:
      data = {
        kind: "soa",
        mname: r.name(),
        rname: r.name(),
        serial: r.u32(),
        refresh: r.u32(),
        retry: r.u32(),
        expire: r.u32(),
        minimum: r.u32(),
      };
      break;
    case RecordType.TXT: {
      const strings: string[] = [];
      while (r.offset < end) strings.push(textDecoder.decode(r.take(r.u8())));
      data = { kind: "txt", strings };
      break;
    }
    case RecordType.TSIG:
      data = {
        kind: "tsig",
        tsig: {
          algorithm: r.name(),
          timeSigned: r.u48(),
          fudge: r.u16(),
          mac: r.take(r.u16()),
          originalId: r.u16(),
          error: r.u16(),
          otherData: r.take(r.u16()),
        },
      };
      break;
    default:
      data = { kind: "raw", bytes: r.take(length) };
  }
  if (r.offset !== end) {
    throw new WireError(`record of type ${type}: RDATA length ${length} does not match content`);
  }
  return data;
}

function readRecord(r: Reader): ResourceRecord {
  const name = r.name();
  const type = r.u16();
  const klass = r.u16();
  const ttl = r.u32();
  const length = r.u16();
  return { name, type, class: klass, ttl, data: decodeRecordData(r, type, length) };
}

/** Decodes a whole message; throws WireError when it is malformed or has bytes left over. */
export function decodeMessage(bytes: Uint8Array): DecodedMessage {
  const r = new Reader(bytes);
  r.need(HEADER_LENGTH);
  const id = r.u16();
  const flags = r.u16();
  const counts = [r.u16(), r.u16(), r.u16(), r.u16()];
  const header: Header = {
    id,
    response: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    authoritative: (flags & 0x0400) !== 0,
    truncated: (flags & 0x0200) !== 0,
    recursionDesired: (flags & 0x0100) !== 0,
    recursionAvailable: (flags & 0x0080) !== 0,
    rcode: flags & 0xf,
  };
  const questions: Question[] = [];
  for (let i = 0; i < counts[0]; i++) questions.push({ name: r.name(), type: r.u16(), class: r.u16() });
  const sections: ResourceRecord[][] = [[], [], []];
  let tsigOffset: number | undefined;
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]; i++) {
      const start = r.offset;
      const rr = readRecord(r);
      // RFC 8945 5.1: TSIG is only valid as the last record of the additional section.
      if (rr.type === RecordType.TSIG) {
        if (s !== 2 || i !== counts[3] - 1) throw new WireError("TSIG record is not the last record");
        tsigOffset = start;
      }
      sections[s].push(rr);
    }
  }
  if (r.offset !== bytes.length) {
    throw new WireError(`${bytes.length - r.offset} bytes after the last record`);
  }
  return {
    header,
    questions,
    answers: sections[0],
    authority: sections[1],
    additional: sections[2],
    ...(tsigOffset === undefined ? {} : { tsigOffset }),
  };
}

/** The TSIG record of a decoded message, if it carries one. */
export function tsigRecordOf(message: Message): (ResourceRecord & { data: { kind: "tsig" } }) | undefined {
  const last = message.additional[message.additional.length - 1];
  if (last?.type === RecordType.TSIG && last.data.kind === "tsig") {
    return last as ResourceRecord & { data: { kind: "tsig" } };
  }
  return undefined;
}

/**
 * Whether `response` answers `request`: same id, QR set, same opcode, and the same question when the response
 * repeats it (some servers leave the question out of error responses). Only the header and question are read, so
 * a mismatch is detected even when the rest would not decode.
 */
export function answersRequest(request: Uint8Array, response: Uint8Array): boolean {
  if (response.length < HEADER_LENGTH || request.length < HEADER_LENGTH) return false;
  if (request[0] !== response[0] || request[1] !== response[1]) return false;
  if ((response[2] & 0x80) === 0) return false;
  if (((request[2] >> 3) & 0xf) !== ((response[2] >> 3) & 0xf)) return false;
  const qdcount = (response[4] << 8) | response[5];
  if (qdcount === 0) return true;
  try {
    const ask = new Reader(request);
    const got = new Reader(response);
    ask.offset = got.offset = HEADER_LENGTH;
    if (((request[4] << 8) | request[5]) !== qdcount) return false;
    for (let i = 0; i < qdcount; i++) {
      if (canonicalName(ask.name()) !== canonicalName(got.name())) return false;
      if (ask.u16() !== got.u16() || ask.u16() !== got.u16()) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/** A random 16-bit message id; unpredictable ids are the cheap defence against spoofed UDP answers. */
function randomId(): number {
  const buf = new Uint16Array(1);
  crypto.getRandomValues(buf);
  return buf[0];
}

/** A header for a request with the given opcode. */
export function requestHeader(opcode: number, recursionDesired: boolean): Header {
  return {
    id: randomId(),
    response: false,
    opcode,
    authoritative: false,
    truncated: false,
    recursionDesired,
    recursionAvailable: false,
    rcode: 0,
  };
}

/** The name of a record type for messages, e.g. "TXT", or "TYPE65" when unknown (RFC 3597 5). */
export function typeName(type: number): string {
  for (const [name, value] of Object.entries(RecordType)) if (value === type) return name;
  return `TYPE${type}`;
}

/** The name of a response code, e.g. "NOTAUTH", or "RCODE 12" when unknown. */
export function rcodeName(code: number): string {
  for (const [name, value] of Object.entries(Rcode)) if (value === code) return name;
  return `RCODE ${code}`;
}
