import { describe, expect, it } from 'vitest';
import { type Behaviour, DEFAULT_GATEWAY, type Phase, type Scenario, scenarioEvents } from '../../../src/core/scenario.js';

const SETUP = {
  gateways: [{ name: 'isp1', dev: 'eth1' }, { name: 'isp2' }],
  sites: ['192.0.2.53', '203.0.113.53'],
  intervalMs: 150,
  timeoutMs: 500,
  startAt: 1_000_000,
};

const phase = (fromMs: number, toMs: number, behaviour: Partial<Behaviour>): Phase => ({
  fromMs,
  toMs,
  behaviour: { ...DEFAULT_GATEWAY, ...behaviour },
});
const site = (fromMs: number, toMs: number, behaviour: Partial<Behaviour>): Phase => ({
  fromMs,
  toMs,
  behaviour: { state: 'up', lossPct: 0, rttMs: [0, 0], ...behaviour },
});

function scenario(partial: Partial<Scenario>): Scenario {
  return { name: 't', durationMs: 60_000, seed: 1, gateways: {}, sites: {}, ...partial };
}

describe('scenarioEvents', () => {
  it('a round every interval per gateway, in the order they settle; the same seed gives the same events', () => {
    const input = scenario({ gateways: { isp1: [phase(0, 60_000, { lossPct: 20 })] } });
    const { events } = scenarioEvents(input, SETUP);
    expect(events.filter((event) => event.gateway === 'isp1')).toHaveLength(400);
    expect(events.filter((event) => event.gateway === 'isp2')).toHaveLength(400);
    const times = events.map((event) => (event.kind === 'round' ? event.settledAt : event.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(scenarioEvents(input, SETUP).events).toEqual(events);
    expect(scenarioEvents({ ...input, seed: 2 }, SETUP).events).not.toEqual(events);
    // Answered in 10-30 ms; a lost echo settles its round at the timeout.
    for (const event of events) {
      if (event.kind !== 'round') continue;
      const lost = event.echoes.some((echo) => !echo.answered);
      if (lost) expect(event.settledAt).toBe(event.at + 500);
      else expect(event.settledAt - event.at).toBeLessThanOrEqual(30);
    }
    const isp1 = events.flatMap((event) => (event.kind === 'round' && event.gateway === 'isp1' ? event.echoes : []));
    const lossPct = (isp1.filter((echo) => !echo.answered).length / isp1.length) * 100;
    expect(lossPct).toBeGreaterThan(15);
    expect(lossPct).toBeLessThan(25);
  });

  it('down: nothing answers, also an echo on its way when the outage starts; truth: dead', () => {
    const { events, truth } = scenarioEvents(scenario({ gateways: { isp1: [phase(30_000, 40_000, { state: 'down' })] } }), SETUP);
    for (const event of events) {
      if (event.kind !== 'round' || event.gateway !== 'isp1') continue;
      const answered = event.echoes.every((echo) => echo.answered);
      const inOutage = event.at + 30 >= 1_030_000 && event.at < 1_040_000;
      if (event.at >= 1_030_000 && event.at < 1_040_000) expect(answered).toBe(false);
      if (!inOutage && event.at + 30 < 1_030_000) expect(answered).toBe(true);
    }
    expect(truth.isp1).toEqual({ dead: [{ from: 1_030_000, to: 1_040_000 }], impaired: [] });
    expect(truth.isp2).toEqual({ dead: [], impaired: [] });
  });

  it('link-down: a carrier loss and return on the gateway device (its name without one)', () => {
    const gateways = { isp1: [phase(10_000, 20_000, { state: 'link-down' })], isp2: [phase(50_000, 60_000, { state: 'link-down' })] };
    const { events, truth } = scenarioEvents(scenario({ gateways }), SETUP);
    expect(events.filter((event) => event.kind === 'link')).toEqual([
      { kind: 'link', gateway: 'isp1', dev: 'eth1', up: false, at: 1_010_000 },
      { kind: 'link', gateway: 'isp1', dev: 'eth1', up: true, at: 1_020_000 },
      // Lasting until the end: no return.
      { kind: 'link', gateway: 'isp2', dev: 'isp2', up: false, at: 1_050_000 },
    ]);
    expect(truth.isp1!.dead).toEqual([{ from: 1_010_000, to: 1_020_000 }]);
  });

  it('sites: one dead site leaves a gateway alive; every site dead is dead; heavy loss is impaired', () => {
    const sites = { '192.0.2.53': [site(0, 60_000, { state: 'down' })], '203.0.113.53': [site(20_000, 30_000, { state: 'down' })] };
    const gateways = { isp2: [phase(40_000, 50_000, { lossPct: 30 })] };
    const { events, truth } = scenarioEvents(scenario({ sites, gateways }), SETUP);
    expect(truth.isp1).toEqual({ dead: [{ from: 1_020_000, to: 1_030_000 }], impaired: [] });
    expect(truth.isp2).toEqual({ dead: [{ from: 1_020_000, to: 1_030_000 }], impaired: [{ from: 1_040_000, to: 1_050_000 }] });
    const dead = events.flatMap((event) => (event.kind === 'round' ? event.echoes.filter((echo) => echo.site === '192.0.2.53') : []));
    expect(dead.every((echo) => !echo.answered)).toBe(true);
  });

  it('an RTT beyond the timeout is a lost echo (the truth is not dead: the link works, slowly)', () => {
    const { events, truth } = scenarioEvents(scenario({ gateways: { isp1: [phase(0, 60_000, { rttMs: [600, 700] })] } }), SETUP);
    expect(
      events
        .filter((event) => event.gateway === 'isp1')
        .every((event) => event.kind === 'round' && event.echoes.every((echo) => !echo.answered)),
    ).toBe(true);
    expect(truth.isp1!.dead).toEqual([]);
  });
});
