// `netgwm passwd [-f FILE] USER`: sets a user's password for the status page in the password file
// (./password-file.ts), replacing that user's line and keeping the others, written atomically
// with mode 600. The password comes from stdin, never from the command line (ps would show it).
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_FILE, readConfigLeniently } from '../config/load.js';
import { DEFAULT_PASSWORD_FILE } from '../config/reports.js';
import { UsageError } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import { writeFileAtomic } from '../state/store.js';
import { readRegularFile } from '../system/regular-file.js';
import { formatHash, hashPassword, PASSWORD_FILE_MAX_BYTES, USER_NAME } from './password-file.js';

export const PASSWD_HELP = `Usage: netgwm passwd [-c FILE] [-f PASSWORD_FILE] USER

Sets USER's password for the status page (needed when web_listen is not a loopback address).
Reads the password from stdin: asked twice without echo on a terminal, the first line otherwise
(echo "$PASSWORD" | netgwm passwd admin). Writes PASSWORD_FILE atomically, owned by the caller
(root) with mode 600, replacing USER's line and keeping the others. The daemon reads the new file
at the next request.

Options:
  -c, --config FILE          config file whose web_password_file to write (default ${DEFAULT_CONFIG_FILE})
  -f, --file PASSWORD_FILE   the password file itself (default: web_password_file, else ${DEFAULT_PASSWORD_FILE})
  -h, --help                 show this help

Exit codes: 0 set, 1 the file could not be written or the passwords differ, 2 bad usage.`;

/** A password is one line of at most this many bytes. */
const MAX_PASSWORD_BYTES = 1024;

export interface PasswdIo {
  input: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  /** Prompts and messages (stderr). */
  output: NodeJS.WritableStream;
}

export async function runPasswd(args: string[], io: PasswdIo = { input: process.stdin, output: process.stderr }): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c', default: DEFAULT_CONFIG_FILE },
      file: { type: 'string', short: 'f' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${PASSWD_HELP}\n`);
    return EXIT.ok;
  }
  const [user, ...extra] = positionals;
  if (user === undefined || extra.length > 0) throw new UsageError('passwd: expected one USER, e.g. `netgwm passwd admin`');
  if (!USER_NAME.test(user))
    throw new UsageError(`passwd: expected a user name of 1-64 printable characters without ":" or spaces, got ${JSON.stringify(user)}`);
  const file = resolve(values.file ?? (await configuredFile(values.config)));
  const password = await readPassword(io);
  if (password === undefined) {
    io.output.write('netgwm: the passwords differ; nothing was changed\n');
    return EXIT.failed;
  }
  if (password === '') throw new UsageError('passwd: the password is empty; nothing was changed');
  const line = `${user}:${formatHash(await hashPassword(password))}`;
  const old = await readRegularFile(file, PASSWORD_FILE_MAX_BYTES).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  await writeFileAtomic(file, replaceUser(old, user, line), 0o600);
  io.output.write(`netgwm: password of ${user} set in ${file}\n`);
  return EXIT.ok;
}

/** The file's text with USER's line replaced by `line` (appended when there was none). */
export function replaceUser(text: string, user: string, line: string): string {
  const lines = text.split('\n').filter((kept, i, all) => i < all.length - 1 || kept !== '');
  const at = lines.findIndex((kept) => kept.startsWith(`${user}:`));
  if (at < 0) lines.push(line);
  else lines[at] = line;
  return `${lines.join('\n')}\n`;
}

/** web_password_file of the config, read leniently: a config that does not load (no password file yet) still names it. */
async function configuredFile(configFile: string): Promise<string> {
  const named = (await readConfigLeniently(resolve(configFile))).web_password_file;
  return typeof named === 'string' && named !== '' ? resolve(dirname(resolve(configFile)), named) : DEFAULT_PASSWORD_FILE;
}

/** The password: from a terminal asked twice without echo (undefined when they differ), else the first line. */
async function readPassword(io: PasswdIo): Promise<string | undefined> {
  const lines = lineReader(io.input);
  try {
    if (!io.input.isTTY || !io.input.setRawMode) return await lines.next();
    io.input.setRawMode(true);
    io.output.write('Password: ');
    const first = await lines.next();
    io.output.write('\nAgain: ');
    const second = await lines.next();
    io.output.write('\n');
    return first === second ? first : undefined;
  } finally {
    io.input.setRawMode?.(false);
    lines.close();
  }
}

/** Lines of `input` one at a time (a raw terminal sends \r; backspace and ^C are handled). */
function lineReader(input: NodeJS.ReadableStream): { next(): Promise<string>; close(): void } {
  let buffered = '';
  let ended = false;
  let wake: (() => void) | undefined;
  const onData = (chunk: Buffer | string) => {
    buffered += String(chunk);
    wake?.();
  };
  const onEnd = () => {
    ended = true;
    wake?.();
  };
  input.on('data', onData).on('end', onEnd);
  return {
    async next() {
      for (;;) {
        if (buffered.includes('\u0003')) throw new UsageError('passwd: interrupted; nothing was changed');
        const end = buffered.search(/[\r\n]/);
        if (end >= 0 || ended) {
          const line = end >= 0 ? buffered.slice(0, end) : buffered;
          buffered = end >= 0 ? buffered.slice(end + (buffered.startsWith('\r\n', end) ? 2 : 1)) : '';
          return eraseBackspaces(line);
        }
        if (Buffer.byteLength(buffered) > MAX_PASSWORD_BYTES)
          throw new UsageError(`passwd: expected a password of at most ${MAX_PASSWORD_BYTES} bytes`);
        await new Promise<void>((done) => (wake = done));
      }
    },
    close() {
      input.off('data', onData).off('end', onEnd);
      (input as NodeJS.ReadableStream & { pause?: () => void }).pause?.();
    },
  };
}

/** What a terminal line shows once each backspace (^H or DEL) took the character before it. */
function eraseBackspaces(line: string): string {
  const kept: string[] = [];
  for (const character of line) {
    if (character === '\b' || character === '\u007f') kept.pop();
    else kept.push(character);
  }
  return kept.join('');
}
