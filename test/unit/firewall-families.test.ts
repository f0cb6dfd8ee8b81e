import { describe, expect, it } from 'vitest';
import { familyFlushArgs } from '../../src/firewall.js';

describe('familyFlushArgs', () => {
  const marking = { marking: { gateways: [], inTurn: <T>(work: () => Promise<T>) => work() } };
  it.each([
    ['IPv4 only config: both families, as ever', {}, {}, []],
    ['dual-stack, IPv4 switch', {}, marking, ['-f', 'ipv4']],
    ['dual-stack, IPv6 switch', { family: 6 as const }, marking, ['-f', 'ipv6']],
  ])('%s', (_name, config, deps, args) => {
    expect(familyFlushArgs(config, deps)).toEqual(args);
  });
});
