// A round of the monitor as src/core/probe-events.ts has it: one echo, answered in `rttMs` or lost.
import type { ProbeEvent } from '../../src/core/probe-events.js';

export const oneEchoRound = (gateway: string, at: number, rttMs?: number): ProbeEvent => ({
  kind: 'round',
  gateway,
  at,
  settledAt: at,
  echoes: [rttMs === undefined ? { site: 's', answered: false } : { site: 's', answered: true, rttMs }],
});
