// One gateway's rounds over net-ping: a long-lived session per address family (its own ICMP
// identifier, SO_MARK = the gateway's probe mark), reused for every echo. The session helpers of
// icmp.ts keep net-ping's traps handled. The echoes bypass net-ping's per-request machinery, the
// daemon's main cost at 100 echoes a second: each is written at once (echoRequestSender), its
// reply comes through the reply hub by sequence number, and one timer per round times out
// whatever of it is still unanswered.
import net from 'node:net';
import type { EchoTarget, GatewayRounds, GatewayRoundsOptions, Round } from './echoes.js';
import { closeSession, echoRequestSender, type NetPingSession, openSession, requireNetPing } from './icmp.js';
import { type Family, joinReplyHub, leaveReplyHub } from './reply-hub.js';

interface OpenSession {
  session: NetPingSession;
  sessionId: number;
  send: (sequence: number) => void;
}
/** A round whose echoes are not all settled yet. */
interface PendingRound extends Round {
  pending: number;
  /** Each echo's sequence number while it waits for its reply, else -1. */
  sequences: number[];
  /** performance.now() when its echoes went out: each gets the whole timeout from there. */
  sentAt: number;
  timer?: NodeJS.Timeout;
}
/** An echo waiting for its reply. */
interface InFlight {
  round: PendingRound;
  index: number;
  family: Family;
  sentAt: number;
}

/** Sequence numbers are 16 bits; a gateway has at most a few rounds of echoes in flight. */
const SEQUENCES = 0x10000;

/** A target and its address family, found once: net.isIPv6() is a long regular expression. */
type Site = EchoTarget & { family: Family };
const withFamily = (targets: EchoTarget[]): Site[] => targets.map((target) => ({ ...target, family: net.isIPv6(target.address) ? 6 : 4 }));

export function startIcmpRounds(targets: EchoTarget[], options: GatewayRoundsOptions, emit: (round: Round) => void): GatewayRounds {
  const np = requireNetPing();
  let sites = withFamily(targets);
  let stopped = false;
  let nextSequence = Math.floor(Math.random() * SEQUENCES);
  const sessions = new Map<Family, OpenSession>();
  // Echoes waiting for their reply by sequence number. Every echo settles within timeoutMs (its
  // round's timer) or when its session closes, so this and `rounds` stay as small as the echoes
  // in flight.
  const inFlight = new Map<number, InFlight>();
  // Rounds not settled yet. Each is reported the moment it settles, even before an earlier one:
  // the health judges rounds in the order they were sent, and a round that answered must be able
  // to outvote an earlier one still waiting for its timeout (src/core/health.ts).
  const rounds = new Set<PendingRound>();

  const report = (round: PendingRound): void => {
    if (stopped || round.pending > 0 || !rounds.delete(round)) return;
    clearTimeout(round.timer);
    emit({ at: round.at, echoes: round.echoes });
  };

  /** Settles one echo of `round`: answered with its round-trip time, or lost (undefined). */
  const settle = (round: PendingRound, index: number, rttMs: number | undefined): void => {
    round.sequences[index] = -1;
    const echo = round.echoes[index];
    if (rttMs !== undefined && echo !== undefined)
      round.echoes[index] = { site: echo.site, answered: true, rttMs: Math.round(rttMs * 100) / 100 };
    round.pending--;
    report(round);
  };

  const onReply = (family: Family, sequence: number, answered: boolean): void => {
    const echo = inFlight.get(sequence);
    if (echo === undefined || echo.family !== family) return; // late (timed out) or not ours
    inFlight.delete(sequence);
    settle(echo.round, echo.index, answered ? performance.now() - echo.sentAt : undefined);
  };

  const timeOut = (round: PendingRound): void => {
    // A timer counts from the event loop's cached time, which may be a few ms older than the
    // send: an echo is lost only once it has really had its whole timeout.
    const left = options.timeoutMs - (performance.now() - round.sentAt);
    if (left > 0) {
      round.timer = setTimeout(timeOut, Math.ceil(left), round);
      return;
    }
    for (const [index, sequence] of round.sequences.entries()) {
      if (sequence < 0) continue;
      inFlight.delete(sequence);
      round.sequences[index] = -1;
      round.pending--;
    }
    report(round);
  };

  const close = (family: Family, { session, sessionId }: OpenSession): void => {
    leaveReplyHub(family, sessionId);
    closeSession(sessionId, session);
    // Its echoes in flight will get no reply now: not answered.
    for (const [sequence, echo] of inFlight) {
      if (echo.family !== family) continue;
      inFlight.delete(sequence);
      settle(echo.round, echo.index, undefined);
    }
  };
  const closeAll = (): void => {
    const open = [...sessions];
    sessions.clear();
    for (const [family, opened] of open) close(family, opened);
  };

  const sessionFor = (family: Family, address: string): OpenSession | undefined => {
    const known = sessions.get(family);
    if (known !== undefined) return known;
    const opened = openSession(np, address, { timeoutMs: options.timeoutMs, mark: sites[0]?.mark });
    // E.g. no descriptor left: this echo is not answered, the next round tries again.
    if ('error' in opened) return undefined;
    let send: (sequence: number) => void;
    try {
      send = echoRequestSender(opened.session, address, opened.sessionId);
    } catch {
      closeSession(opened.sessionId, opened.session);
      return undefined;
    }
    const open: OpenSession = { ...opened, send };
    sessions.set(family, open);
    joinReplyHub(family, opened.sessionId, opened.session, (sequence, answered) => onReply(family, sequence, answered));
    // A socket error closes the socket: drop the session so that the next round opens a new one.
    // Listening also keeps the error from being thrown.
    opened.session.on('error', () => {
      if (sessions.get(family) !== open) return;
      sessions.delete(family);
      close(family, open);
    });
    return open;
  };

  const sendRound = (): void => {
    const round: PendingRound = {
      at: options.now(),
      echoes: sites.map(({ site }) => ({ site, answered: false })),
      pending: sites.length,
      sequences: sites.map(() => -1),
      sentAt: performance.now(),
    };
    rounds.add(round);
    for (const [index, { address, family }] of sites.entries()) {
      const session = sessionFor(family, address);
      if (session === undefined) {
        round.pending--;
        continue;
      }
      const sequence = nextSequence;
      nextSequence = (nextSequence + 1) % SEQUENCES;
      try {
        session.send(sequence);
      } catch {
        round.pending--; // e.g. no route: not answered
        continue;
      }
      inFlight.set(sequence, { round, index, family, sentAt: performance.now() });
      round.sequences[index] = sequence;
    }
    if (round.pending > 0) round.timer = setTimeout(timeOut, options.timeoutMs, round);
    report(round);
  };

  let timer: NodeJS.Timeout | undefined;
  const restartTimer = (): void => {
    clearInterval(timer);
    sendRound();
    timer = setInterval(sendRound, options.intervalMs);
  };

  restartTimer();
  return {
    setTargets(targets) {
      const mark = targets[0]?.mark;
      if (mark !== sites[0]?.mark) closeAll(); // the next round opens sessions with the new mark
      sites = withFamily(targets);
    },
    probeNow() {
      if (!stopped) restartTimer();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      for (const round of rounds) clearTimeout(round.timer);
      closeAll();
      rounds.clear();
      inFlight.clear();
    },
  };
}
