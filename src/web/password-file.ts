// The status page's password file (web_password_file): `USER:$scrypt$N=16384,r=8,p=1$SALT$HASH`
// lines (salt and hash in base64), written by `netgwm passwd`. scrypt from node:crypto: costly on
// purpose, so a stolen file gives passwords up slowly. Only root may read the file.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Stats } from 'node:fs';
import { readRegularFile, UnreadableFileError } from '../system/regular-file.js';

/** Far above what a few users take; a larger file is not one netgwm wrote. */
export const PASSWORD_FILE_MAX_BYTES = 64 << 10;
const HASH_BYTES = 32;
const SALT_BYTES = 16;
/** What `netgwm passwd` writes: about 16 MiB and a few tens of milliseconds per check. */
const DEFAULT_COST = { N: 16384, r: 8, p: 1 };
/** Costs beyond these are refused: one check must stay bounded in memory and time. */
const MAX_N = 1 << 20;
const MAX_R = 32;
const MAX_P = 16;
const HASH = /^\$scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;
/** A user name: printable, no ':' (the separator) and no space. */
export const USER_NAME = /^[!-9;-~]{1,64}$/;

export interface PasswordHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

/** User → hash. */
export type Passwords = Map<string, PasswordHash>;

export function parseHash(text: string): PasswordHash | undefined {
  const match = HASH.exec(text);
  if (!match) return undefined;
  const [N, r, p] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const hash = Buffer.from(match[5]!, 'base64');
  const powerOfTwo = N > 1 && (N & (N - 1)) === 0;
  if (!powerOfTwo || N > MAX_N || r < 1 || r > MAX_R || p < 1 || p > MAX_P || hash.length < 16) return undefined;
  return { N, r, p, salt: Buffer.from(match[4]!, 'base64'), hash };
}

export function formatHash(hash: PasswordHash): string {
  return `$scrypt$N=${hash.N},r=${hash.r},p=${hash.p}$${hash.salt.toString('base64')}$${hash.hash.toString('base64')}`;
}

/** The lines of a password file; `problems` names each line that is not `USER:HASH` (blank and `#` lines are skipped). */
export function parsePasswords(text: string): { passwords: Passwords; problems: string[] } {
  const passwords: Passwords = new Map();
  const problems: string[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const user = line.slice(0, colon);
    const hash = colon > 0 && USER_NAME.test(user) ? parseHash(line.slice(colon + 1)) : undefined;
    if (hash) passwords.set(user, hash);
    else problems.push(`line ${index + 1} is not USER:$scrypt$N=…,r=…,p=…$SALT$HASH`);
  });
  return { passwords, problems };
}

export async function hashPassword(password: string, cost = DEFAULT_COST): Promise<PasswordHash> {
  const salt = randomBytes(SALT_BYTES);
  return { ...cost, salt, hash: await derive(password, salt, HASH_BYTES, cost) };
}

export async function verifyPassword(password: string, expected: PasswordHash): Promise<boolean> {
  const actual = await derive(password, expected.salt, expected.hash.length, expected);
  return timingSafeEqual(actual, expected.hash);
}

function derive(password: string, salt: Buffer, length: number, cost: { N: number; r: number; p: number }): Promise<Buffer> {
  // maxmem: node's default (32 MiB) is below what the largest accepted cost takes.
  const options: ScryptOptions = { ...cost, maxmem: 256 * cost.N * cost.r + (1 << 20) };
  return new Promise((done, fail) => scrypt(password, salt, length, options, (error, key) => (error ? fail(error) : done(key))));
}

/**
 * Reads the file, refusing one that is not root's own and private: a password hash readable by
 * anyone could be attacked offline. Throws an Error whose message says what is wrong and the fix.
 */
export async function readPasswordFile(file: string): Promise<Passwords> {
  let text: string;
  try {
    text = await readRegularFile(file, PASSWORD_FILE_MAX_BYTES, (stats) => checkPrivate(stats, file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error(`${file} does not exist; create it with \`netgwm passwd USER\``);
    if (error instanceof UnreadableFileError) throw new Error(`${file}: ${error.message}`);
    throw new Error(`cannot read ${file}: ${(error as Error).message}`);
  }
  const { passwords, problems } = parsePasswords(text);
  if (problems.length > 0) throw new Error(`${file}: ${problems[0]}; write it again with \`netgwm passwd USER\``);
  if (passwords.size === 0) throw new Error(`${file} names no user; add one with \`netgwm passwd USER\``);
  return passwords;
}

function checkPrivate(stats: Stats, file: string): void {
  if (stats.uid !== 0) throw new UnreadableFileError(`it belongs to uid ${stats.uid}, not root; run \`chown root: ${file}\``);
  if ((stats.mode & 0o077) !== 0)
    throw new UnreadableFileError(`group or others may access it (mode ${(stats.mode & 0o777).toString(8)}); run \`chmod 600 ${file}\``);
}

/** For the config check: `[key, message]` when the page is remote and its password file is unusable. */
export async function checkPasswordFile(file: { web_password_file: string }, remote: boolean): Promise<Array<[string, string]>> {
  if (!remote) return [];
  try {
    await readPasswordFile(file.web_password_file);
    return [];
  } catch (error) {
    return [['web_password_file', `${(error as Error).message} (web_listen is not a loopback address, so the page needs a password)`]];
  }
}
