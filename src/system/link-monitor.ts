// Link, address and route changes as the kernel announces them, from a long-lived
// `ip -4 -o monitor label link address route` (iproute2 6.1 prints no JSON for monitor, so its
// one-line text is parsed), and the carrier of every link for the initial state.
import type { Exec } from './exec.js';
import { startLineProcess } from './line-process.js';

export type LinkEvent =
  /** `up`: the link has a carrier (LOWER_UP); `gone`: the link was deleted. */
  | { kind: 'link'; dev: string; up: boolean; gone?: boolean }
  /** Something changed; read the routing again to know what. */
  | { kind: 'route' | 'address' };

export interface LinkMonitorOptions {
  /**
   * The address families whose address and route changes are watched: [4] (the default) or, with
   * IPv6 gateways, [4, 6] (or [6]). Links are announced whatever the families.
   */
  families?: ReadonlyArray<4 | 6>;
  /** The monitor died and is being restarted (events may have been missed meanwhile: read again). */
  onRestart?: (why: string) => void;
  /** How to start `ip` with these arguments; tests wrap it (e.g. in `ip netns exec`). */
  command?: (args: string[]) => { file: string; args: string[] };
}

// `-4`: addresses and routes of IPv4 only (netgwm's gateways are IPv4; IPv6 router
// advertisements would each run a cycle for nothing); links are announced whatever the family.
export const MONITOR_ARGS = ['-4', '-o', 'monitor', 'label', 'link', 'address', 'route'];

/**
 * Calls `onEvent` for every change until stopped; restarts the monitor if it dies. The kernel
 * announces a link on many changes (flags, MTU, state): compare `up` with the last one seen.
 */
export function watchLinks(onEvent: (event: LinkEvent) => void, options: LinkMonitorOptions = {}): { stop(): Promise<void> } {
  const { file, args } = options.command?.(MONITOR_ARGS) ?? { file: 'ip', args: MONITOR_ARGS };
  const monitor = startLineProcess(file, args, {
    onLine(line) {
      const event = parseMonitorLine(line);
      if (event !== undefined) onEvent(event);
    },
    onExit: options.onRestart,
  });
  return { stop: () => monitor.stop() };
}

/**
 * One line of `ip -o monitor label link address route`, e.g.
 * `[LINK]Deleted 4: vc@NONE: <BROADCAST,MULTICAST> mtu 1500 …` or `[ROUTE]203.0.113.0/24 via …`.
 * Undefined for anything else.
 */
export function parseMonitorLine(line: string): LinkEvent | undefined {
  const labelled = /^\[(LINK|ADDR|ROUTE)\](.*)$/.exec(line);
  if (!labelled) return undefined;
  if (labelled[1] === 'ROUTE') return { kind: 'route' };
  if (labelled[1] === 'ADDR') return { kind: 'address' };
  // `NAME@PEER` for veth, vlan...; the name alone is what `dev` means elsewhere.
  const link = /^(Deleted )?\d+: ([^:@\s]+)(?:@[^:\s]*)?: <([^>]*)>/.exec(labelled[2] as string);
  if (!link) return undefined;
  const event: LinkEvent = { kind: 'link', dev: link[2] as string, up: hasCarrier((link[3] as string).split(',')) };
  if (link[1] !== undefined) event.gone = true;
  return event;
}

/** Carrier of every link: `ip -j link show`, name → LOWER_UP. */
export async function readLinks(exec: Exec): Promise<Record<string, boolean>> {
  const { stdout } = await exec('ip', ['-j', 'link', 'show']);
  return parseLinks(stdout);
}

export function parseLinks(json: string): Record<string, boolean> {
  const links = JSON.parse(json.trim() || '[]') as Array<{ ifname?: string; flags?: string[] }>;
  const carrier: Record<string, boolean> = {};
  for (const { ifname, flags } of links) if (ifname !== undefined) carrier[ifname] = hasCarrier(flags ?? []);
  return carrier;
}

function hasCarrier(flags: string[]): boolean {
  return flags.includes('LOWER_UP');
}
