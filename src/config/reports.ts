// Config keys of what netgwm reports besides its log: NetGWM's per-gateway status files and the
// Prometheus metrics (see src/report/). The keys and their cross-field check live here together.
import { isAbsolute } from 'node:path';
import { isIP } from 'node:net';
import * as z from 'zod';

/** A file or directory: no NUL (no system call takes it) and no control character (it is logged). */
export const filePath = z.string().regex(/^[ -~\u0080-\uffff]+$/, 'expected a path of printable characters');
const absolutePath = filePath.refine(isAbsolute, 'expected an absolute path');
const LISTEN = /^(?:\[([0-9a-f:.]+)\]|([0-9.]+|localhost)):(\d{1,5})$/i;

export const DEFAULT_STATUS_DIR = '/run/netgwm';

/** Spread into the config schema. */
export const reportKeys = {
  /** NetGWM's `<dir>/<gateway>` files (`up:<site>:<rtt>` or `down`); false: none. */
  status_dir: z.union([absolutePath, z.literal(false)]).default(DEFAULT_STATUS_DIR),
  /** Prometheus text file, rewritten atomically after every cycle (node_exporter's textfile collector). */
  metrics_file: absolutePath
    .refine((path) => path.endsWith('.prom'), 'expected a file name ending in .prom (node_exporter reads only those)')
    .optional(),
  /** `ADDR:PORT` where the daemon serves /metrics; loopback only unless metrics_allow_remote. */
  metrics_listen: z
    .string()
    .refine((text) => parseListen(text) !== undefined, 'expected ADDRESS:PORT such as 127.0.0.1:9559 or [::1]:9559')
    .optional(),
  metrics_allow_remote: z.boolean().default(false),
};

export interface ListenAddress {
  host: string;
  port: number;
}

export function parseListen(text: string): ListenAddress | undefined {
  const match = LISTEN.exec(text);
  if (!match) return undefined;
  const host = match[1] ?? match[2]!;
  const port = Number(match[3]);
  if (port < 1 || port > 65535 || (host !== 'localhost' && isIP(host) === 0)) return undefined;
  return { host, port };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/** `[key, message]` pairs: a metrics endpoint open to the network must be asked for by name. */
export function checkReports(file: { metrics_listen?: string; metrics_allow_remote: boolean }): Array<[string, string]> {
  const listen = file.metrics_listen === undefined ? undefined : parseListen(file.metrics_listen);
  if (!listen || isLoopback(listen.host) || file.metrics_allow_remote) return [];
  return [
    [
      'metrics_listen',
      `${file.metrics_listen} is not a loopback address, so anyone who reaches it could read the metrics; use 127.0.0.1:${listen.port}, or set metrics_allow_remote: true to mean it`,
    ],
  ];
}
