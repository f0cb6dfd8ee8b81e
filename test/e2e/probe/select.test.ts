/**
 * choosePing in real processes: as root the native module works; a process without capabilities cannot
 * open a raw socket, which is the same failure as a native module that does not load, and must
 * fall back to ping(8) with one warning until the situation changes.
 */
import { chmod, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FALLBACK_FILE } from '../../../src/probe/select.js';
import type { ChooseJob, ChooseOutcome } from './fixtures/choose-ping.js';
import { WITHOUT_CAPABILITIES } from './fixtures/child.js';
import { tempDir } from '../../support/temp-dir.js';

const FIXTURE = fileURLToPath(new URL('fixtures/choose-ping.ts', import.meta.url));
const UNPRIVILEGED = WITHOUT_CAPABILITIES;

async function choose(job: ChooseJob, options: { unprivileged?: boolean } = {}): Promise<ChooseOutcome> {
  const argv = [...(options.unprivileged ? UNPRIVILEGED : []), process.execPath, '--import', 'tsx', FIXTURE, JSON.stringify(job)];
  const { stdout } = await execa(argv[0]!, argv.slice(1), { cwd: fileURLToPath(new URL('../../../', import.meta.url)), timeout: 20_000 });
  return JSON.parse(stdout) as ChooseOutcome;
}

describe('choosePing', () => {
  let stateDir: string;
  beforeAll(async () => {
    stateDir = await tempDir('select');
    await chmod(stateDir, 0o777); // the unprivileged run remembers its warning here too
  });
  afterAll(() => rm(stateDir, { recursive: true, force: true }));

  it('auto falls back to ping(8) and warns once, until native ICMP works again', async () => {
    const first = await choose({ method: 'auto', stateDir }, { unprivileged: true });
    expect(first.chose).toBe('ping');
    expect(first.logged).toEqual([
      expect.stringMatching(
        /^<4>native ICMP unavailable \(ICMP probing unavailable: cannot open a raw ICMP socket .*\); probing with ping\(8\) instead$/,
      ),
    ]);
    expect(await readFile(join(stateDir, FALLBACK_FILE), 'utf8')).toMatch(/cannot open a raw ICMP socket/);

    expect(await choose({ method: 'auto', stateDir }, { unprivileged: true })).toEqual({ chose: 'ping', logged: [] });

    expect(await choose({ method: 'auto', stateDir })).toEqual({ chose: 'icmp', logged: [] });
    await expect(readFile(join(stateDir, FALLBACK_FILE))).rejects.toThrow(/ENOENT/);
    expect((await choose({ method: 'auto', stateDir }, { unprivileged: true })).logged).toHaveLength(1);
  });

  it('method icmp refuses to run without native ICMP, naming the key and the way out', async () => {
    const outcome = await choose({ method: 'icmp', stateDir }, { unprivileged: true });
    expect(outcome.error).toMatch(
      /^\/etc\/netgwm\/netgwm\.yml: probe\.method: "icmp" cannot work here: ICMP probing unavailable: .*; set it to "auto" or "ping"$/,
    );
    expect(await choose({ method: 'icmp', stateDir })).toEqual({ chose: 'icmp', logged: [] });
  });

  it('method ping uses ping(8) without trying the native module', async () => {
    expect(await choose({ method: 'ping', stateDir })).toEqual({ chose: 'ping', logged: [] });
  });
});
