// Probing with iputils ping(8): the fallback when net-ping's native module cannot load (e.g. it was
// built for another Node ABI than the one running). Same contract as pingAddress: it resolves for
// every network failure and rejects only for a programming error.
import net from 'node:net';
import type { Exec, ExecResult } from '../system/exec.js';
import type { PingOptions, PingResult } from './icmp.js';
import type { Ping } from './probe.js';

/** Seconds between echoes. ping's default is 1 s; root may go down to 2 ms. */
const INTERVAL_S = 0.01;
/** Extra time before a ping that ignores its own -W is killed. */
const KILL_SLACK_MS = 2000;

/** A Ping that runs `ping` through `exec` (inside whatever network namespace `exec` runs in). */
export function createSystemPing(exec: Exec): Ping {
  return async (address, options) => {
    // Never let anything but an address reach ping's argv, where "-…" would be read as an option.
    if (net.isIP(address) === 0) throw new Error(`system ping: not an IP address: ${JSON.stringify(address)}`);
    if (options.signal?.aborted) return { address, answered: false, replies: 0, sent: 0 };
    const timeoutMs = options.timeoutMs + options.count * INTERVAL_S * 1000 + KILL_SLACK_MS;
    const result = parsePing(address, await exec('ping', pingArgs(address, options), { reject: false, timeoutMs, signal: options.signal }));
    // Aborted: what ping had not answered yet simply counts as not answered, as in pingAddress.
    if (options.signal?.aborted) delete result.error;
    return result;
  };
}

/**
 * `-W` waits only while no reply came; once one did, ping waits at most two round trips more.
 * `-m` takes the mark in decimal.
 */
export function pingArgs(address: string, options: Pick<PingOptions, 'count' | 'timeoutMs' | 'mark'>): string[] {
  const mark = options.mark === undefined ? [] : ['-m', String(options.mark)];
  return ['-n', '-q', '-c', String(options.count), '-i', String(INTERVAL_S), '-W', String(options.timeoutMs / 1000), ...mark, address];
}

/** Reads ping's summary: `2 packets transmitted, 1 received, +1 errors, …` and `rtt min/avg/max/mdev = …`. */
export function parsePing(address: string, { stdout, stderr, exitCode }: ExecResult): PingResult {
  const counts = /(\d+) packets transmitted, (\d+) received(?:, \+\d+ duplicates)?(?:, \+(\d+) errors)?/.exec(stdout);
  const sent = Number(counts?.[1] ?? 0);
  const replies = Number(counts?.[2] ?? 0);
  const result: PingResult = { address, answered: replies > 0, replies, sent };
  const average = /^rtt [^=]+= [\d.]+\/([\d.]+)\//m.exec(stdout);
  if (average) result.rttMs = Math.round(Number(average[1]) * 100) / 100;
  const problem = stderr.trim().split('\n').at(-1);
  if (exitCode === -1) result.error = 'ping was killed: it ran past its own deadline';
  else if (problem) result.error = problem.replace(/^ping: /, '');
  else if (counts?.[3]) result.error = `${counts[3]} ICMP error(s) came back instead of replies`;
  return result;
}
