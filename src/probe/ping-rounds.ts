// One gateway's rounds over ping(8), the fallback when net-ping cannot load: one long-lived
// `ping -n -O -i INTERVAL -m MARK ADDRESS` per site, its lines turned into echoes, and the k-th
// echo of every site making the gateway's k-th round. While a site's ping is not running (it exits
// when there is no route, e.g. its link is down) or prints nothing, its echoes count as lost.
import { type LineProcess, startLineProcess } from '../system/line-process.js';
import type { Echo, EchoTarget, GatewayRounds, GatewayRoundsOptions, Round, SystemPingFactory } from './echoes.js';

/** What one line of `ping -n -O` says about an echo. */
export type PingLine =
  | { seq: number; kind: 'reply'; rttMs: number }
  /** Printed when the next echo is sent and this one has no reply yet (-O). */
  | { seq: number; kind: 'no-answer-yet' }
  /** An ICMP error (destination unreachable, time exceeded...) came back instead of a reply. */
  | { seq: number; kind: 'error'; text: string };

/** Parses a line of `ping -n -O` output; undefined for lines about no echo (header, duplicates). */
export function parsePingLine(line: string): PingLine | undefined {
  const reply = /^\d+ bytes from \S+: icmp_seq=(\d+) .*time=([\d.]+) ms(?! \(DUP!\))/.exec(line);
  if (reply) return { seq: Number(reply[1]), kind: 'reply', rttMs: Number(reply[2]) };
  const silent = /^no answer yet for icmp_seq=(\d+)$/.exec(line);
  if (silent) return { seq: Number(silent[1]), kind: 'no-answer-yet' };
  const error = /^From \S+ icmp_seq=(\d+) (.+)$/.exec(line);
  if (error) return { seq: Number(error[1]), kind: 'error', text: error[2] as string };
  return undefined;
}

/** An echo whose fate is known, and about how long ago it was sent (for Round.at). */
export interface SettledEcho {
  answered: boolean;
  rttMs?: number;
  ageMs: number;
}

/** The most echoes between the first unsettled one and the one a line is about. */
const MAX_GAP = 1000;

/**
 * Turns one ping's lines into its echoes' outcomes, in sequence order, without a clock: ping sends
 * echo n+1 `intervalMs` after echo n, so any line about echo m proves that echo n < m left at least
 * (m-n)·interval ago (plus m's round trip, or one interval for "no answer yet"). An echo is lost once
 * that is ≥ timeoutMs without its reply, or when its reply says it took longer. Holds only the
 * echoes of the last timeoutMs, so it stays small.
 */
export class SequenceTracker {
  private next = 1; // first echo not settled yet
  private last = 0; // last sequence number seen, unwrapped
  private readonly replies = new Map<number, number | 'error'>();

  constructor(
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
  ) {}

  feed(line: PingLine): SettledEcho[] {
    const seq = this.unwrap(line.seq);
    const settled: SettledEcho[] = [];
    if (seq < this.next) return settled; // a late reply (already counted as lost) or a repeat
    // A jump far beyond the echoes in flight is no news about them: skip, rather than report
    // thousands of losses at once.
    if (seq - this.next > MAX_GAP) this.next = seq;
    if (line.kind === 'reply') this.replies.set(seq, line.rttMs);
    else if (line.kind === 'error') this.replies.set(seq, 'error');
    const sinceSeq = line.kind === 'reply' ? line.rttMs : line.kind === 'no-answer-yet' ? this.intervalMs : 0;
    while (this.next <= seq) {
      const reply = this.replies.get(this.next);
      const ageMs = (seq - this.next) * this.intervalMs + sinceSeq;
      if (reply === undefined && ageMs < this.timeoutMs) break;
      this.replies.delete(this.next);
      this.next++;
      if (typeof reply === 'number' && reply <= this.timeoutMs) settled.push({ answered: true, rttMs: reply, ageMs: reply });
      else settled.push({ answered: false, ageMs: Math.max(ageMs, this.timeoutMs) });
    }
    return settled;
  }

  /** icmp_seq is 16 bits: after 65535 comes 0 (3.6 h at 0.2 s). */
  private unwrap(raw: number): number {
    const delta = ((((raw - this.last) % 65536) + 98304) % 65536) - 32768; // signed 16-bit difference
    this.last += delta;
    return this.last;
  }
}

/** `ping` arguments for one site: numeric, report missing replies (-O), the gateway's mark. */
export function continuousPingArgs(address: string, mark: number, intervalMs: number): string[] {
  return ['-n', '-O', '-i', String(intervalMs / 1000), '-m', String(mark), address];
}

interface SiteStream {
  target: EchoTarget;
  process: LineProcess;
  tracker: SequenceTracker;
  /** Settled echoes (with the clock time they were sent) not yet in a round. */
  queue: Array<{ echo: Echo; at: number }>;
  /** options.now() of the last echo settled (or of the start). */
  lastSettled: number;
}

export function startPingRounds(
  targets: EchoTarget[],
  options: GatewayRoundsOptions,
  emit: (round: Round) => void,
  ping: SystemPingFactory,
): GatewayRounds {
  const { intervalMs, timeoutMs, now } = options;
  // Without a line for this long a site's ping is dead or stuck: lost echoes stand in for its own.
  const silenceMs = timeoutMs + 3 * intervalMs;
  const streams = new Map<string, SiteStream>(); // by site, in the targets' order
  const stopping = new Set<Promise<void>>(); // pings of removed sites still exiting
  let stopped = false;

  // Echoes a site may be ahead of the slowest before its oldest are dropped. A lost echo settles
  // about timeoutMs after it was sent, while an answered one settles at once, hence the timeout's
  // worth of echoes; more than that is two pings' schedules drifting apart over the hours.
  const maxQueued = Math.ceil(timeoutMs / intervalMs) + 3;
  const push = (stream: SiteStream, echo: Echo, at: number): void => {
    stream.queue.push({ echo, at });
    if (stream.queue.length > maxQueued) stream.queue.shift();
    while (!stopped && [...streams.values()].every((other) => other.queue.length > 0)) {
      const taken = [...streams.values()].map((other) => other.queue.shift() as { echo: Echo; at: number });
      emit({ at: Math.min(...taken.map(({ at }) => at)), echoes: taken.map(({ echo }) => echo) });
    }
  };

  const startStream = (target: EchoTarget): SiteStream => {
    const { file, args } = ping(continuousPingArgs(target.address, target.mark, intervalMs));
    const stream: SiteStream = {
      target,
      tracker: new SequenceTracker(intervalMs, timeoutMs),
      queue: [],
      lastSettled: now(),
      process: startLineProcess(file, args, {
        onLine(line) {
          const parsed = parsePingLine(line);
          if (parsed === undefined) return;
          for (const { answered, rttMs, ageMs } of stream.tracker.feed(parsed)) {
            const at = now();
            stream.lastSettled = at;
            push(stream, rttMs === undefined ? { site: target.site, answered } : { site: target.site, answered, rttMs }, at - ageMs);
          }
        },
        // The next ping counts from icmp_seq=1 again.
        onExit() {
          stream.tracker = new SequenceTracker(intervalMs, timeoutMs);
        },
        restartDelayMs: intervalMs,
      }),
    };
    return stream;
  };

  // Stand-ins for a silent site: as many as the other sites have echoes waiting (at least one per
  // interval), so that their rounds go out now instead of staying that far behind for good.
  const fillSilence = (): void => {
    const at = now();
    for (const stream of streams.values()) {
      if (at - stream.lastSettled < silenceMs) continue;
      stream.lastSettled = at - silenceMs + intervalMs;
      const missing = Math.max(1, ...[...streams.values()].map((other) => other.queue.length)) - stream.queue.length;
      for (let i = 0; i < missing; i++) push(stream, { site: stream.target.site, answered: false }, at - timeoutMs);
    }
  };

  const setTargets = (wanted: EchoTarget[]): void => {
    const kept = new Map<string, SiteStream>();
    for (const target of wanted) {
      const stream = streams.get(target.site);
      if (stream !== undefined && stream.target.address === target.address && stream.target.mark === target.mark)
        kept.set(target.site, stream);
      else kept.set(target.site, startStream(target));
    }
    for (const [site, stream] of streams) {
      if (kept.get(site) === stream) continue;
      const exited = stream.process.stop().finally(() => stopping.delete(exited));
      stopping.add(exited);
    }
    streams.clear();
    for (const [site, stream] of kept) streams.set(site, stream);
  };

  setTargets(targets);
  const watchdog = setInterval(fillSilence, intervalMs);
  return {
    setTargets(wanted) {
      if (!stopped) setTargets(wanted);
    },
    // A new ping sends its first echo at once; the killed ones' echoes in flight are not reported.
    probeNow() {
      for (const stream of streams.values()) stream.process.restartNow();
    },
    async stop() {
      stopped = true;
      clearInterval(watchdog);
      await Promise.all([...[...streams.values()].map((stream) => stream.process.stop()), ...stopping]);
      streams.clear();
    },
  };
}
