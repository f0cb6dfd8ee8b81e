// One gateway's rounds over net-ping: a long-lived session per address family (its own ICMP
// identifier, SO_MARK = the gateway's probe mark), reused for every echo. The session helpers of
// icmp.ts keep net-ping's traps handled.
import net from 'node:net';
import type { EchoTarget, GatewayRounds, GatewayRoundsOptions, Round } from './echoes.js';
import { closeSession, type EchoCallback, type NetPingSession, onEchoSent, openSession, requireNetPing } from './icmp.js';
import { type Family, joinReplyHub, leaveReplyHub } from './reply-hub.js';

interface OpenSession {
  session: NetPingSession;
  sessionId: number;
}
/** A round whose echoes are not all settled yet. */
interface PendingRound extends Round {
  pending: number;
}

export function startIcmpRounds(targets: EchoTarget[], options: GatewayRoundsOptions, emit: (round: Round) => void): GatewayRounds {
  const np = requireNetPing();
  let sites = targets;
  let stopped = false;
  const sessions = new Map<Family, OpenSession>();
  // Echoes in flight → when each left the socket. Every echo settles within timeoutMs (net-ping's
  // timer) or when its session closes, so this and `rounds` stay as small as the echoes in flight.
  const sentAt = new Map<EchoCallback, number | undefined>();
  // Rounds not settled yet. Each is reported the moment it settles, even before an earlier one:
  // the health judges rounds in the order they were sent, and a round that answered must be able
  // to outvote an earlier one still waiting for its timeout (src/core/health.ts).
  const rounds = new Set<PendingRound>();

  const close = (family: Family, { session, sessionId }: OpenSession): void => {
    leaveReplyHub(family, sessionId);
    // Closing fails the session's pending echoes through their callbacks: not answered.
    closeSession(sessionId, session);
  };
  const closeAll = (): void => {
    const open = [...sessions];
    sessions.clear();
    for (const [family, opened] of open) close(family, opened);
  };

  const sessionFor = (address: string): NetPingSession | undefined => {
    const family: Family = net.isIPv6(address) ? 6 : 4;
    const known = sessions.get(family);
    if (known !== undefined) return known.session;
    const opened = openSession(np, address, { timeoutMs: options.timeoutMs, mark: sites[0]?.mark });
    // E.g. no descriptor left: this echo is not answered, the next round tries again.
    if ('error' in opened) return undefined;
    sessions.set(family, opened);
    joinReplyHub(family, opened.sessionId, opened.session);
    onEchoSent(opened.session, (callback) => {
      if (sentAt.has(callback)) sentAt.set(callback, performance.now());
    });
    // A socket error closes the socket (its echoes fail with "Socket closed"): drop the session
    // so that the next round opens a new one. Listening also keeps the error from being thrown.
    opened.session.on('error', () => {
      if (sessions.get(family) !== opened) return;
      sessions.delete(family);
      close(family, opened);
    });
    return opened.session;
  };

  const report = (round: PendingRound): void => {
    if (stopped || round.pending > 0 || !rounds.delete(round)) return;
    emit({ at: round.at, echoes: round.echoes });
  };

  const sendRound = (): void => {
    const round: PendingRound = { at: options.now(), echoes: sites.map(({ site }) => ({ site, answered: false })), pending: sites.length };
    rounds.add(round);
    for (const [index, { address }] of sites.entries()) {
      const session = sessionFor(address);
      if (session === undefined) {
        round.pending--;
        continue;
      }
      const callback: EchoCallback = (error) => {
        if (!sentAt.has(callback)) return; // already settled
        const sent = sentAt.get(callback);
        sentAt.delete(callback);
        if (error === null && sent !== undefined) {
          const echo = round.echoes[index];
          if (echo !== undefined)
            round.echoes[index] = { site: echo.site, answered: true, rttMs: Math.round((performance.now() - sent) * 100) / 100 };
        }
        round.pending--;
        report(round);
      };
      sentAt.set(callback, undefined);
      try {
        session.pingHost(address, callback);
      } catch {
        callback(new Error('send failed'), address);
      }
    }
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
      sites = targets;
    },
    probeNow() {
      if (!stopped) restartTimer();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      closeAll();
      rounds.clear();
      sentAt.clear();
    },
  };
}
