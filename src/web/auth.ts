// HTTP basic auth for a status page on a non-loopback address, against web_password_file. The
// file is read again when web_password_file (a reload) or the file (mtime, ctime) changes. A scrypt check is
// costly on purpose, so at most a few are made per second: a flood of wrong passwords gets 429,
// not the router's CPU. A user's right password is remembered (as a keyed hash) so a page polling
// every 2 s costs one check, not one per request.
import { createHmac, randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { Logger } from '../log/logger.js';
import { textReply, type Reply } from './http-server.js';
import { hashPassword, readPasswordFile, verifyPassword, type PasswordHash, type Passwords } from './password-file.js';

export const CHALLENGE = 'Basic realm="netgwm", charset="UTF-8"';
/** scrypt checks per second at most, right or wrong. */
const CHECKS_PER_SECOND = 4;
/** Credentials remembered as right at most (a few users, a few browsers). */
const MAX_REMEMBERED = 32;

export interface BasicAuthOptions {
  /** The password file's path; read from the config at each request, so a reload applies. */
  file: () => string;
  log: Logger;
  /** Milliseconds, for the rate of checks. */
  now?: () => number;
}

/** undefined: let the request through; a Reply: answer it with that instead (401 or 429). */
export type Guard = (authorization: string | undefined) => Promise<Reply | undefined>;

export function basicAuth(options: BasicAuthOptions): Guard {
  const now = options.now ?? Date.now;
  const key = randomBytes(32); // the remembered credentials mean nothing outside this process
  const remembered = new Set<string>();
  let loaded: { file: string; version: string; passwords: Passwords } | undefined;
  let lastProblem: string | undefined;
  let window = { second: 0, checks: 0 };
  // A user no file names still costs a check, so the time taken tells nothing about who exists.
  let decoy: Promise<PasswordHash> | undefined;

  const passwords = async (): Promise<Passwords | undefined> => {
    const file = options.file();
    try {
      const version = await fileVersion(file);
      if (loaded?.file !== file || loaded.version !== version) {
        loaded = { file, version, passwords: await readPasswordFile(file) };
        remembered.clear();
      }
      lastProblem = undefined;
      return loaded.passwords;
    } catch (error) {
      const problem = (error as Error).message;
      if (problem !== lastProblem) options.log.event({ kind: 'web-passwords-unusable', problem });
      lastProblem = problem;
      loaded = undefined;
      return undefined;
    }
  };

  return async (authorization) => {
    const credentials = parseBasic(authorization);
    const users = await passwords();
    if (!credentials || !users) return denied();
    const id = createHmac('sha256', key).update(authorization!).digest('base64');
    if (remembered.has(id)) return undefined;
    const second = Math.floor(now() / 1000);
    if (window.second !== second) window = { second, checks: 0 };
    if (++window.checks > CHECKS_PER_SECOND)
      return textReply(429, 'too many password checks; try again in a second', { 'retry-after': '1' });
    const expected = users.get(credentials.user);
    decoy ??= hashPassword('decoy');
    const right = await verifyPassword(credentials.password, expected ?? (await decoy));
    if (!right || !expected) return denied();
    if (remembered.size >= MAX_REMEMBERED) remembered.clear();
    remembered.add(id);
    return undefined;
  };
}

const denied = (): Reply => textReply(401, 'netgwm: this page needs a user and password', { 'www-authenticate': CHALLENGE });

/** `Basic base64(user:password)` → its parts; undefined for anything else. */
export function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  const match = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header ?? '');
  if (!match) return undefined;
  const text = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon < 0 ? undefined : { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** What changes when the file is replaced (`netgwm passwd` renames a new one over it), written, or its owner or mode changed. */
async function fileVersion(file: string): Promise<string> {
  const stats = await stat(file, { bigint: true });
  return `${stats.ino}:${stats.mtimeNs}:${stats.ctimeNs}:${stats.size}`;
}
