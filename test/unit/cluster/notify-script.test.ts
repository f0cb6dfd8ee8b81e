// The shipped keepalived notify script (examples/ha/netgwm-notify), run for real with a fixture
// netgwm that prints the arguments it got.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../support/temp-dir.js';

const NOTIFY = fileURLToPath(new URL('../../../examples/ha/netgwm-notify', import.meta.url));
let fakeNetgwm: string;

beforeAll(async () => {
  fakeNetgwm = join(await tempDir('notify'), 'netgwm');
  await writeFile(fakeNetgwm, '#!/bin/sh\necho "$@"\n', { mode: 0o755 });
});

describe('netgwm-notify', () => {
  it.each([
    ['MASTER', 'role master -c /etc/netgwm/ha.yml'],
    ['BACKUP', 'role backup -c /etc/netgwm/ha.yml'],
    ['STOP', 'role backup -c /etc/netgwm/ha.yml'],
    ['FAULT', 'role fault -c /etc/netgwm/ha.yml'],
  ])('keepalived state %s: netgwm %s', async (state, called) => {
    const result = await execa(NOTIFY, ['--netgwm', fakeNetgwm, '-c', '/etc/netgwm/ha.yml', 'INSTANCE', 'netgwm_lan', state, '150']);
    expect(result.stdout).toBe(called);
  });

  it('the default config path', async () => {
    expect((await execa(NOTIFY, ['--netgwm', fakeNetgwm, 'GROUP', 'lan', 'MASTER'])).stdout).toBe('role master -c /etc/netgwm/netgwm.yml');
  });

  it('an unknown state is exit 2 and a message', async () => {
    const result = await execa(NOTIFY, ['--netgwm', fakeNetgwm, 'INSTANCE', 'netgwm_lan', 'DELETED'], { reject: false });
    expect(result).toMatchObject({
      exitCode: 2,
      stdout: '',
      stderr: "netgwm-notify: unknown keepalived state 'DELETED'; expected MASTER, BACKUP, FAULT or STOP",
    });
  });
});
