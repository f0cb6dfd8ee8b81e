// A config and a state as a cycle would leave them, for the report tests.
import type { Config } from '../../../src/config/load.js';
import type { State } from '../../../src/core/types.js';

export const NOW = Date.UTC(2026, 10, 26, 10, 5, 0);
const s = (seconds: number) => NOW - seconds * 1000;

export const config = {
  file: '/etc/netgwm/netgwm.yml',
  min_uptime: 900,
  gateways: [
    { name: 'isp1', ip: '192.0.2.1', priority: 1, probe: { mark: 0x4e470001, table: 195, ports: { from: 61000, to: 61063 } } },
    {
      name: 'isp2',
      ip: '198.51.100.1',
      dev: 'eth2',
      priority: 2,
      probe: { mark: 0x4e470002, table: 196, ports: { from: 61064, to: 61127 } },
    },
    { name: 'lte', dev: 'ppp0', priority: 3, probe: { mark: 0x4e470003, table: 197, ports: { from: 61128, to: 61191 } } },
  ],
} satisfies Pick<Config, 'file' | 'gateways' | 'min_uptime'>;

/** isp1 active and stable, isp2 up for 70 s but probed 2 min ago, lte never probed. */
export const state: State = {
  version: 1,
  lastCycleAt: s(3),
  lastCycleMs: 243,
  active: 'isp1',
  gateways: {
    isp1: { up: true, since: s(1200), checkedAt: s(3) },
    isp2: { up: true, since: s(190), checkedAt: s(120), reason: 'degraded: loss 50 % > 10 % over 30 s', degraded: true },
  },
  lastSwitch: { at: s(1100), from: 'isp2', to: 'isp1', reason: 'isp1 is back and stable, up for 15m00s' },
  totals: { switches: 4, hookFailures: 1 },
  resolved: {},
  samples: {
    isp1: [
      { at: s(63), site: '203.0.113.10', sent: 2, replies: 2, rttMs: 0.91 },
      { at: s(63), site: '203.0.113.20', sent: 2, replies: 1, rttMs: 0.35 },
      { at: s(3), site: '203.0.113.10', sent: 2, replies: 2, rttMs: 0.31 },
      { at: s(3), site: '203.0.113.20', sent: 2, replies: 2, rttMs: 0.29 },
    ],
    isp2: [
      { at: s(120), site: '203.0.113.10', sent: 2, replies: 0 },
      { at: s(120), site: '203.0.113.20', sent: 2, replies: 2, rttMs: 12.5 },
    ],
  },
};

export const input = { config, state, stateFile: '/var/lib/netgwm/state.json', hasState: true, mode: 'auto', now: NOW };
