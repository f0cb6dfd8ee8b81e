// Config keys of what netgwm reports besides its log: NetGWM's per-gateway status files, the
// Prometheus metrics (see src/report/) and the status page (src/web/). The keys and their
// cross-field checks live here together.
import { isAbsolute } from 'node:path';
import { isIP } from 'node:net';
import * as z from 'zod';

/** A file or directory: no NUL (no system call takes it) and no control character (it is logged). */
export const filePath = z.string().regex(/^[ -~\u0080-\uffff]+$/, 'expected a path of printable characters');
const absolutePath = filePath.refine(isAbsolute, 'expected an absolute path');
const LISTEN = /^(?:\[([0-9a-f:.]+)\]|([0-9.]+|localhost)):(\d{1,5})$/i;

export const DEFAULT_STATUS_DIR = '/run/netgwm';
export const DEFAULT_PASSWORD_FILE = '/etc/netgwm/web.passwd';

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
  /** `ADDR:PORT` where the daemon serves the status page and its JSON (/api/…); the same as metrics_listen: one server for both. */
  web_listen: z
    .string()
    .refine((text) => parseListen(text) !== undefined, 'expected ADDRESS:PORT such as 127.0.0.1:9560 or [::1]:9560')
    .optional(),
  /** true lets web_listen be a non-loopback address; the page then asks for a user and password (web_password_file). */
  web_allow_remote: z.boolean().default(false),
  /** `USER:$scrypt$…` lines written by `netgwm passwd` (src/web/password-file.ts); read only when web_listen is remote. */
  web_password_file: absolutePath.default(DEFAULT_PASSWORD_FILE),
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

/** The same address and port written two ways (`localhost:80`, `LOCALHOST:80`) are one. */
export function sameListen(a: string | undefined, b: string | undefined): boolean {
  const [x, y] = [a === undefined ? undefined : parseListen(a), b === undefined ? undefined : parseListen(b)];
  return x !== undefined && y !== undefined && x.port === y.port && x.host.toLowerCase() === y.host.toLowerCase();
}

/** Whether a listen key names an address other hosts could reach (a valid one; the schema refuses the rest). */
export function isRemote(text: string | undefined): boolean {
  const listen = text === undefined ? undefined : parseListen(text);
  return listen !== undefined && !isLoopback(listen.host);
}

/**
 * `[key, message]` pairs: an endpoint open to the network must be asked for by name, and the page
 * then needs a password (checked in src/web/password-file.ts).
 */
export function checkReports(file: {
  metrics_listen?: string;
  metrics_allow_remote: boolean;
  web_listen?: string;
  web_allow_remote: boolean;
}): Array<[string, string]> {
  const problems: Array<[string, string]> = [];
  const metrics = file.metrics_listen === undefined ? undefined : parseListen(file.metrics_listen);
  if (metrics && isRemote(file.metrics_listen) && !file.metrics_allow_remote) {
    problems.push([
      'metrics_listen',
      `${file.metrics_listen} is not a loopback address, so anyone who reaches it could read the metrics; use 127.0.0.1:${metrics.port}, or set metrics_allow_remote: true to mean it`,
    ]);
  }
  const web = file.web_listen === undefined ? undefined : parseListen(file.web_listen);
  if (web && isRemote(file.web_listen) && !file.web_allow_remote) {
    problems.push([
      'web_listen',
      `${file.web_listen} is not a loopback address, so anyone who reaches it could see the status page; use 127.0.0.1:${web.port}, or set web_allow_remote: true (the page then asks for a password from web_password_file)`,
    ]);
  }
  return problems;
}
