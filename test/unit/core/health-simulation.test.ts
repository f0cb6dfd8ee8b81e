// The health state machine with the default probe keys, driven by the seeded simulation on a
// virtual clock (scripts/health-simulation.ts; `npx tsx scripts/simulate-health.ts` prints the
// full figures). Every figure here is virtual time, so it does not depend on the machine.
import { describe, expect, it } from 'vitest';
import { healthSettings } from '../../../src/config/health.js';
import { configSchema } from '../../../src/config/schema.js';
import { DEFAULT_LINK, simulateLoss, simulateOutages } from '../../../scripts/health-simulation.js';

const DEFAULTS = healthSettings({ probe: configSchema.shape.probe.parse(undefined) });
const SWITCH_MS = 50;

describe('the default probe keys, simulated', () => {
  it('detect a hard outage at any moment within the targets (p50 ≤ 1.0 s, p95 ≤ 1.5 s with switching)', () => {
    const figures = simulateOutages(DEFAULTS, DEFAULT_LINK, 300, 1, SWITCH_MS);
    expect(figures.missed).toBe(0);
    expect(figures.p50).toBeLessThanOrEqual(1000);
    expect(figures.p95).toBeLessThanOrEqual(1500);
    // Never later than the last of `down` rounds started after the outage, plus its timeout.
    const latest = DEFAULTS.down * DEFAULTS.intervalMs + DEFAULT_LINK.jitterMs + DEFAULTS.timeoutMs + SWITCH_MS;
    expect(figures.max).toBeLessThanOrEqual(latest);
  });

  it('see no false down in 30 min of 10 % random loss on both sites', () => {
    const figures = simulateLoss(DEFAULTS, { ...DEFAULT_LINK, lossPct: 10 }, 3, 30 * 60_000, 2);
    expect(figures.downs).toBe(0);
  });

  it('send at most 16 echoes per second per gateway with 2 sites', () => {
    expect((2 * 1000) / DEFAULTS.intervalMs).toBeLessThanOrEqual(16);
  });
});
