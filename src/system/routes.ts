// The default route, the check table and the probe rule, read and written with `ip`.
import type { Gateway, GatewayInfo } from '../core/types.js';
import { CommandError } from '../errors.js';
import type { Exec } from './exec.js';

export interface DefaultRoute {
  gateway?: string;
  dev: string;
  metric: number;
}

/** Parses `ip -j route show default`: several default routes, any device name, kernel's pick first. */
export function parseDefaultRoutes(json: string): DefaultRoute[] {
  const entries = JSON.parse(json || '[]') as Array<{ dst?: string; gateway?: string; dev?: string; metric?: number; type?: string }>;
  return entries
    .filter((entry) => entry.dst === 'default' && entry.dev !== undefined && (entry.type ?? 'unicast') === 'unicast')
    .map((entry) => ({ gateway: entry.gateway, dev: entry.dev!, metric: entry.metric ?? 0 }))
    .sort((a, b) => a.metric - b.metric);
}

/** The configured gateway the kernel's default route goes through, if any. */
export function matchGateway(route: DefaultRoute | undefined, gateways: Gateway[]): Gateway | undefined {
  if (!route) return undefined;
  return gateways.find((gateway) =>
    gateway.ip !== undefined ? gateway.ip === route.gateway && (gateway.dev === undefined || gateway.dev === route.dev) : gateway.dev === route.dev,
  );
}

/** A gateway as hooks and log lines name it: the dev the kernel uses when the config names none. */
export function gatewayInfo(gateway: Gateway, route: DefaultRoute | undefined): GatewayInfo {
  return { name: gateway.name, ip: gateway.ip ?? route?.gateway, dev: gateway.dev ?? route?.dev };
}

export async function readDefaultRoutes(exec: Exec): Promise<DefaultRoute[]> {
  const { stdout } = await exec('ip', ['-j', '-4', 'route', 'show', 'table', 'main', 'default']);
  return parseDefaultRoutes(stdout);
}

/** `ip route replace default via IP [dev DEV]` in the main table (or `table`), as argv. */
export function defaultRouteArgs(gateway: Pick<Gateway, 'ip' | 'dev'>, table?: number, verb: 'replace' | 'add' = 'replace'): string[] {
  return [
    'route', verb, 'default',
    ...(gateway.ip ? ['via', gateway.ip] : []),
    ...(gateway.dev ? ['dev', gateway.dev] : []),
    ...(table === undefined ? [] : ['table', String(table)]),
  ];
}

/** Replaces the main default route, checks the kernel now uses it, and returns it as the kernel has it. */
export async function replaceDefaultRoute(exec: Exec, gateway: Gateway): Promise<DefaultRoute> {
  const argv = defaultRouteArgs(gateway);
  await exec('ip', ['-4', ...argv]);
  const now = (await readDefaultRoutes(exec))[0];
  if (!matchGateway(now, [gateway])) throw new CommandError(['ip', ...argv], 0, 'the command succeeded but the kernel still prefers another default route (one with a lower metric?)');
  return now!;
}
