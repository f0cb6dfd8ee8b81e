import { describe, expect, it } from 'vitest';
import { changeMarkRules, parseMarkRules } from '../../../src/system/mark-rules.js';
import { fakeExec } from './fake-exec.js';

describe('parseMarkRules', () => {
  // `ip -N -j -4 rule list` with netgwm's rules, the probe rule and someone else's rule at 1101.
  const json = JSON.stringify([
    { priority: 0, src: 'all', table: '255' },
    { priority: 1000, src: 'all', fwmark: '0x4e470000', table: '194' },
    { priority: 1100, src: 'all', table: '254', suppress_prefixlen: 0 },
    { priority: 1101, src: 'all', fwmark: '0x1', fwmask: '0xff', table: '101' },
    { priority: 1101, src: 'all', fwmark: '0x80000000', table: '102' },
    { priority: 1101, src: 'all', iif: 'lan0', fwmark: '0x3', fwmask: '0xff', table: '103' },
    { priority: 32766, src: 'all', table: '254' },
  ]);

  it("keeps the rules shaped like netgwm's at its preferences; a full mask is what ip leaves out", () => {
    expect(parseMarkRules(json, [1100, 1101])).toEqual([
      { pref: 1100, table: 254 },
      { pref: 1101, fwmark: 0x1, mask: 0xff, table: 101 },
      { pref: 1101, fwmark: 0x80000000, mask: 0xffffffff, table: 102 },
    ]);
    expect(parseMarkRules('', [1100])).toEqual([]);
  });
});

describe('changeMarkRules', () => {
  it('removes, then adds, in one ip -batch; runs nothing when there is nothing to change', async () => {
    const exec = fakeExec();
    await changeMarkRules(exec, {
      remove: [{ pref: 1101, fwmark: 0x1, mask: 0xff, table: 109 }],
      add: [
        { pref: 1100, table: 254 },
        { pref: 1101, fwmark: 0x1, mask: 0xff, table: 101 },
      ],
    });
    await changeMarkRules(exec, { remove: [], add: [] });
    expect(exec.calls).toEqual([
      {
        argv: ['ip', '-4', '-batch', '-'],
        input:
          'rule del pref 1101 fwmark 0x1/0xff lookup 109\nrule add pref 1100 lookup 254 suppress_prefixlength 0\nrule add pref 1101 fwmark 0x1/0xff lookup 101\n',
      },
    ]);
  });
});
