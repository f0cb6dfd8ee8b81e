// post-replace.d hooks: run-parts semantics, NetGWM's six arguments, no shell, a timeout each.
import { constants } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { GatewayInfo } from '../core/types.js';

/** Editor and package-manager leftovers that must never run as hooks. */
const LEFTOVER = /(~|\.dpkg-(old|dist|new|tmp|bak)|\.ucf-(old|dist|new)|\.rpm(save|new|orig))$/;
const UNKNOWN = 'NaN';
const TAIL_CHARS = 400;
/** After SIGTERM, the hook's process group gets SIGKILL this much later. */
const KILL_AFTER_MS = 1000;
/** How long output may still arrive after a hook exited. */
const PIPE_GRACE_MS = 100;

export interface HookResult {
  hook: string;
  exitCode?: number;
  signal?: string;
  timedOut: boolean;
  durationMs: number;
  stderrTail: string;
  stdoutTail: string;
}

/** Executable regular files in `dir`, sorted by name; a missing directory has none. */
export async function listHooks(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return [];
    throw error;
  });
  const hooks: string[] = [];
  for (const name of names.sort()) {
    if (name.startsWith('.') || LEFTOVER.test(name)) continue;
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) continue;
    if (await access(path, constants.X_OK).then(() => true, () => false)) hooks.push(path);
  }
  return hooks;
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
export function hookEnvironment(next: GatewayInfo, previous: GatewayInfo | undefined, reason: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const [newName, newIp, newDev, oldName, oldIp, oldDev] = hookArguments(next, previous) as [string, string, string, string, string, string];
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
export async function runHook(path: string, args: string[], env: Record<string, string>, timeoutMs: number, signal?: AbortSignal): Promise<HookResult> {
  const started = performance.now();
  const child = execa(path, args, { env, extendEnv: false, detached: true, stdin: 'ignore', reject: false, maxBuffer: 1024 * 1024 });
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
    stderrTail: tail(String(result.stderr ?? '') || (result.exitCode === undefined && !result.signal ? result.shortMessage ?? '' : '')),
    stdoutTail: tail(String(result.stdout ?? '')),
  };
}

function tail(text: string): string {
  const flat = text.trim().replace(/\s*\n\s*/g, ' | ');
  return flat.length > TAIL_CHARS ? `…${flat.slice(-TAIL_CHARS)}` : flat;
}
