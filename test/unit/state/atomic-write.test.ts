// writeFileAtomic, the one writer of state.json, the mode file, status files and the metrics file.
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../../src/state/store.js';
import { tempDir } from '../../support/temp-dir.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/write-atomic.ts', import.meta.url));

describe('writeFileAtomic', () => {
  it('never writes through a link planted at the old, predictable temporary name (NAME.tmp-PID)', async () => {
    const dir = await tempDir('atomic');
    const victim = join(dir, 'victim');
    await writeFile(victim, 'precious\n');
    await symlink(victim, join(dir, `state.json.tmp-${process.pid}`));
    await writeFileAtomic(join(dir, 'state.json'), '{}\n');
    expect(await readFile(victim, 'utf8')).toBe('precious\n');
    expect(await readFile(join(dir, 'state.json'), 'utf8')).toBe('{}\n');
    // Only the planted link is left: the temporary file had a random name and was renamed.
    expect((await readdir(dir)).sort()).toEqual(['state.json', `state.json.tmp-${process.pid}`, 'victim']);
  });

  it('removes its temporary file when the rename fails', async () => {
    const dir = await tempDir('atomic');
    await mkdir(join(dir, 'state.json', 'in-the-way'), { recursive: true });
    await expect(writeFileAtomic(join(dir, 'state.json'), '{}\n')).rejects.toThrow();
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('removes its temporary file when the disk is full (a 64 KiB tmpfs in a mount namespace of its own)', async () => {
    const dir = await tempDir('atomic');
    // The mount lives only in the namespace `unshare` makes, so it is gone when the shell exits;
    // what was left on it is listed from inside.
    const script =
      'mount -t tmpfs -o size=64k netgwm-test "$1" && { cat /dev/zero > "$1/fill" 2>/dev/null; node --import tsx "$2" "$1/state.json"; ls -A "$1"; }';
    const result = await execa('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', dir, FIXTURE], {
      reject: false,
      timeout: 60_000,
    });
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n')).toEqual(['ENOSPC', 'fill']);
  });
});
