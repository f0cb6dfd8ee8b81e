// The few DNS messages the probes need (RFC 1035): one question out, its answer in. A reply is
// read with every offset checked against its length and at most MAX_POINTERS compression jumps,
// so a malformed or hostile reply is refused with a reason, never read beyond its end or
// followed in a loop.
import { isIP } from 'node:net';
import type { DnsType } from '../core/check-site.js';

const TYPE_CODES: Record<DnsType, number> = { A: 1, NS: 2, CNAME: 5, SOA: 6, MX: 15, TXT: 16, AAAA: 28 };
const CLASS_IN = 1;
const HEADER_BYTES = 12;
const MAX_NAME_BYTES = 255;
const MAX_LABEL_BYTES = 63;
// A name has at most 127 labels; more jumps than that can only be a loop.
const MAX_POINTERS = 127;

/** Names of the response codes a probe reports. */
const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

export interface DnsQuestion {
  id: number;
  name: string;
  type: DnsType;
}

export interface DnsReply {
  /** NOERROR, NXDOMAIN, SERVFAIL, … or `RCODE n`. */
  rcode: string;
  /** The TC bit: the answer did not fit in the datagram. */
  truncated: boolean;
  /** The addresses of the A (or AAAA) records of the answer section, for those question types. */
  addresses: string[];
}

/** Why a name cannot be asked for, or undefined. */
export function badDnsName(name: string): string | undefined {
  const labels = name.replace(/\.$/, '').split('.');
  if (name === '' || name === '.') return 'an empty name';
  if (Buffer.byteLength(name) > MAX_NAME_BYTES - 2) return `a name longer than ${MAX_NAME_BYTES - 2} bytes`;
  if (labels.some((label) => label === '' || Buffer.byteLength(label) > MAX_LABEL_BYTES))
    return 'an empty label or one longer than 63 bytes';
  return undefined;
}

/** The query for `question`, recursion desired; throws on a name that cannot be encoded (see badDnsName). */
export function encodeQuery(question: DnsQuestion): Buffer {
  const why = badDnsName(question.name);
  if (why) throw new Error(`cannot ask for ${JSON.stringify(question.name)}: ${why}`);
  const labels = question.name.replace(/\.$/, '').split('.');
  const name = Buffer.concat([...labels.flatMap((label) => [Buffer.of(Buffer.byteLength(label)), Buffer.from(label)]), Buffer.of(0)]);
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt16BE(question.id, 0);
  header.writeUInt16BE(0x0100, 2); // RD
  header.writeUInt16BE(1, 4); // QDCOUNT
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(TYPE_CODES[question.type], 0);
  tail.writeUInt16BE(CLASS_IN, 2);
  return Buffer.concat([header, name, tail]);
}

/**
 * The reply to `question`, or `{ refused: why }` for a datagram that is not one: too short,
 * malformed, not a response, another id, another question.
 */
export function parseReply(message: Buffer, question: DnsQuestion): DnsReply | { refused: string } {
  try {
    return readReply(new Reader(message), question);
  } catch (error) {
    if (error instanceof MalformedError) return { refused: `malformed reply (${error.message})` };
    throw error;
  }
}

class MalformedError extends Error {}

function readReply(reader: Reader, question: DnsQuestion): DnsReply | { refused: string } {
  const id = reader.u16();
  const flags = reader.u16();
  const [questions, answers] = [reader.u16(), reader.u16()];
  reader.skip(4); // NSCOUNT, ARCOUNT: not needed
  if (id !== question.id) return { refused: `reply with another id (${id}, not ${question.id})` };
  if ((flags & 0x8000) === 0) return { refused: 'not a reply (QR bit clear)' };
  if (questions !== 1) return { refused: `reply with ${questions} questions, not 1` };
  const name = reader.name();
  const [type, klass] = [reader.u16(), reader.u16()];
  if (!sameName(name, question.name) || type !== TYPE_CODES[question.type] || klass !== CLASS_IN)
    return { refused: `reply to another question (${name} type ${type})` };
  const rcodeNumber = flags & 0x000f;
  const reply: DnsReply = { rcode: RCODES[rcodeNumber] ?? `RCODE ${rcodeNumber}`, truncated: (flags & 0x0200) !== 0, addresses: [] };
  const wantsAddresses = question.type === 'A' || question.type === 'AAAA';
  // A truncated reply may end in the middle of a record: what was read is kept, the rest ignored.
  for (let index = 0; index < answers && wantsAddresses && !(reply.truncated && reader.atEnd()); index++) {
    reader.name();
    const [recordType, recordClass] = [reader.u16(), reader.u16()];
    reader.skip(4); // TTL
    const data = reader.bytes(reader.u16());
    if (recordClass !== CLASS_IN || recordType !== TYPE_CODES[question.type]) continue; // a CNAME on the way
    const address = question.type === 'A' ? ipv4(data) : ipv6(data);
    if (address === undefined) throw new MalformedError(`a ${question.type} record of ${data.length} bytes`);
    reply.addresses.push(address);
  }
  return reply;
}

const sameName = (a: string, b: string) => a.toLowerCase() === b.toLowerCase().replace(/\.$/, '');

function ipv4(data: Buffer): string | undefined {
  return data.length === 4 ? [...data].join('.') : undefined;
}

function ipv6(data: Buffer): string | undefined {
  if (data.length !== 16) return undefined;
  const groups = Array.from({ length: 8 }, (_, index) => data.readUInt16BE(index * 2).toString(16));
  // The URL parser writes the one canonical (shortest) form.
  const address = new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
  return isIP(address) === 6 ? address : undefined;
}

/** Reads a message front to back; every read beyond its end throws MalformedError. */
class Reader {
  private offset = 0;
  constructor(private readonly message: Buffer) {}

  atEnd(): boolean {
    return this.offset >= this.message.length;
  }

  u16(): number {
    this.need(2, this.offset);
    const value = this.message.readUInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  skip(count: number): void {
    this.need(count, this.offset);
    this.offset += count;
  }

  bytes(count: number): Buffer {
    this.need(count, this.offset);
    const data = this.message.subarray(this.offset, this.offset + count);
    this.offset += count;
    return data;
  }

  /** A name, following compression pointers; leaves the offset after the name where it started. */
  name(): string {
    const labels: string[] = [];
    let at = this.offset;
    let jumps = 0;
    let length = 0;
    for (;;) {
      this.need(1, at);
      const size = this.message[at]!;
      if (size === 0) {
        if (jumps === 0) this.offset = at + 1;
        return labels.join('.');
      }
      if ((size & 0xc0) === 0xc0) {
        this.need(2, at);
        if (++jumps > MAX_POINTERS) throw new MalformedError('a loop of name pointers');
        if (jumps === 1) this.offset = at + 2;
        at = this.message.readUInt16BE(at) & 0x3fff;
        continue;
      }
      if ((size & 0xc0) !== 0) throw new MalformedError(`a label type 0x${(size & 0xc0).toString(16)}`);
      this.need(1 + size, at);
      length += size + 1;
      if (length > MAX_NAME_BYTES) throw new MalformedError(`a name longer than ${MAX_NAME_BYTES} bytes`);
      labels.push(this.message.toString('latin1', at + 1, at + 1 + size));
      at += 1 + size;
    }
  }

  private need(count: number, at: number): void {
    if (at + count > this.message.length) throw new MalformedError(`cut short at byte ${this.message.length}`);
  }
}
