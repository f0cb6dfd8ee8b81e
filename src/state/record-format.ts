// The probe recording's file format: compact, append-only, and safe against a write cut short.
//
//   file   = "NGWREC1\n" block*
//   block  = 0xA5, u32le payload length, u32le CRC-32 of the payload, payload
//   payload = varint base time (epoch ms), record*
//
// A block is self-contained (its own name tables and deltas), so a block that fails its check is
// skipped without misreading any other, and rotation needs no state carried over. Records:
//   0x00|g  round of gateway g with the same sites as g's previous round in this block
//   0x40|g  round of gateway g with a new site list: varint n, n × varint site name id
//           then, for both: varint Δtime; one varint per echo: 0 lost, 1 answered without RTT,
//           2 + zigzag(RTT - previous RTT of that site of that gateway in this block), RTT in
//           0.1 ms units; zigzag varint (lag - expected lag), where at = settledAt - lag and the
//           expected lag is the slowest RTT in whole ms, or with an echo lost, the lag of g's
//           previous round with an echo lost in this block (0 if none): it settled at the timeout
//   0x80|g  link of gateway g: varint Δtime, varint device name id, byte 1 up / 0 down
//   0xC0    defines the next gateway id: varint length, UTF-8
//   0xC1    defines the next name id (sites, devices): varint length, UTF-8
//   0xC2    time steps back (the wall clock did): varint ms
// "time" is settledAt for rounds and at for links, the order the daemon saw them in.
import * as zlib from 'node:zlib';
import type { Echo } from '../core/health.js';
import type { ProbeEvent } from '../core/probe-events.js';

export const FILE_HEADER = new TextEncoder().encode('NGWREC1\n');
const BLOCK_MARKER = 0xa5;
export const BLOCK_HEADER_BYTES = 9;
/** Larger is not a block the recorder wrote (it seals blocks at BLOCK_TARGET_BYTES). */
const MAX_PAYLOAD_BYTES = 1 << 20;
/** The recorder seals a block when its payload reaches this. */
export const BLOCK_TARGET_BYTES = 16 << 10;
/** Gateway ids are the low 6 bits of a record's first byte. */
const MAX_GATEWAYS_PER_BLOCK = 64;

const ROUND_SAME_SITES = 0x00;
const ROUND_NEW_SITES = 0x40;
const LINK = 0x80;
/** Records 0xC0…0xFF: definitions and the time stepping back (room for later kinds). */
const DEFINITIONS = 0xc0;
const DEFINE_GATEWAY = 0xc0;
const DEFINE_NAME = 0xc1;
const TIME_BACK = 0xc2;

export class RecordingError extends Error {
  override name = 'RecordingError';
}

const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** zlib's own CRC-32 where Node has it (≥ 20.15; a replay checks megabytes), the table below where not (Debian 12's Node 18). */
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

/** CRC-32 (as zlib's) of bytes[start, end). */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  // A plain view, not subarray: on a Buffer that builds a Buffer, which costs more than a block's CRC.
  if (nativeCrc32) return nativeCrc32(new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start));
  return tableCrc32(bytes, start, end);
}

/** The same, computed here: for Node without zlib.crc32, and to test that both agree. */
export function tableCrc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = -1;
  for (let i = start; i < end; i++) crc = CRC_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

const zigzag = (value: number) => (value >= 0 ? value * 2 : -value * 2 - 1);
/** Within 32 bits (almost every value) in integer arithmetic, which V8 keeps out of floating point. */
const unzigzag = (value: number) => (value <= 0x7fffffff ? (value >>> 1) ^ -(value & 1) : value % 2 === 0 ? value / 2 : -(value + 1) / 2);

/** Builds one block from events; `seal()` gives the bytes to append and starts the next block. */
export class BlockEncoder {
  private bytes = new Uint8Array(4096);
  private length = 0;
  private baseTime: number | undefined;
  private time = 0;
  private readonly gateways = new Map<string, number>();
  private readonly names = new Map<string, number>();
  /** Per gateway id: the name ids of its sites in the previous round, and their latest RTTs. */
  private siteLists: string[][] = [];
  private previousRtt: number[][] = [];
  private lostLag: number[] = [];
  private readonly text = new TextEncoder();

  /** Bytes of the payload so far (0: nothing to seal). */
  get size(): number {
    return this.baseTime === undefined ? 0 : this.length;
  }

  /** Adds an event; false when this block cannot take it (too many gateways): seal, then add again. */
  add(event: ProbeEvent): boolean {
    const time = Math.round(event.kind === 'round' ? event.settledAt : event.at);
    if (this.baseTime === undefined) {
      this.baseTime = this.time = Math.max(0, time);
      this.varint(this.baseTime);
    }
    const gateway = this.gatewayId(event.gateway);
    if (gateway === undefined) return false; // only ever with 64 gateways in the block already
    if (event.kind === 'link') {
      const dev = this.nameId(event.dev);
      this.stepBackTo(time);
      this.byte(LINK | gateway);
      this.varint(time - this.time);
      this.varint(dev);
      this.byte(event.up ? 1 : 0);
    } else {
      const sites = event.echoes.map((echo) => echo.site);
      const previous = this.siteLists[gateway];
      const same = previous !== undefined && previous.length === sites.length && previous.every((site, i) => site === sites[i]);
      const ids = same ? [] : sites.map((site) => this.nameId(site));
      this.stepBackTo(time);
      if (same) this.byte(ROUND_SAME_SITES | gateway);
      else {
        this.byte(ROUND_NEW_SITES | gateway);
        this.varint(ids.length);
        for (const id of ids) this.varint(id);
        this.siteLists[gateway] = sites;
        this.previousRtt[gateway] = sites.map(() => 0);
      }
      this.varint(time - this.time);
      const rtts = this.previousRtt[gateway]!;
      let slowest = 0;
      let lost = false;
      event.echoes.forEach((echo, i) => {
        if (!echo.answered) {
          this.varint(0);
          lost = true;
        } else if (echo.rttMs === undefined) this.varint(1);
        else {
          const units = Math.max(0, Math.round(echo.rttMs * 10));
          this.varint(2 + zigzag(units - rtts[i]!));
          rtts[i] = units;
          slowest = Math.max(slowest, units);
        }
      });
      const lag = time - Math.round(event.at);
      this.varint(zigzag(lag - (lost ? (this.lostLag[gateway] ?? 0) : Math.ceil(slowest / 10))));
      if (lost) this.lostLag[gateway] = lag;
    }
    this.time = time;
    return true;
  }

  /** The block (header and payload) of what was added since the last seal, or undefined if nothing was. */
  seal(): Uint8Array | undefined {
    if (this.baseTime === undefined) return undefined;
    const block = new Uint8Array(BLOCK_HEADER_BYTES + this.length);
    block[0] = BLOCK_MARKER;
    const view = new DataView(block.buffer);
    view.setUint32(1, this.length, true);
    view.setUint32(5, crc32(this.bytes, 0, this.length), true);
    block.set(this.bytes.subarray(0, this.length), BLOCK_HEADER_BYTES);
    this.length = 0;
    this.baseTime = undefined;
    this.gateways.clear();
    this.names.clear();
    this.siteLists = [];
    this.previousRtt = [];
    this.lostLag = [];
    return block;
  }

  private gatewayId(name: string): number | undefined {
    const known = this.gateways.get(name);
    if (known !== undefined) return known;
    if (this.gateways.size >= MAX_GATEWAYS_PER_BLOCK) return undefined;
    this.define(DEFINE_GATEWAY, name);
    this.gateways.set(name, this.gateways.size);
    return this.gateways.size - 1;
  }

  private nameId(name: string): number {
    const known = this.names.get(name);
    if (known !== undefined) return known;
    this.define(DEFINE_NAME, name);
    this.names.set(name, this.names.size);
    return this.names.size - 1;
  }

  private define(kind: number, name: string): void {
    const utf8 = this.text.encode(name);
    this.byte(kind);
    this.varint(utf8.length);
    this.reserve(utf8.length);
    this.bytes.set(utf8, this.length);
    this.length += utf8.length;
  }

  private stepBackTo(time: number): void {
    if (time >= this.time) return;
    this.byte(TIME_BACK);
    this.varint(this.time - time);
    this.time = time;
  }

  private reserve(count: number): void {
    if (this.length + count <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + count));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  private byte(value: number): void {
    this.reserve(1);
    this.bytes[this.length++] = value;
  }

  private varint(value: number): void {
    this.reserve(8);
    let rest = value;
    while (rest >= 0x80) {
      this.bytes[this.length++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.bytes[this.length++] = rest;
  }
}

/** Whether `bytes` start with the file header (or as much of it as they hold: a file cut short). */
export function startsAsRecording(bytes: Uint8Array): boolean {
  for (let i = 0; i < Math.min(bytes.length, FILE_HEADER.length); i++) if (bytes[i] !== FILE_HEADER[i]) return false;
  return true;
}

/** Where a file's intact blocks end, and why what follows them (a write cut short) is not one. */
export interface BlockWalk {
  validEnd: number;
  damaged?: { offset: number; why: string };
}

/**
 * A recording's bytes with its intact blocks, checked once: a replay finds its span, then goes
 * through its events, and checking a day's blocks again (their CRCs) cost a tenth of decoding it.
 */
export interface CheckedRecording {
  bytes: Uint8Array;
  file: string;
  blocks: ReadonlyArray<{ start: number; end: number }>;
  walk: BlockWalk;
}

/** Checks the blocks of a recording (throws RecordingError if it is not one), for recordingSpan and recordingEventsOf. */
export function checkRecording(bytes: Uint8Array, file: string): CheckedRecording {
  const blocks: Array<{ start: number; end: number }> = [];
  const walk = intactBlocks(bytes, file);
  for (let block = walk.next(); ; block = walk.next()) {
    if (block.done) return { bytes, file, blocks, walk: block.value };
    blocks.push(block.value);
  }
}

/**
 * Checks a recording's blocks (the recorder, before it appends): the first block that fails its
 * check ends the walk, and it and what follows are reported, never read.
 */
export function walkRecording(bytes: Uint8Array, file: string): BlockWalk {
  return checkRecording(bytes, file).walk;
}

/**
 * The events of recordings (in order), decoded a block at a time as they are asked for: a replay
 * goes through a day without keeping it. A plain iterator, not a generator: a day is over a
 * million events, and generators cost more per event than the decode. `onDamaged` hears of a
 * damaged end of a file, which is skipped. A record that makes no sense throws when the events
 * before it have been given, as if decoded one at a time.
 */
export function recordingEventsOf(
  files: ReadonlyArray<CheckedRecording>,
  onDamaged?: (file: string, bytes: Uint8Array, damaged: { offset: number; why: string }) => void,
): Iterator<ProbeEvent> {
  let fileIndex = 0;
  let blockIndex = 0;
  let decoder: BlockDecoder | undefined;
  /** The current block's events, and the next one to give. */
  let batch: ProbeEvent[] = [];
  let given = 0;
  /** What ended the current block's events early, thrown once they are given. */
  let failure: RecordingError | undefined;
  /** Decodes the next intact block; false when every file is done. */
  const nextBlock = (): boolean => {
    for (; fileIndex < files.length; fileIndex++, blockIndex = 0, decoder = undefined) {
      const { bytes, file, blocks, walk } = files[fileIndex]!;
      const block = blocks[blockIndex++];
      if (block) {
        decoder ??= new BlockDecoder(bytes, file);
        // A new array each block: one that has lived long enough to be old makes every event stored in it costly (a write barrier).
        batch = [];
        given = 0;
        failure = decoder.decode(block.start, block.end, batch);
        return true;
      }
      if (walk.damaged) onDamaged?.(file, bytes, walk.damaged);
    }
    return false;
  };
  return {
    next(): IteratorResult<ProbeEvent> {
      while (given === batch.length) {
        if (failure) throw failure;
        if (!nextBlock()) return { done: true, value: undefined };
      }
      return { done: false, value: batch[given++]! };
    },
  };
}

/**
 * When recordings start and end, from their first and last intact blocks alone: a replay needs
 * its time window before it goes through the events, and decoding a day twice would double its
 * cost. `startAt`: the earliest time a round was sent or a link changed; `endAt`: the latest time
 * an event was seen. Undefined when there is no event.
 */
export function recordingSpan(files: ReadonlyArray<CheckedRecording>): { startAt: number; endAt: number } | undefined {
  // The first block and the latest one (the first too, while it is the only one).
  const located: Array<{ bytes: Uint8Array; file: string; start: number; end: number }> = [];
  for (const { bytes, file, blocks } of files) {
    for (const block of blocks.length > 1 ? [blocks[0]!, blocks.at(-1)!] : blocks) {
      const found = { bytes, file, ...block };
      if (located.length < 2) located.push(found);
      else located[1] = found;
    }
  }
  if (located.length === 0) return undefined;
  let startAt = Infinity;
  let endAt = -Infinity;
  for (const [i, { bytes, file, start, end }] of located.entries()) {
    const events: ProbeEvent[] = [];
    const failure = new BlockDecoder(bytes, file).decode(start, end, events);
    if (failure) throw failure;
    for (const event of events) {
      if (i === 0) startAt = Math.min(startAt, event.at);
      endAt = Math.max(endAt, event.kind === 'round' ? event.settledAt : event.at);
    }
  }
  return { startAt, endAt };
}

/** The payload of each block that passes its check, in order; returns where the intact part ends. */
function* intactBlocks(bytes: Uint8Array, file: string): Generator<{ start: number; end: number }, BlockWalk> {
  if (!startsAsRecording(bytes))
    throw new RecordingError(`${file}: offset 0: not a netgwm probe recording (it does not start with "NGWREC1")`);
  if (bytes.length < FILE_HEADER.length) {
    return bytes.length === 0 ? { validEnd: 0 } : { validEnd: 0, damaged: { offset: 0, why: 'the file header is cut short' } };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = FILE_HEADER.length;
  while (offset < bytes.length) {
    const why = blockProblem(bytes, view, offset);
    if (why) return { validEnd: offset, damaged: { offset, why } };
    const length = view.getUint32(offset + 1, true);
    const start = offset + BLOCK_HEADER_BYTES;
    yield { start, end: start + length };
    offset = start + length;
  }
  return { validEnd: offset };
}

function blockProblem(bytes: Uint8Array, view: DataView, offset: number): string | undefined {
  if (bytes.length - offset < BLOCK_HEADER_BYTES) return 'a block header cut short';
  if (bytes[offset] !== BLOCK_MARKER) return `no block starts here (0x${bytes[offset]!.toString(16).padStart(2, '0')})`;
  const length = view.getUint32(offset + 1, true);
  if (length > MAX_PAYLOAD_BYTES) return `a block length of ${length} bytes, more than any block the recorder writes`;
  const end = offset + BLOCK_HEADER_BYTES + length;
  if (end > bytes.length) return `a block of ${length} bytes cut short at ${bytes.length - offset - BLOCK_HEADER_BYTES}`;
  if (crc32(bytes, offset + BLOCK_HEADER_BYTES, end) !== view.getUint32(offset + 5, true)) return 'a block whose checksum does not match';
  return undefined;
}

const text = new TextDecoder('utf-8', { fatal: true });
/** Names a decoder remembers (a file has a few unless its gateways were renamed again and again). */
const MAX_KNOWN_NAMES = 64;

/**
 * The echoes of one site, made once per decode: a day holds millions of echoes but only a few
 * thousand distinct ones per site, and allocating (and keeping) an object for each was most of
 * a decode's time. Echo objects are therefore shared between rounds: read-only.
 */
interface SiteEchoes {
  lost: Echo;
  untimed: Echo;
  /** By RTT in 0.1 ms units. */
  timed: Echo[];
}

/**
 * A gateway defined in the block being decoded: its name, its latest site list and the lag of its
 * latest round with an echo lost.
 */
interface GatewayOfBlock {
  name: string;
  sites: SiteOfGateway[] | undefined;
  lostLag: number;
}

/** A site in a gateway's site list: its echoes, and its latest RTT from that gateway in the block. */
interface SiteOfGateway {
  echoes: SiteEchoes;
  rtt: number;
}

/**
 * Decodes intact blocks, a block at a time (nothing is kept per event: a day is over a million);
 * a record that makes no sense in one is a bug or another version: an error.
 */
class BlockDecoder {
  /** Where the record being decoded starts (for errors). */
  private recordAt = 0;
  /** Where the varint or name read by varint() or name() ends. */
  private p = 0;
  private readonly echoesOf = new Map<string, SiteEchoes>();
  /**
   * Where in the file names were decoded, and what to: every block defines its few names again,
   * and decoding them each time cost as much as a tenth of the rounds.
   */
  private readonly knownNames: Array<{ start: number; length: number; name: string }> = [];

  constructor(
    private readonly bytes: Uint8Array,
    private readonly file: string,
  ) {}

  /**
   * Appends the events of the block whose payload is bytes[start, end) to `events`; a record that
   * makes no sense ends them, and its error is returned (the caller throws it when it gets there).
   */
  decode(start: number, end: number, events: ProbeEvent[]): RecordingError | undefined {
    try {
      this.decodeBlock(start, end, events);
      return undefined;
    } catch (error) {
      if (error instanceof RecordingError) return error;
      throw error;
    }
  }

  // The loop keeps its position in a local (varint() and name() say where they end in this.p,
  // which V8 keeps in a register once it inlines them): a day is millions of records.
  private decodeBlock(start: number, end: number, events: ProbeEvent[]): void {
    const bytes = this.bytes;
    const gateways: GatewayOfBlock[] = [];
    const names: string[] = [];
    this.recordAt = start;
    // `+ 0`: a number to V8 from the start (a call's result is not), so that the time stays a float
    // through the loop instead of a number object made anew for each record.
    let time = this.varint(start, end) + 0;
    let p = this.p;
    while (p < end) {
      this.recordAt = p;
      const tag = bytes[p++]!;
      const kind = tag & 0xc0;
      if (kind === DEFINITIONS) {
        if (tag === TIME_BACK) time -= this.varint(p, end);
        else if (tag === DEFINE_GATEWAY) gateways.push({ name: this.name(p, end), sites: undefined, lostLag: 0 });
        else if (tag === DEFINE_NAME) names.push(this.name(p, end));
        else this.fail(`unknown record type 0x${tag.toString(16)}`);
        p = this.p;
        continue;
      }
      const id = tag & 0x3f;
      const gateway = gateways[id];
      if (gateway === undefined) this.fail(`gateway id ${id} used before it is defined`);
      if (kind === LINK) {
        time += this.varint(p, end);
        const dev = names[this.varint(this.p, end)] ?? this.fail('a device name id used before it is defined');
        p = this.p;
        const up = (p < end ? bytes[p++]! : this.fail('a record runs past the end of its block')) === 1;
        events.push({ kind: 'link', gateway: gateway.name, dev, up, at: time });
        continue;
      }
      if (kind === ROUND_NEW_SITES) {
        const count = this.varint(p, end);
        if (count > end - this.p) this.fail(`a site list of ${count} sites in a block of fewer bytes`);
        const sites: SiteOfGateway[] = [];
        for (let i = 0; i < count; i++) {
          const name = names[this.varint(this.p, end)] ?? this.fail('a site name id used before it is defined');
          sites.push({ echoes: this.site(name), rtt: 0 });
        }
        gateway.sites = sites;
        p = this.p;
      }
      const sites = gateway.sites ?? this.fail(`a round of gateway ${gateway.name} that repeats a site list it never had`);
      let value = this.varint(p, end);
      p = this.p;
      time += value;
      const echoes: Echo[] = new Array(sites.length);
      let slowest = 0;
      let lost = false;
      for (let i = 0; i < sites.length; i++) {
        value = this.varint(p, end);
        p = this.p;
        const site = sites[i]!;
        if (value === 0) {
          echoes[i] = site.echoes.lost;
          lost = true;
        } else if (value === 1) echoes[i] = site.echoes.untimed;
        else {
          const units = site.rtt + unzigzag(value - 2);
          site.rtt = units;
          if (units > slowest) slowest = units;
          echoes[i] = site.echoes.timed[units] ?? this.timed(site.echoes, units);
        }
      }
      value = this.varint(p, end);
      p = this.p;
      const lag = unzigzag(value) + (lost ? gateway.lostLag : Math.ceil(slowest / 10));
      if (lost) gateway.lostLag = lag;
      events[events.length] = { kind: 'round', gateway: gateway.name, at: time - lag, settledAt: time, echoes };
    }
  }

  private site(name: string): SiteEchoes {
    let echoes = this.echoesOf.get(name);
    if (!echoes) {
      echoes = { lost: { site: name, answered: false }, untimed: { site: name, answered: true }, timed: [] };
      this.echoesOf.set(name, echoes);
    }
    return echoes;
  }

  private timed(site: SiteEchoes, units: number): Echo {
    if (units < 0) this.fail('a negative RTT');
    const echo: Echo = { site: site.lost.site, answered: true, rttMs: units / 10 };
    site.timed[units] = echo;
    return echo;
  }

  /** The name (varint length, UTF-8) at bytes[p]; this.p: where it ends. */
  private name(p: number, end: number): string {
    const length = this.varint(p, end);
    const start = this.p;
    if (start + length > end) this.fail('a name runs past the end of its block');
    this.p += length;
    const known = this.knownName(start, length);
    if (known !== undefined) return known;
    let name: string;
    try {
      name = text.decode(this.bytes.subarray(start, this.p));
    } catch {
      return this.fail('a name that is not UTF-8');
    }
    if (this.knownNames.length < MAX_KNOWN_NAMES) this.knownNames.push({ start, length, name });
    return name;
  }

  /** The name already decoded from the same bytes as bytes[start, start + length), if any. */
  private knownName(start: number, length: number): string | undefined {
    const bytes = this.bytes;
    for (const known of this.knownNames) {
      if (known.length !== length) continue;
      let i = 0;
      while (i < length && bytes[known.start + i] === bytes[start + i]) i++;
      if (i === length) return known.name;
    }
    return undefined;
  }

  /** The varint at bytes[p]; this.p: where it ends. */
  private varint(p: number, end: number): number {
    const bytes = this.bytes;
    if (p >= end) this.fail('a record runs past the end of its block');
    let byte = bytes[p++]!;
    if (byte < 0x80) {
      this.p = p;
      return byte;
    }
    let value = byte & 0x7f;
    let scale = 0x80;
    for (let i = 1; i < 8; i++) {
      if (p >= end) this.fail('a record runs past the end of its block');
      byte = bytes[p++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        this.p = p;
        return value;
      }
      scale *= 0x80;
    }
    return this.fail('a number longer than 8 bytes');
  }

  private fail(what: string): never {
    throw new RecordingError(`${this.file}: offset ${this.recordAt}: ${what}`);
  }
}
