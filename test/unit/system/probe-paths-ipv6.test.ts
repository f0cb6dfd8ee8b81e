import { describe, expect, it } from 'vitest';
import type { Gateway } from '../../../src/core/types.js';
import { removeProbePaths, syncProbePaths } from '../../../src/system/probe-paths.js';
import { fakeExec } from './fake-exec.js';

const GATEWAYS: Gateway[] = [
  {
    name: 'isp1',
    ip: 'fe80::1',
    dev: 'wan_1',
    priority: 1,
    probe: { mark: 0x4e470001, table: 195, ports: { from: 61000, to: 61063 } },
    family: 6,
  },
  {
    name: 'isp2',
    ip: '2001:db8:0:2::1',
    dev: 'wan-2',
    priority: 2,
    probe: { mark: 0x4e470002, table: 196, ports: { from: 61064, to: 61127 } },
    family: 6,
  },
];
const CONFIG = { family: 6, gateways: GATEWAYS, check_table_id: 194, probe: { mark: 0x4e470000, rule_pref: 1000 } } as Parameters<
  typeof syncProbePaths
>[1];
const EMPTY = `${JSON.stringify([{ priority: 0, src: 'all', table: '255' }])}\n[]\n`;

describe('syncProbePaths / removeProbePaths for a family-6 config', () => {
  it('reads and writes with ip -6: one read, one -force batch, one read to check', async () => {
    const exec = fakeExec((argv) => (argv.includes('-j') ? { stdout: EMPTY } : undefined));
    await syncProbePaths(exec, CONFIG);
    expect(exec.calls.map((call) => call.argv.join(' '))).toEqual([
      'ip -N -j -6 -batch -',
      'ip -6 -force -batch -',
      'ip -N -j -6 -batch -',
    ]);
    expect(exec.calls[1]!.input).toBe(
      [
        'route add unreachable default metric 4294967294 table 195',
        'route add default via fe80::1 dev wan_1 table 195',
        'rule add fwmark 0x4e470001 lookup 195 pref 1000',
        'route add unreachable default metric 4294967294 table 196',
        'route add default via 2001:db8:0:2::1 dev wan-2 table 196',
        'rule add fwmark 0x4e470002 lookup 196 pref 1000',
        '',
      ].join('\n'),
    );
  });

  it('removeProbePaths reads with ip -6 and has nothing to remove from an empty kernel', async () => {
    const exec = fakeExec(() => ({ stdout: EMPTY }));
    expect(await removeProbePaths(exec, CONFIG)).toEqual([]);
    expect(exec.calls.map((call) => call.argv.join(' '))).toEqual(['ip -N -j -6 -batch -']);
  });
});
