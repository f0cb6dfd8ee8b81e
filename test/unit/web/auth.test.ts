// Basic auth of a remote status page: 401 with the challenge without the right user and password,
// the page with them; the file read again when it changes; a few scrypt checks a second at most.
import { chmod, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/load.js';
import type { NetgwmEvent } from '../../../src/log/events.js';
import type { Logger } from '../../../src/log/logger.js';
import { basicAuth, CHALLENGE, parseBasic } from '../../../src/web/auth.js';
import { startHttpServer, type HttpServer } from '../../../src/web/http-server.js';
import { formatHash, hashPassword } from '../../../src/web/password-file.js';
import { guardRoutes } from '../../../src/web/servers.js';
import { freePort } from '../../support/http-clients.js';
import { tempDir } from '../../support/temp-dir.js';

const CHEAP = { N: 1024, r: 8, p: 1 }; // the tests check many passwords

function memoryLog(): Logger & { events: NetgwmEvent[] } {
  const events: NetgwmEvent[] = [];
  return { events, event: (event) => events.push(event), reopen() {}, setLevel() {} };
}

async function passwordFile(users: Record<string, string>): Promise<string> {
  const file = join(await tempDir('auth'), 'web.passwd');
  await writeUsers(file, users);
  return file;
}

/** As `netgwm passwd` does: a new file renamed over the old one. */
async function writeUsers(file: string, users: Record<string, string>): Promise<void> {
  const lines = await Promise.all(
    Object.entries(users).map(async ([user, password]) => `${user}:${formatHash(await hashPassword(password, CHEAP))}`),
  );
  await writeFile(`${file}.new`, `${lines.join('\n')}\n`, { mode: 0o600 });
  await rename(`${file}.new`, file);
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

let running: HttpServer | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

describe('basic auth', () => {
  it('parseBasic', () => {
    expect(parseBasic(basic('admin', 'pa:ss wörd'))).toEqual({ user: 'admin', password: 'pa:ss wörd' });
    expect(parseBasic('Bearer abc')).toBeUndefined();
    expect(parseBasic(`Basic ${Buffer.from('nocolon').toString('base64')}`)).toBeUndefined();
    expect(parseBasic(undefined)).toBeUndefined();
  });

  it('over HTTP: 401 with the challenge for no, wrong or unknown credentials; the route with the right ones', async () => {
    const file = await passwordFile({ admin: 'right' });
    const port = await freePort();
    const config = { web_password_file: file } as Config;
    const log = memoryLog();
    const routes = guardRoutes(
      new Map([['/api/status', () => ({ status: 200, type: 'application/json', body: '{}' })]]),
      true,
      () => config,
      log,
    );
    running = await startHttpServer({ listen: `127.0.0.1:${port}`, key: 'web_listen', what: 'the status page', routes, home: '/', log });
    const get = (authorization?: string) =>
      fetch(`http://127.0.0.1:${port}/api/status`, {
        headers: authorization ? { authorization } : {},
        signal: AbortSignal.timeout(10_000),
      });
    for (const authorization of [undefined, basic('admin', 'wrong'), basic('nobody', 'right'), 'Basic !!!', basic('admin', '')]) {
      const response = await get(authorization);
      expect([response.status, response.headers.get('www-authenticate')]).toEqual([401, CHALLENGE]);
    }
    const ok = await get(basic('admin', 'right'));
    expect([ok.status, await ok.text()]).toEqual([200, '{}']);
    // Not guarded when the page is loopback only.
    expect(guardRoutes(routes, false, () => config, log)).toBe(routes);
    expect(log.events.map((event) => event.kind)).toEqual(['http-listening']);
  });

  it('reads the file again when it changes: a new password works, the old one no more', async () => {
    const file = await passwordFile({ admin: 'old' });
    const authorize = basicAuth({ file: () => file, log: memoryLog() });
    expect(await authorize(basic('admin', 'old'))).toBeUndefined();
    await writeUsers(file, { admin: 'new' });
    expect((await authorize(basic('admin', 'old')))?.status).toBe(401);
    expect(await authorize(basic('admin', 'new'))).toBeUndefined();
  });

  it('at most 4 checks a second: then 429, right or wrong, until the next second; a right password, once checked, costs none', async () => {
    const file = await passwordFile({ admin: 'right' });
    let now = 1_000_000;
    const authorize = basicAuth({ file: () => file, log: memoryLog(), now: () => now });
    expect(await authorize(basic('admin', 'right'))).toBeUndefined();
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await authorize(basic('admin', `wrong${i}`)))?.status);
    expect(statuses).toEqual([401, 401, 401, 429, 429, 429]);
    const busy = await authorize(basic('admin', 'right-but-new-header '));
    expect([busy?.status, busy?.headers]).toEqual([429, { 'retry-after': '1' }]);
    expect(await authorize(basic('admin', 'right'))).toBeUndefined(); // remembered
    now += 1000;
    expect((await authorize(basic('admin', 'wrong')))?.status).toBe(401);
  });

  it('a file that becomes unusable refuses everyone, logged once per problem', async () => {
    const file = await passwordFile({ admin: 'right' });
    const log = memoryLog();
    const authorize = basicAuth({ file: () => file, log });
    expect(await authorize(basic('admin', 'right'))).toBeUndefined();
    await chmod(file, 0o644);
    expect((await authorize(basic('admin', 'right')))?.status).toBe(401);
    expect((await authorize(basic('admin', 'right')))?.status).toBe(401);
    expect(log.events).toEqual([
      { kind: 'web-passwords-unusable', problem: `${file}: group or others may access it (mode 644); run \`chmod 600 ${file}\`` },
    ]);
    await chmod(file, 0o600);
    expect(await authorize(basic('admin', 'right'))).toBeUndefined();
  });
});
