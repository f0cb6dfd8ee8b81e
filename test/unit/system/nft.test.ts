import { describe, expect, it } from 'vitest';
import { listTable, loadRuleset } from '../../../src/system/nft.js';
import { fakeExec } from './fake-exec.js';

describe('loadRuleset', () => {
  it('checks the file with nft -c, then loads the same file', async () => {
    const exec = fakeExec();
    await loadRuleset(exec, 'table inet netgwm\n');
    expect(exec.calls).toEqual([
      { argv: ['nft', '-c', '-f', '-'], input: 'table inet netgwm\n' },
      { argv: ['nft', '-f', '-'], input: 'table inet netgwm\n' },
    ]);
  });

  it("loads nothing when the check fails, and passes nft's message on", async () => {
    const exec = fakeExec((argv) =>
      argv[1] === '-c' ? { exitCode: 1, stderr: '/dev/stdin:3:1-5: Error: syntax error, unexpected junk\njunk\n^^^^^\n' } : undefined,
    );
    await expect(loadRuleset(exec, 'junk\n')).rejects.toThrow(
      '`nft -c -f -` failed with exit code 1: /dev/stdin:3:1-5: Error: syntax error, unexpected junk | junk | ^^^^^',
    );
    expect(exec.calls).toHaveLength(1);
  });
});

describe('listTable', () => {
  it('returns the listing, or undefined when the table does not exist', async () => {
    expect(
      await listTable(
        fakeExec(() => ({ stdout: 'table inet netgwm {\n}\n' })),
        'inet netgwm',
      ),
    ).toBe('table inet netgwm {\n}\n');
    const missing = fakeExec(() => ({
      exitCode: 1,
      stderr: 'Error: No such file or directory\nlist table inet netgwm\n                 ^^^^^^\n',
    }));
    expect(await listTable(missing, 'inet netgwm')).toBeUndefined();
    expect(missing.calls[0]!.argv).toEqual(['nft', '-t', 'list', 'table', 'inet', 'netgwm']);
  });

  it('throws on any other failure', async () => {
    await expect(
      listTable(
        fakeExec(() => ({ exitCode: 1, stderr: 'Error: Operation not permitted' })),
        'inet netgwm',
      ),
    ).rejects.toThrow(/Operation not permitted/);
  });
});
