import { describe, expect, it } from 'vitest';
import { noteAddresses } from '../../src/current-route.js';
import { emptyState, type Gateway } from '../../src/core/types.js';
import type { FamilyEvent, Logger } from '../../src/log/logger.js';

const probe = { mark: 1, table: 195, ports: { from: 61000, to: 61063 } };
const auto6 = (ip?: string): Gateway => ({ name: 'cable', dev: 'wan5', auto: true, family: 6, priority: 1, probe, ...(ip && { ip }) });
const auto4 = (ip?: string): Gateway => ({ name: 'lte', dev: 'ppp0', auto: true, priority: 2, probe, ...(ip && { ip }) });

function recorder(): Logger & { events: FamilyEvent[] } {
  const events: FamilyEvent[] = [];
  return { events, event: (event) => events.push(event), reopen: () => undefined, setLevel: () => undefined };
}

describe('noteAddresses', () => {
  it.each([
    ['IPv4 without an address, never had one: nothing to say', [auto4()], [[]]],
    ['IPv4 gets an address, keeps it', [auto4('192.0.2.9'), auto4('192.0.2.9')], [['192.0.2.9 (was -)'], []]],
    ['IPv6 without a router advertisement: said once, with the sysctl', [auto6(), auto6()], [['- (was -) accept_ra=2'], []]],
    [
      'IPv6 gets the RA next hop, then loses it',
      [auto6(), auto6('fe80::1'), auto6()],
      [['- (was -) accept_ra=2'], ['fe80::1 (was -)'], ['- (was fe80::1) accept_ra=2']],
    ],
  ])('%s', (_name, cycles, said) => {
    const state = emptyState();
    const heard = cycles.map((gateway) => {
      const log = recorder();
      noteAddresses([gateway], state, log);
      return log.events.map((event) => {
        const e = event as Extract<FamilyEvent, { kind: 'gateway-address' }>;
        return `${e.address ?? '-'} (was ${e.was ?? '-'})${e.hint?.includes('accept_ra=2') ? ' accept_ra=2' : ''}`;
      });
    });
    expect(heard).toEqual(said);
  });
});
