import { describe, expect, it } from 'vitest';
import type { Gateway } from '../../../src/core/types.js';
import { chooseGateway, formatDuration, nextStableAt, probeOrder, probingDone, type DecisionInput } from '../../../src/core/decide.js';
import { emptyState, type Observations, type State } from '../../../src/core/types.js';

const gateways: Gateway[] = [
  { name: 'isp1', ip: '192.0.2.1', priority: 1, probe: { mark: 0x4e470001, table: 195, ports: { from: 61000, to: 61063 } } },
  { name: 'isp2', ip: '192.0.2.5', priority: 2, probe: { mark: 0x4e470002, table: 196, ports: { from: 61064, to: 61127 } } },
  { name: 'isp3', dev: 'ppp0', priority: 3, probe: { mark: 0x4e470003, table: 197, ports: { from: 61128, to: 61191 } } },
];
const MIN_UPTIME_S = 60;

/** `{ isp1: true, isp2: false }` → observations with one answered/unanswered site each. */
function observe(up: Record<string, boolean>): Observations {
  return Object.fromEntries(
    Object.entries(up).map(([name, isUp]) => [
      name,
      { up: isUp, sites: [{ site: '198.51.100.1', answered: isUp, rttMs: isUp ? 1.5 : undefined }] },
    ]),
  );
}

interface Step {
  /** Seconds since the scenario started. */
  t: number;
  up: Record<string, boolean>;
  /** The gateway the decision should move to; undefined = stay. */
  expect: string | undefined;
  kinds?: string[];
  reason?: RegExp;
}

/** Runs steps in order, carrying state and applying each switch as the new current gateway. */
function play(steps: Step[], options: Partial<DecisionInput> & { start?: string } = {}) {
  let state: State = options.state ?? emptyState();
  let current = options.start;
  const t0 = 1_800_000_000_000;
  for (const [i, step] of steps.entries()) {
    const decision = chooseGateway({
      gateways,
      minUptimeMs: MIN_UPTIME_S * 1000,
      checkAllGateways: false,
      mode: 'auto',
      ...options,
      state,
      current,
      observations: observe(step.up),
      now: t0 + step.t * 1000,
    });
    const where = `step ${i} (t=${step.t})`;
    expect(decision.target?.name, where).toBe(step.expect);
    if (step.kinds)
      expect(
        decision.events.map((event) => event.kind),
        where,
      ).toEqual(step.kinds);
    if (step.reason) expect(decision.reason, where).toMatch(step.reason);
    state = decision.state;
    if (decision.target) current = decision.target.name;
  }
  return { state, current };
}

describe('chooseGateway', () => {
  it('first start: a gateway with no history is not stable, but the best one up still gets the route', () => {
    play([
      {
        t: 0,
        up: { isp1: true, isp2: true, isp3: true },
        expect: 'isp1',
        kinds: ['gateway-up', 'gateway-up', 'gateway-up'],
        reason: /no current gateway; no gateway is stable yet/,
      },
    ]);
  });

  it('current up and nothing better: stays', () => {
    play([
      { t: 0, up: { isp1: true }, expect: 'isp1' },
      { t: 60, up: { isp1: true }, expect: undefined, kinds: [] },
    ]);
  });

  it('primary fails: moves to the best stable backup', () => {
    play(
      [
        { t: 0, up: { isp2: true, isp1: true, isp3: true }, expect: undefined },
        { t: 120, up: { isp2: true, isp1: true }, expect: 'isp1' },
        { t: 180, up: { isp1: false, isp2: true, isp3: true }, expect: 'isp2', reason: /^isp1 down, 0\/1 sites answered$/ },
      ],
      { start: 'isp2' },
    );
  });

  it("a health observation's reason says why the current gateway is down", () => {
    const { state } = play([{ t: 0, up: { isp1: true, isp2: true }, expect: 'isp1' }]);
    const reason = 'down: loss 42 % ≥ 30 % over 30 s';
    const decision = chooseGateway({
      gateways,
      minUptimeMs: 0,
      checkAllGateways: false,
      mode: 'auto',
      state,
      current: 'isp1',
      observations: { isp1: { up: false, sites: [], reason }, isp2: { up: true, sites: [] } },
      now: 1_800_000_060_000,
    });
    expect(decision.target?.name).toBe('isp2');
    expect(decision.reason).toBe('isp1 down: loss 42 % ≥ 30 % over 30 s');
  });

  it('primary returns: no failback before min_uptime, failback once stable', () => {
    play(
      [
        { t: 0, up: { isp2: true, isp1: false }, expect: undefined },
        { t: 60, up: { isp2: true, isp1: true }, expect: undefined, kinds: ['gateway-up'] },
        { t: 119, up: { isp2: true, isp1: true }, expect: undefined },
        { t: 120, up: { isp2: true, isp1: true }, expect: 'isp1', reason: /isp1 is back and stable, up for 1m00s/ },
      ],
      { start: 'isp2' },
    );
  });

  it('a flapping primary never gets traffic back while unstable', () => {
    const flaps = Array.from({ length: 10 }, (_, i): Step => ({ t: i * 30, up: { isp2: true, isp1: i % 2 === 0 }, expect: undefined }));
    play(flaps, { start: 'isp2' });
  });

  it('failover prefers a stable backup over a better one that is flapping', () => {
    play(
      [
        { t: 0, up: { isp1: true, isp2: false, isp3: true }, expect: undefined },
        { t: 100, up: { isp1: true, isp2: true, isp3: true }, expect: undefined },
        { t: 130, up: { isp1: false, isp2: true, isp3: true }, expect: 'isp3', reason: /^isp1 down/ },
      ],
      { start: 'isp1', checkAllGateways: true },
    );
  });

  it('a backup not probed in the cycles before is not stable on its first probe after the gap', () => {
    // isp3 was up an hour ago and not probed since (worse than the current one); isp2 was probed
    // in the previous cycle and has been up for min_uptime: isp2 wins although isp3's "since" is older.
    play(
      [
        { t: 0, up: { isp1: true, isp2: true, isp3: true }, expect: undefined },
        { t: 3540, up: { isp1: true, isp2: true }, expect: undefined },
        { t: 3600, up: { isp1: false, isp2: true, isp3: true }, expect: 'isp2', reason: /^isp1 down/ },
      ],
      { start: 'isp1', gateways: [gateways[0]!, { ...gateways[2]!, priority: 2 }, { ...gateways[1]!, priority: 3 }] },
    );
    // With only isp3 up after the gap, it is still the best gateway up: failover does not wait.
    play(
      [
        { t: 0, up: { isp1: true, isp2: true, isp3: true }, expect: undefined },
        { t: 3540, up: { isp1: true }, expect: undefined },
        {
          t: 3600,
          up: { isp1: false, isp2: false, isp3: true },
          expect: 'isp3',
          reason: /no gateway is stable yet, isp3 is the best one up/,
        },
      ],
      { start: 'isp1' },
    );
  });

  it('failover with nothing stable picks the best gateway that is up (no failover onto nothing)', () => {
    play(
      [
        { t: 0, up: { isp1: true }, expect: undefined },
        {
          t: 10,
          up: { isp1: false, isp2: false, isp3: true },
          expect: 'isp3',
          reason: /no gateway is stable yet, isp3 is the best one up/,
        },
      ],
      { start: 'isp1' },
    );
  });

  it('all down: keeps the route, logs all-down once per outage, then the recovery', () => {
    play(
      [
        { t: 0, up: { isp1: true }, expect: undefined },
        {
          t: 60,
          up: { isp1: false, isp2: false, isp3: false },
          expect: undefined,
          kinds: ['gateway-down', 'gateway-down', 'gateway-down', 'all-down'],
        },
        { t: 120, up: { isp1: false, isp2: false, isp3: false }, expect: undefined, kinds: [] },
        { t: 180, up: { isp1: false, isp2: true, isp3: false }, expect: 'isp2', kinds: ['gateway-up', 'recovered'] },
      ],
      { start: 'isp1' },
    );
  });

  it('an unknown current route counts as no current gateway', () => {
    play([{ t: 0, up: { isp1: false, isp2: true }, expect: 'isp2', reason: /^no current gateway/ }], { start: undefined });
  });

  it('pinned mode: uses the pinned gateway even when down, and warns once each time it goes down', () => {
    play(
      [
        { t: 0, up: { isp3: true }, expect: 'isp3', reason: /pinned/ },
        { t: 60, up: { isp3: false }, expect: undefined, kinds: ['gateway-down', 'pinned-down'] },
        { t: 120, up: { isp3: false }, expect: undefined, kinds: [] },
        { t: 180, up: { isp3: true }, expect: undefined, kinds: ['gateway-up'] },
        { t: 240, up: { isp3: false }, expect: undefined, kinds: ['gateway-down', 'pinned-down'] },
      ],
      { start: 'isp1', mode: 'isp3' },
    );
  });

  it('pinned to a gateway that is already down: warns at the first cycle of the pin', () => {
    const { state } = play([{ t: 0, up: { isp1: true, isp3: false }, expect: undefined }], { start: 'isp1', checkAllGateways: true });
    play(
      [
        { t: 60, up: { isp3: false }, expect: 'isp3', kinds: ['pinned-down'] },
        { t: 120, up: { isp3: false }, expect: undefined, kinds: [] },
      ],
      { start: 'isp1', mode: 'isp3', state },
    );
  });

  it('a clock stepped back never makes a gateway stable early', () => {
    const { state } = play([{ t: 0, up: { isp2: true, isp1: true }, expect: undefined }], { start: 'isp2' });
    // The clock jumps back one hour: isp1's "up since" lies in the future and restarts now.
    play(
      [
        { t: -3600, up: { isp2: true, isp1: true }, expect: undefined, kinds: ['clock-went-back'] },
        { t: -3600 + 59, up: { isp2: true, isp1: true }, expect: undefined },
        { t: -3600 + 60, up: { isp2: true, isp1: true }, expect: 'isp1' },
      ],
      { start: 'isp2', state },
    );
  });

  it('a clock stepped back restarts the count even for a gateway that was up long ago', () => {
    const { state } = play(
      [
        { t: 0, up: { isp2: true, isp1: true }, expect: undefined },
        { t: 30, up: { isp2: true, isp1: true }, expect: undefined },
      ],
      { start: 'isp2' },
    );
    play([{ t: 20 + MIN_UPTIME_S, up: { isp2: true, isp1: true }, expect: undefined }], {
      start: 'isp2',
      state: { ...state, lastCycleAt: state.lastCycleAt! + 3_600_000 },
    });
  });

  it('min_uptime 0: a returning primary takes over at once', () => {
    play(
      [
        { t: 0, up: { isp2: true, isp1: false }, expect: undefined },
        { t: 60, up: { isp2: true, isp1: true }, expect: 'isp1' },
      ],
      { start: 'isp2', minUptimeMs: 0 },
    );
  });
});

describe('probeOrder and probingDone', () => {
  const base = { gateways, minUptimeMs: 60_000, checkAllGateways: false, mode: 'auto', state: emptyState(), now: 0 };

  it('probes the current gateway first, then the rest best first', () => {
    expect(probeOrder({ ...base, current: 'isp2' }).map((g) => g.name)).toEqual(['isp2', 'isp1', 'isp3']);
    expect(probeOrder({ ...base, mode: 'isp3' }).map((g) => g.name)).toEqual(['isp3']);
  });

  it('current up: only better gateways are worth probing', () => {
    expect(probingDone({ ...base, current: 'isp1', observations: observe({ isp1: true }) })).toBe(true);
    expect(probingDone({ ...base, current: 'isp2', observations: observe({ isp2: true }) })).toBe(false);
    expect(probingDone({ ...base, current: 'isp2', observations: observe({ isp2: true, isp1: false }) })).toBe(true);
  });

  it('current down: stops at the first stable gateway, goes on past unstable ones', () => {
    const state: State = { ...emptyState(), lastCycleAt: -60_000, gateways: { isp2: { up: true, since: -600_000, checkedAt: -60_000 } } };
    expect(probingDone({ ...base, state, current: 'isp1', observations: observe({ isp1: false, isp2: true }) })).toBe(true);
    expect(probingDone({ ...base, current: 'isp1', observations: observe({ isp1: false, isp2: true }) })).toBe(false);
    expect(probingDone({ ...base, current: 'isp1', observations: observe({ isp1: false, isp2: false, isp3: true }) })).toBe(true);
  });

  it('pinned: probes the pinned gateway, and only it', () => {
    expect(probingDone({ ...base, mode: 'isp3', current: 'isp1', observations: {} })).toBe(false);
    expect(probingDone({ ...base, mode: 'isp3', current: 'isp1', observations: observe({ isp3: false }) })).toBe(true);
  });

  it('names that every object inherits (constructor, toString) count as not yet probed, not stable, not known', () => {
    const named: Gateway[] = [
      { name: 'constructor', ip: '192.0.2.1', priority: 1, probe: { mark: 0x4e470001, table: 195, ports: { from: 61000, to: 61063 } } },
      { name: 'toString', ip: '192.0.2.5', priority: 2, probe: { mark: 0x4e470002, table: 196, ports: { from: 61064, to: 61127 } } },
    ];
    const input = { ...base, gateways: named, current: 'toString', observations: observe({ toString: true }) };
    expect(probingDone(input)).toBe(false);
    const decision = chooseGateway({ ...input, observations: observe({ toString: true, constructor: true }) });
    expect(decision.target).toBeUndefined(); // constructor is up but not yet stable
    expect(decision.reason).toBe('toString up');
    expect(decision.events).toEqual([
      expect.objectContaining({ kind: 'gateway-up', gateway: 'toString', wasKnown: false }),
      expect.objectContaining({ kind: 'gateway-up', gateway: 'constructor', wasKnown: false }),
    ]);
    expect(Object.keys(decision.state.gateways)).toEqual(['toString', 'constructor']);
  });

  it('check_all_gateways probes everything', () => {
    expect(probingDone({ ...base, checkAllGateways: true, current: 'isp1', observations: observe({ isp1: true }) })).toBe(false);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [59_400, '59s'],
    [60_000, '1m00s'],
    [3_725_000, '1h02m'],
  ])('%i ms → %s', (ms, text) => expect(formatDuration(ms)).toBe(text));
});

describe('nextStableAt', () => {
  const gateways = [
    { name: 'isp1', ip: '192.0.2.1', priority: 1, probe: { mark: 1, table: 101, ports: { from: 61000, to: 61063 } } },
    { name: 'isp2', ip: '192.0.2.5', priority: 2, probe: { mark: 2, table: 102, ports: { from: 61064, to: 61127 } } },
    { name: 'isp3', ip: '192.0.2.9', priority: 3, probe: { mark: 3, table: 103, ports: { from: 61128, to: 61191 } } },
  ];
  type Records = Partial<Record<string, { up: boolean; since: number }>>;
  const state = (records: Records, lastCycleAt = 1000) => ({
    ...emptyState(),
    lastCycleAt,
    gateways: Object.fromEntries(Object.entries(records).map(([name, r]) => [name, { ...r!, checkedAt: lastCycleAt }])),
  });
  it.each([
    {
      case: 'a better gateway up but not stable yet: when it will be',
      current: 'isp2',
      records: { isp1: { up: true, since: 900 } },
      want: 1900,
    },
    { case: 'already stable: nothing to wait for', current: 'isp2', records: { isp1: { up: true, since: 0 } }, want: undefined },
    { case: 'a better gateway down: nothing to wait for', current: 'isp2', records: { isp1: { up: false, since: 900 } }, want: undefined },
    {
      case: 'only worse gateways rising: nothing to wait for',
      current: 'isp1',
      records: { isp2: { up: true, since: 900 } },
      want: undefined,
    },
    {
      case: 'the earliest of several',
      current: 'isp3',
      records: { isp1: { up: true, since: 950 }, isp2: { up: true, since: 500 } },
      want: 1500,
    },
    { case: 'no current gateway: any gateway rising counts', current: undefined, records: { isp3: { up: true, since: 800 } }, want: 1800 },
  ])('$case', ({ current, records, want }) => {
    expect(nextStableAt({ gateways, state: state(records as Records), current, minUptimeMs: 1000 })).toBe(want);
  });
});
