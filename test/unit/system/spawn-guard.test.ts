import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const FIXTURE = fileURLToPath(new URL('./fixtures/no-descriptors.ts', import.meta.url));

describe('a process that cannot be started for lack of descriptors', () => {
  it('is a failed command or hook with the reason, and the process lives on', async () => {
    const result = await execa(process.execPath, ['--import', 'tsx', FIXTURE], { reject: false, timeout: 60_000 });
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n')).toEqual([
      'exec: `ip -j route` failed: spawn ip: too many open files (EMFILE or ENFILE)',
      'exec, reject false: {"stdout":"","stderr":"spawn ip: too many open files (EMFILE or ENFILE)","exitCode":-1}',
      'hook: hook /bin/true could not be started in 0.00 s; stderr: spawn /bin/true: too many open files (EMFILE or ENFILE)',
      'alive',
    ]);
  });
});
