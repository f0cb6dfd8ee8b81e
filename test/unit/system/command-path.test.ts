import { describe, expect, it } from 'vitest';
import { commandPath } from '../../../src/system/command-path.js';

describe('commandPath', () => {
  it('adds the sbin directories cron leaves out, after what PATH names', () => {
    expect(commandPath('/usr/bin:/bin')).toBe('/usr/bin:/bin:/usr/sbin:/sbin');
    expect(commandPath('/opt/stub:/usr/sbin:/usr/bin:/sbin:/bin')).toBe('/opt/stub:/usr/sbin:/usr/bin:/sbin:/bin');
    expect(commandPath('')).toBe('/usr/sbin:/sbin');
  });
});
