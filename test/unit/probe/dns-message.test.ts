import { describe, expect, it } from 'vitest';
import { badDnsName, encodeQuery, parseReply, type DnsQuestion } from '../../../src/probe/dns-message.js';

const QUESTION: DnsQuestion = { id: 0x1234, name: 'check.example.net', type: 'A' };

/** A reply to `question` built by hand: header fields, the question as asked, then `answers` (raw records). */
function reply(question: DnsQuestion, options: { id?: number; flags?: number; answers?: Buffer[]; questions?: number } = {}): Buffer {
  const query = encodeQuery(question);
  const header = Buffer.from(query.subarray(0, 12));
  header.writeUInt16BE(options.id ?? question.id, 0);
  header.writeUInt16BE(options.flags ?? 0x8180, 2);
  header.writeUInt16BE(options.questions ?? 1, 4);
  header.writeUInt16BE(options.answers?.length ?? 0, 6);
  return Buffer.concat([header, query.subarray(12), ...(options.answers ?? [])]);
}

/** A record whose owner is a pointer to the question's name (offset 12). */
function record(type: number, data: Buffer): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(1, 2);
  fixed.writeUInt32BE(300, 4);
  fixed.writeUInt16BE(data.length, 8);
  return Buffer.concat([Buffer.of(0xc0, 12), fixed, data]);
}

describe('encodeQuery', () => {
  it('writes the id, recursion desired, one question of the type, class IN', () => {
    expect(encodeQuery(QUESTION).toString('hex')).toBe(`12340100000100000000000005636865636b076578616d706c65036e657400${'0001'}${'0001'}`);
    expect(encodeQuery({ id: 1, name: 'example.org.', type: 'AAAA' }).subarray(-4).toString('hex')).toBe('001c0001');
  });

  it('refuses names that cannot be encoded', () => {
    expect(badDnsName('')).toBe('an empty name');
    expect(badDnsName('a..b')).toBe('an empty label or one longer than 63 bytes');
    expect(badDnsName(`${'a'.repeat(64)}.example`)).toBe('an empty label or one longer than 63 bytes');
    expect(badDnsName(Array.from({ length: 64 }, () => 'abc').join('.'))).toBe('a name longer than 253 bytes');
    expect(() => encodeQuery({ id: 1, name: 'a..b', type: 'A' })).toThrow('cannot ask for "a..b": an empty label');
  });
});

describe('parseReply', () => {
  it('reads the A records of the answer, following a CNAME on the way, and the response code', () => {
    const cname = record(5, Buffer.of(3, 0x77, 0x77, 0x77, 0xc0, 12));
    const message = reply(QUESTION, { answers: [cname, record(1, Buffer.of(198, 51, 100, 7)), record(1, Buffer.of(198, 51, 100, 8))] });
    expect(parseReply(message, QUESTION)).toEqual({ rcode: 'NOERROR', truncated: false, addresses: ['198.51.100.7', '198.51.100.8'] });
  });

  it('reads AAAA records in their short form', () => {
    const question: DnsQuestion = { ...QUESTION, type: 'AAAA' };
    const address = Buffer.from('20010db800ff00000000000000000001', 'hex');
    expect(parseReply(reply(question, { answers: [record(28, address)] }), question)).toEqual({
      rcode: 'NOERROR',
      truncated: false,
      addresses: ['2001:db8:ff::1'],
    });
  });

  it('names the response codes; NXDOMAIN and NODATA have no addresses', () => {
    expect(parseReply(reply(QUESTION, { flags: 0x8183 }), QUESTION)).toEqual({ rcode: 'NXDOMAIN', truncated: false, addresses: [] });
    expect(parseReply(reply(QUESTION, { flags: 0x8182 }), QUESTION)).toMatchObject({ rcode: 'SERVFAIL' });
    expect(parseReply(reply(QUESTION, { flags: 0x8185 }), QUESTION)).toMatchObject({ rcode: 'REFUSED' });
    expect(parseReply(reply(QUESTION, { flags: 0x8189 }), QUESTION)).toMatchObject({ rcode: 'RCODE 9' });
    expect(parseReply(reply({ ...QUESTION, type: 'TXT' }), { ...QUESTION, type: 'TXT' })).toMatchObject({ rcode: 'NOERROR' });
  });

  it('a truncated reply keeps what it has (its last record may be cut off)', () => {
    const whole = reply(QUESTION, {
      flags: 0x8380,
      answers: [record(1, Buffer.of(198, 51, 100, 7)), record(1, Buffer.of(198, 51, 100, 8))],
    });
    expect(parseReply(whole.subarray(0, whole.length - 16), QUESTION)).toEqual({
      rcode: 'NOERROR',
      truncated: true,
      addresses: ['198.51.100.7'],
    });
  });

  it('refuses datagrams that are not the answer to the question asked', () => {
    expect(parseReply(reply(QUESTION, { id: 0x4321 }), QUESTION)).toEqual({ refused: 'reply with another id (17185, not 4660)' });
    expect(parseReply(reply(QUESTION, { flags: 0x0100 }), QUESTION)).toEqual({ refused: 'not a reply (QR bit clear)' });
    expect(parseReply(reply(QUESTION, { questions: 2 }), QUESTION)).toEqual({ refused: 'reply with 2 questions, not 1' });
    expect(parseReply(reply({ ...QUESTION, name: 'other.example.net' }), QUESTION)).toEqual({
      refused: 'reply to another question (other.example.net type 1)',
    });
    expect(parseReply(reply({ ...QUESTION, type: 'AAAA' }), QUESTION)).toEqual({
      refused: 'reply to another question (check.example.net type 28)',
    });
    // The name's case may differ (0x20 randomisation by resolvers).
    expect(parseReply(reply({ ...QUESTION, name: 'Check.Example.NET' }), QUESTION)).toMatchObject({ rcode: 'NOERROR' });
  });

  it('refuses malformed replies without reading beyond their end or looping', () => {
    const good = reply(QUESTION, { answers: [record(1, Buffer.of(198, 51, 100, 7))] });
    for (let length = 0; length < good.length; length++) {
      const result = parseReply(good.subarray(0, length), QUESTION);
      expect(result, `cut at ${length}`).toHaveProperty('refused', expect.stringMatching(/^malformed reply \(cut short at byte \d+\)$/));
    }
    // An owner name that points at itself.
    const loop = Buffer.concat([reply(QUESTION, { answers: [] }), Buffer.of(0xc0, 0)]);
    loop.writeUInt16BE(1, 6);
    loop.writeUInt16BE(0xc000 | (loop.length - 2), loop.length - 2);
    expect(parseReply(loop, QUESTION)).toEqual({ refused: 'malformed reply (a loop of name pointers)' });
    expect(parseReply(reply(QUESTION, { answers: [record(1, Buffer.of(1, 2, 3))] }), QUESTION)).toEqual({
      refused: 'malformed reply (a A record of 3 bytes)',
    });
    const badLabel = Buffer.from(good);
    badLabel[12] = 0x80;
    expect(parseReply(badLabel, QUESTION)).toEqual({ refused: 'malformed reply (a label type 0x80)' });
    expect(parseReply(Buffer.alloc(0), QUESTION)).toEqual({ refused: 'malformed reply (cut short at byte 0)' });
  });
});
