// Running post-replace.d hooks: NetGWM's six arguments, no shell, a timeout each. Which hooks may
// run (run-parts semantics, root-owned only) is hook-list.ts.
import { userInfo } from 'node:os';
import type { Readable } from 'node:stream';
import { execa } from 'execa';
import type { GatewayInfo } from '../core/types.js';
import { startProcess } from './spawn-guard.js';

const UNKNOWN = 'NaN';
const TAIL_CHARS = 400;
/** After SIGTERM, the hook's process group gets SIGKILL this much later. */
const KILL_AFTER_MS = 1000;
/** How long output may still arrive after a hook exited. */
const PIPE_GRACE_MS = 100;
/** Bytes of each output stream kept (the last ones); the rest is read and dropped. */
const OUTPUT_KEPT_BYTES = 64 * 1024;

export interface HookResult {
  hook: string;
  exitCode?: number;
  signal?: string;
  timedOut: boolean;
  durationMs: number;
  stderrTail: string;
  stdoutTail: string;
  /** Bytes of output read but not kept, beyond OUTPUT_KEPT_BYTES. */
  stdoutDropped: number;
  stderrDropped: number;
}

/** NetGWM's six arguments: new name, ip, dev; old name, ip, dev; `NaN` when unknown. */
export function hookArguments(next: GatewayInfo, previous?: GatewayInfo): string[] {
  return [next.name, next.ip, next.dev, previous?.name, previous?.ip, previous?.dev].map((value) => value || UNKNOWN);
}

/**
 * The same values by name, in a fixed, cron-like environment: a hook sees the same variables
 * whether the daemon runs it under systemd (which sets no HOME or LOGNAME) or `netgwm run` runs
 * it from cron. Nothing else is inherited, so a hook never depends on how netgwm was started.
 */
export function hookEnvironment(
  next: GatewayInfo,
  previous: GatewayInfo | undefined,
  reason: string,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const [newName, newIp, newDev, oldName, oldIp, oldDev] = hookArguments(next, previous) as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  return {
    ...userEnvironment(),
    // cron's SHELL is /bin/sh whatever the user's login shell; its PATH is shorter, but
    // /usr/local and the sbin directories are where an admin's tools are.
    SHELL: '/bin/sh',
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: env.LANG ?? 'C.UTF-8',
    ...(env.TZ === undefined ? {} : { TZ: env.TZ }),
    NETGWM_EVENT: previous ? 'switch' : 'start',
    NETGWM_NEW_NAME: newName,
    NETGWM_NEW_IP: newIp,
    NETGWM_NEW_DEV: newDev,
    NETGWM_OLD_NAME: oldName,
    NETGWM_OLD_IP: oldIp,
    NETGWM_OLD_DEV: oldDev,
    NETGWM_REASON: reason,
  };
}

/** HOME, LOGNAME and USER of the user netgwm runs as, from the password database as cron does. */
function userEnvironment(): Record<string, string> {
  try {
    const user = userInfo();
    return { HOME: user.homedir, LOGNAME: user.username, USER: user.username };
  } catch {
    return {}; // a uid without a passwd entry, as in some containers: cron would not run it at all
  }
}

/**
 * Runs one hook in its own process group, so a timeout kills whatever it started too.
 * Never throws: a failing or hanging hook must not stop the others or the next cycle.
 */
export async function runHook(
  path: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<HookResult> {
  const started = performance.now();
  // Output is read to its end, however long, so that a talkative hook is neither blocked nor
  // killed by SIGPIPE; only its last bytes are kept.
  const child = startProcess(path, () =>
    execa(path, args, { env, extendEnv: false, detached: true, stdin: 'ignore', reject: false, buffer: false }),
  );
  if (child instanceof Error)
    return {
      hook: path,
      timedOut: false,
      durationMs: 0,
      stderrTail: tail(child.message),
      stdoutTail: '',
      stdoutDropped: 0,
      stderrDropped: 0,
    };
  const stdout = keepLast(child.stdout, OUTPUT_KEPT_BYTES);
  const stderr = keepLast(child.stderr, OUTPUT_KEPT_BYTES);
  const killGroup = (reason: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, reason);
    } catch {
      // Already gone.
    }
  };
  let stopping = false;
  let killTimer: NodeJS.Timeout | undefined;
  const stop = () => {
    stopping = true;
    killGroup('SIGTERM');
    killTimer = setTimeout(() => killGroup('SIGKILL'), KILL_AFTER_MS);
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, timeoutMs);
  signal?.addEventListener('abort', stop, { once: true });
  child.once('exit', () => {
    // Once a stopped hook is gone, what is left of its group dies now, not at a timer that could
    // outlive the group's ID. A hook that exited by itself keeps what it started (a VPN daemon).
    if (stopping) {
      clearTimeout(killTimer);
      killGroup('SIGKILL');
    }
    // Something it started in a new session may still hold its output: close our end soon, so
    // that the cycle does not wait for it.
    setTimeout(() => {
      child.stdout?.destroy();
      child.stderr?.destroy();
    }, PIPE_GRACE_MS).unref();
  });
  const result = await child;
  clearTimeout(timer);
  signal?.removeEventListener('abort', stop);
  return {
    hook: path,
    exitCode: result.exitCode,
    signal: result.signal,
    timedOut,
    durationMs: Math.round(performance.now() - started),
    stderrTail: tail(stderr.text() || (result.exitCode === undefined && !result.signal ? (result.shortMessage ?? '') : '')),
    stdoutTail: tail(stdout.text()),
    stdoutDropped: stdout.dropped(),
    stderrDropped: stderr.dropped(),
  };
}

/** Reads `stream` to its end, keeping its last `cap` bytes and counting the others. */
function keepLast(stream: Readable | null, cap: number): { text: () => string; dropped: () => number } {
  const chunks: Buffer[] = [];
  let kept = 0;
  let dropped = 0;
  stream?.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    kept += chunk.length;
    for (let first = chunks[0]; first && kept - first.length >= cap; first = chunks[0]) {
      chunks.shift();
      kept -= first.length;
      dropped += first.length;
    }
  });
  stream?.on('error', () => undefined); // a pipe closed under a grandchild: what came is kept
  return {
    text: () => {
      const all = Buffer.concat(chunks);
      return all.subarray(Math.max(0, all.length - cap)).toString('utf8');
    },
    dropped: () => dropped + Math.max(0, kept - cap),
  };
}

function tail(text: string): string {
  const flat = text.trim().replace(/\s*\n\s*/g, ' | ');
  return flat.length > TAIL_CHARS ? `…${flat.slice(-TAIL_CHARS)}` : flat;
}
