import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emptyState, type State } from '../../../src/core/types.js';
import { loadState, parseState, readEffectiveMode, readMode, saveState, writeMode } from '../../../src/state/store.js';
import { mkfifo } from '../../support/fifo.js';
import { tempDir } from '../../support/temp-dir.js';

const saved: State = {
  version: 1,
  lastCycleAt: 5,
  gateways: { isp1: { up: true, since: 1, checkedAt: 5 } },
  resolved: { 'a.example': '198.51.100.1' },
};

async function dirWith(content?: string): Promise<string> {
  const dir = await tempDir('state');
  if (content !== undefined) await writeFile(join(dir, 'state.json'), content);
  return dir;
}

describe('state file', () => {
  it('round-trips and leaves no temporary file behind', async () => {
    const dir = await dirWith();
    await saveState(dir, saved);
    expect((await loadState(dir)).state).toEqual(saved);
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('creates the state directory', async () => {
    const dir = join(await dirWith(), 'deeper', 'netgwm');
    await saveState(dir, saved);
    expect(JSON.parse(await readFile(join(dir, 'state.json'), 'utf8'))).toEqual(saved);
  });

  it('a missing file is no history, silently', async () => {
    expect(await loadState(await dirWith())).toEqual({ state: emptyState() });
  });

  it.each([
    ['empty', '', 'empty file'],
    ['truncated', JSON.stringify(saved).slice(0, 40), 'not JSON'],
    ['garbage', '\u0000\u0001binary', 'not JSON'],
    ['the wrong shape', '{"version":1,"gateways":{"isp1":{"up":"yes"}}}', 'gateways.isp1.up'],
    ['another version', '{"version":7}', 'version'],
  ])('%s file: no history and a problem to log, never a throw', async (_, content, problem) => {
    const loaded = await loadState(await dirWith(content));
    expect(loaded.state).toEqual(emptyState());
    expect(loaded.problem).toContain(problem);
  });
});

describe('state file that is no regular file', () => {
  it.each([
    ['a FIFO', (path: string) => mkfifo(path), 'it is a FIFO, not a regular file'],
    ['a directory', (path: string) => mkdir(path), 'it is a directory, not a regular file'],
  ])('%s: no history and a problem to log, never a wait', async (_, make, problem) => {
    const dir = await dirWith();
    await make(join(dir, 'state.json'));
    expect(await loadState(dir)).toEqual({ state: emptyState(), problem });
  });

  it('a "__proto__" key is dropped, never made a prototype', () => {
    const { state } = parseState(
      '{"version":1,"gateways":{"__proto__":{"up":true,"since":1,"checkedAt":1},"isp1":{"up":true,"since":1,"checkedAt":5}},"resolved":{}}',
    );
    expect(Object.getPrototypeOf(state.gateways)).toBe(Object.prototype);
    expect(Object.keys(state.gateways)).toEqual(['isp1']);
  });
});

describe('mode file', () => {
  it("a FIFO is an error at once, and the config's mode stays in force", async () => {
    const dir = await dirWith();
    await mkfifo(join(dir, 'mode'));
    await expect(readMode(dir)).rejects.toThrow('it is a FIFO, not a regular file');
    expect(await readEffectiveMode({ state_dir: dir, mode: 'auto', gateways: [{ name: 'isp1' }] })).toEqual({
      mode: 'auto',
      source: 'config',
      problem: 'it is a FIFO, not a regular file',
    });
    expect(await readEffectiveMode({ state_dir: dir, gateways: [{ name: 'isp1' }] })).toEqual({
      mode: 'auto',
      source: 'default',
      problem: 'it is a FIFO, not a regular file',
    });
  });

  it('is NetGWM-compatible: a gateway name or auto, trimmed', async () => {
    const dir = await dirWith();
    expect(await readMode(dir)).toBeUndefined();
    await writeMode(dir, 'isp2');
    expect(await readFile(join(dir, 'mode'), 'utf8')).toBe('isp2\n');
    expect(await readMode(dir)).toBe('isp2');
  });
});
