// The password file and `netgwm passwd`: what it writes verifies, replaces one user's line and
// keeps the others, mode 600; the password comes from stdin, asked twice on a terminal.
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import { formatHash, hashPassword, parseHash, parsePasswords, readPasswordFile, verifyPassword } from '../../../src/web/password-file.js';
import { replaceUser, runPasswd } from '../../../src/web/passwd-cli.js';
import { NETGWM } from '../../e2e/harness.js';
import { tempDir } from '../../support/temp-dir.js';

/** Streams standing in for a terminal (raw mode recorded) or a pipe; `typed` arrives after the first prompt. */
function io(typed: string, tty = false) {
  const input = Object.assign(
    new PassThrough(),
    tty
      ? {
          isTTY: true,
          raw: [] as boolean[],
          setRawMode(raw: boolean) {
            this.raw.push(raw);
          },
        }
      : {},
  );
  const output = new PassThrough();
  let said = '';
  output.on('data', (chunk) => (said += String(chunk)));
  setImmediate(() => input.write(typed));
  return { io: { input, output }, said: () => said, input };
}

describe('password hashes', () => {
  it('round-trips and verifies; a wrong password does not', async () => {
    const hash = await hashPassword('correct horse', { N: 1024, r: 8, p: 1 });
    const text = formatHash(hash);
    expect(text).toMatch(/^\$scrypt\$N=1024,r=8,p=1\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
    expect(parseHash(text)).toEqual(hash);
    expect(await verifyPassword('correct horse', parseHash(text)!)).toBe(true);
    expect(await verifyPassword('correct horse ', parseHash(text)!)).toBe(false);
  });

  it.each([
    '$scrypt$N=1000,r=8,p=1$c2FsdA==$aGFzaGhhc2hoYXNoaGFzaA==', // N not a power of 2
    '$scrypt$N=4194304,r=8,p=1$c2FsdA==$aGFzaGhhc2hoYXNoaGFzaA==', // too costly to check
    '$scrypt$N=16384,r=8,p=1$c2FsdA==$aGFzaA==', // hash too short
    '$2y$10$abcdefghijklmnopqrstuv', // bcrypt: not ours
    'plaintext',
  ])('refuses %s', (text) => {
    expect(parseHash(text)).toBeUndefined();
  });

  it('parses a file: comments and blank lines skipped, a bad line named', () => {
    const good = `admin:$scrypt$N=16384,r=8,p=1$c2FsdA==$aGFzaGhhc2hoYXNoaGFzaA==`;
    const { passwords, problems } = parsePasswords(`# users\n\n${good}\nbob\n:${good.slice(6)}\n`);
    expect([...passwords.keys()]).toEqual(['admin']);
    expect(problems).toEqual(['line 4 is not USER:$scrypt$N=…,r=…,p=…$SALT$HASH', 'line 5 is not USER:$scrypt$N=…,r=…,p=…$SALT$HASH']);
  });

  it('replaceUser replaces one line, keeps the others, appends a new user', () => {
    expect(replaceUser('# x\nadmin:old\nbob:b\n', 'admin', 'admin:new')).toBe('# x\nadmin:new\nbob:b\n');
    expect(replaceUser('admin:a', 'ad', 'ad:n')).toBe('admin:a\nad:n\n');
    expect(replaceUser('', 'admin', 'admin:n')).toBe('admin:n\n');
  });
});

describe('netgwm passwd', () => {
  it('from a pipe: the first line; mode 600, other users kept, the file readable by the server', async () => {
    const file = join(await tempDir('passwd'), 'web.passwd');
    await writeFile(file, '# the status page\nbob:$scrypt$N=16384,r=8,p=1$c2FsdA==$aGFzaGhhc2hoYXNoaGFzaA==\n', { mode: 0o644 });
    const pipe = io('s3cret\nignored\n');
    expect(await runPasswd(['-f', file, 'admin'], pipe.io)).toBe(0);
    expect(pipe.said()).toBe(`netgwm: password of admin set in ${file}\n`);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const lines = (await readFile(file, 'utf8')).split('\n');
    expect(lines.slice(0, 2)).toEqual(['# the status page', 'bob:$scrypt$N=16384,r=8,p=1$c2FsdA==$aGFzaGhhc2hoYXNoaGFzaA==']);
    const passwords = await readPasswordFile(file);
    expect(await verifyPassword('s3cret', passwords.get('admin')!)).toBe(true);
    // Again: the line is replaced, not added.
    expect(await runPasswd(['-f', file, 'admin'], io('other\n').io)).toBe(0);
    expect(await verifyPassword('other', (await readPasswordFile(file)).get('admin')!)).toBe(true);
    expect((await readFile(file, 'utf8')).split('\n').filter((line) => line.startsWith('admin:'))).toHaveLength(1);
  });

  it('on a terminal: asked twice without echo, backspaces taken; passwords that differ change nothing', async () => {
    const file = join(await tempDir('passwd'), 'web.passwd');
    const same = io('pass\u007f\u007fss\rpass\r', true);
    expect(await runPasswd(['-f', file, 'admin'], same.io)).toBe(0);
    expect(same.said()).toMatch(/^Password: \nAgain: \nnetgwm: password of admin set/);
    expect((same.input as unknown as { raw: boolean[] }).raw).toEqual([true, false]);
    expect(await verifyPassword('pass', (await readPasswordFile(file)).get('admin')!)).toBe(true);
    const text = await readFile(file, 'utf8');
    const differ = io('one\rtwo\r', true);
    expect(await runPasswd(['-f', file, 'admin'], differ.io)).toBe(1);
    expect(differ.said()).toContain('the passwords differ; nothing was changed');
    expect(await readFile(file, 'utf8')).toBe(text);
  });

  it.each([
    [[], /expected one USER/],
    [['a:b'], /expected a user name of 1-64 printable characters without ":" or spaces, got "a:b"/],
    [['admin', 'bob'], /expected one USER/],
  ])('refuses %j', async (args, message) => {
    await expect(runPasswd(['-f', '/nonexistent/x', ...args], io('x\n').io)).rejects.toThrow(message);
    await expect(runPasswd(['-f', '/nonexistent/x', ...args], io('x\n').io)).rejects.toBeInstanceOf(UsageError);
  });

  it('takes web_password_file from the config, even one that does not load yet; the built binary reads a pipe', async () => {
    const dir = await tempDir('passwd');
    const file = join(dir, 'named.passwd');
    const config = join(dir, 'netgwm.yml');
    await writeFile(config, `web_listen: 0.0.0.0:9560\nweb_allow_remote: true\nweb_password_file: ${file}\n`);
    const result = await execa(process.execPath, [NETGWM, 'passwd', '-c', config, 'admin'], {
      input: 'secret\n',
      reject: false,
      timeout: 60_000,
    });
    expect([result.exitCode, result.stderr]).toEqual([0, `netgwm: password of admin set in ${file}`]);
    expect(await verifyPassword('secret', (await readPasswordFile(file)).get('admin')!)).toBe(true);
  });
});
