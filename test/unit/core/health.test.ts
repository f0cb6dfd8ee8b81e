import { describe, expect, it } from 'vitest';
import {
  initialHealth,
  isUsable,
  MAX_ROUNDS,
  observationOf,
  observeLink,
  observeRound,
  type Echo,
  type GatewayHealth,
  type HealthChange,
  type HealthSettings,
  type HealthStatus,
  type Round,
} from '../../../src/core/health.js';

// Small numbers keep the tables readable: a round every 200 ms, a window of 10 rounds.
const SETTINGS: HealthSettings = {
  intervalMs: 200,
  timeoutMs: 400,
  down: 3,
  up: 4,
  minSites: 1,
  windowMs: 2000,
  lossDownPct: 30,
  lossUpPct: 10,
};

/** `y` answered, `n` lost, per site; `y150` answered in 150 ms (default 10 ms). */
function echoes(pattern: string): Echo[] {
  return [...pattern.matchAll(/([yn])(\d*)/g)].map(([, answer, rtt], site) =>
    answer === 'y' ? { site: `s${site + 1}`, answered: true, rttMs: rtt ? Number(rtt) : 10 } : { site: `s${site + 1}`, answered: false },
  );
}

const roundAt = (index: number, pattern: string): Round => ({ at: index * SETTINGS.intervalMs, echoes: echoes(pattern) });

/**
 * Deep-frozen, so that a test fails if observeRound or observeLink changes what it was given. The
 * window's log is shared with the next health and appended to past this one's end, so it is not
 * frozen (that would make every round copy it): `unchanged` checks what this health sees of it.
 */
function frozen(health: GatewayHealth): GatewayHealth {
  for (const round of [...recentRounds(health), ...visibleWindow(health)]) Object.freeze(round);
  for (const echo of health.lastEchoes) Object.freeze(echo);
  Object.freeze(health.recent);
  Object.freeze(health.lastEchoes);
  Object.freeze(health.window);
  return Object.freeze(health);
}

const visibleWindow = (health: GatewayHealth) => health.window.log.slice(health.window.start, health.window.end);
const recentRounds = (health: GatewayHealth) => health.recent.log.slice(health.recent.start, health.recent.end);
/** A health as it judges: its fields, and of its shared logs only the parts it sees. */
const asSeen = (health: GatewayHealth) => ({
  ...health,
  window: visibleWindow(health),
  base: health.window.base,
  recent: recentRounds(health),
});

/** Runs `step` on a frozen `health` and checks that the part of the shared log it sees did not change. */
function unchanged<T>(health: GatewayHealth, step: (health: GatewayHealth) => T): T {
  const seen = visibleWindow(health);
  const recent = recentRounds(health);
  const result = step(frozen(health));
  expect(visibleWindow(health)).toEqual(seen);
  expect(recentRounds(health)).toEqual(recent);
  return result;
}

interface Played {
  health: GatewayHealth;
  /** The status after each round. */
  statuses: HealthStatus[];
  changes: Array<HealthChange & { round: number }>;
}

/** Feeds one round per pattern, every interval from round `from` on. */
function play(patterns: string[], settings = SETTINGS, start = initialHealth(0), from = 0): Played {
  let health = start;
  const statuses: HealthStatus[] = [];
  const changes: Played['changes'] = [];
  patterns.forEach((pattern, i) => {
    const update = unchanged(health, (given) => observeRound(given, roundAt(from + i, pattern), settings));
    health = update.health;
    statuses.push(health.status);
    if (update.change) changes.push({ ...update.change, round: from + i });
  });
  return { health, statuses, changes };
}

const repeat = (pattern: string, times: number) => Array<string>(times).fill(pattern);
/** Half the echoes lost, to each site in turn: loss is judged per site (the best min_sites ones). */
const halfLost = (times: number) => Array.from({ length: times }, (_, i) => (i % 2 === 0 ? 'yn' : 'ny'));
const LETTER: Record<HealthStatus, string> = { unknown: '?', up: 'u', degraded: '~', down: 'd' };
/** `?` unknown, `u` up, `~` degraded, `d` down. */
const short = (statuses: HealthStatus[]) => statuses.map((status) => LETTER[status]).join('');

describe('observeRound: reachability', () => {
  it.each<{ name: string; rounds: string[]; statuses: string; settings?: HealthSettings }>([
    { name: 'the first good round brings an unknown gateway up', rounds: ['yy'], statuses: 'u' },
    { name: 'one site of two is enough (min_sites 1)', rounds: ['ny'], statuses: 'u' },
    { name: 'an unknown gateway is down after `down` bad rounds', rounds: ['nn', 'nn', 'nn'], statuses: '??d' },
    { name: 'a good round before the third bad one saves it', rounds: ['nn', 'nn', 'yn'], statuses: '??u' },
    { name: 'up falls after exactly `down` bad rounds', rounds: ['yy', 'nn', 'nn', 'nn'], statuses: 'uuud' },
    {
      name: 'blips shorter than `down` change nothing',
      rounds: ['yy', 'nn', 'nn', 'yy', 'nn', 'yy', 'nn', 'nn', 'ny'],
      statuses: 'uuuuuuuuu',
    },
    {
      name: 'down rises after exactly `up` good rounds',
      rounds: ['yy', 'nn', 'nn', 'nn', 'yy', 'yy', 'yy', 'yy'],
      statuses: 'uuuddddu',
    },
    {
      name: 'a bad round restarts the count to `up`',
      rounds: ['nn', 'nn', 'nn', 'yy', 'yy', 'yy', 'nn', 'yy', 'yy', 'yy', 'yy'],
      statuses: '??ddddddddu',
      // Here only the count matters, not the loss the bad round adds to the window.
      settings: { ...SETTINGS, lossUpPct: 30 },
    },
  ])('$name', ({ rounds, statuses, settings }) => {
    expect(short(play(rounds, settings).statuses)).toBe(statuses);
  });

  it('says why, in one change per status change', () => {
    const { changes, health } = play(['yy', 'nn', 'nn', 'nn', 'nn', ...repeat('yy', 4)]);
    expect(changes).toEqual([
      { from: 'unknown', to: 'up', reason: 'up: 2/2 sites, loss 0 %, rtt 10 ms', at: 0, round: 0 },
      { from: 'up', to: 'down', reason: 'down: 0/2 sites answered in 3 rounds', at: 600, round: 3 },
      { from: 'down', to: 'up', reason: 'up: 2/2 sites, loss 0 %, rtt 10 ms', at: 1600, round: 8 },
    ]);
    expect(health).toMatchObject({ status: 'up', since: 1600 });
    expect(isUsable(health)).toBe(true);
  });

  it('with min_sites 2, a round where one site answers is bad; a site not probed does not count', () => {
    const settings = { ...SETTINGS, minSites: 2 };
    const falls = play(['yy', 'yn', 'ny', 'yn'], settings);
    expect(short(falls.statuses)).toBe('uuud');
    expect(falls.health.reason).toBe('down: at most 1/2 sites answered in 3 rounds, min_sites is 2');
    // One site did not resolve: the one probed answering is all a round can show.
    expect(short(play(['yy', 'y', 'y', 'y'], settings).statuses)).toBe('uuuu');
  });

  it('ignores a round with no echo (no site could be probed)', () => {
    const before = play(['yy']).health;
    expect(observeRound(before, { at: 200, echoes: [] }, SETTINGS)).toEqual({ health: before });
  });

  it('counts runs in the order rounds were sent: a later round that answered vetoes a late lost one', () => {
    // Round 2 is lost and settles at its timeout, after round 3 answered: the path works.
    let health = play(['yy', 'nn', 'nn']).health;
    health = observeRound(health, roundAt(3, 'yy'), SETTINGS).health;
    const late = observeRound(health, roundAt(2, 'nn'), SETTINGS);
    expect(late.change).toBeUndefined();
    expect(late.health.status).toBe('up');
    // Lost rounds settle in the order sent, so a real outage still counts them all.
    expect(short(play(['yy', 'nn', 'nn', 'nn']).statuses)).toBe('uuud');
  });

  it('with up and down 1, a late round older than every round kept leaves the newest one in the runs', () => {
    // One round kept: round 2 (lost) settles after round 3 answered; round 3 still decides, and
    // the up reason still reads it (this threw: the runs were left empty).
    const settings = { ...SETTINGS, up: 1, down: 1 };
    let health = play(['yy', 'yy'], settings).health;
    health = observeRound(health, roundAt(3, 'yy'), settings).health;
    const late = unchanged(health, (seen) => observeRound(seen, roundAt(2, 'nn'), settings));
    expect(late.change).toBeUndefined();
    expect(late.health).toMatchObject({ status: 'up', reason: 'up: 2/2 sites, loss 25 %, rtt 10 ms' }); // the lost round is in the window
    expect(recentRounds(late.health)).toMatchObject([{ at: roundAt(3, 'yy').at, answered: 2, run: 3 }]);
  });
});

describe('observeRound: loss and latency over the window', () => {
  it('falls on loss only once the window is full, and says by how much', () => {
    // Every round good (one site answers), but half the echoes lost, to each site.
    const { statuses, changes } = play(halfLost(12));
    expect(short(statuses)).toBe('uuuuuuuuuddd');
    expect(changes.at(-1)).toMatchObject({ to: 'down', reason: 'down: loss 50 % ≥ 30 % over 2 s', round: 9 });
  });

  it('rises again only when the loss over the window is within loss_up (hysteresis)', () => {
    const lossy = play(halfLost(10)).health;
    expect(lossy.status).toBe('down');
    // Each good round pushes a lossy one out: ≤ 10 % of the 10 echoes to the better site means at most 1 lost.
    const { statuses } = play(repeat('yy', 9), SETTINGS, lossy, 10);
    expect(short(statuses)).toBe('dddddduuu');
  });

  it('between loss_up and loss_down an up gateway is degraded, still usable, and the band keeps it so', () => {
    // 2 lost of 10 echoes every 5 rounds, one to each site: 20 %.
    const fifth = ['yy', 'yy', 'yn', 'yy', 'ny'];
    const lossy = play([...fifth, ...fifth, ...fifth, ...fifth]);
    const degraded = lossy.changes.find((change) => change.to === 'degraded');
    expect(degraded).toMatchObject({ from: 'up', reason: 'degraded: loss 20 % > 10 %' });
    // Not before the status is a window old and the window full.
    expect(degraded!.round).toBe(10);
    expect(isUsable(lossy.health)).toBe(true);
    expect(observationOf(lossy.health).up).toBe(true);
    // Back at half of loss_up (1 lost of 20 echoes, 5 %) it is up again; at 10 % it stays degraded.
    const tenPct = ['yy', 'yy', 'yn', 'yy', 'yy', 'yy', 'yy', 'ny', 'yy', 'yy'];
    expect(short(play([...tenPct, ...tenPct], SETTINGS, lossy.health, 20).statuses)).toBe('~'.repeat(20));
    const fivePct = [...repeat('yy', 9), 'yn', ...repeat('yy', 9), 'ny'];
    expect(play(fivePct, SETTINGS, lossy.health, 20).changes).toMatchObject([{ from: 'degraded', to: 'up' }]);
  });

  it('judges mean RTT like loss when latency thresholds are set', () => {
    const settings = { ...SETTINGS, latencyDownMs: 100, latencyUpMs: 50 };
    const slow = play(repeat('y150y150', 10), settings);
    expect(slow.changes.at(-1)).toMatchObject({ to: 'down', reason: 'down: mean rtt 150 ms ≥ 100 ms over 2 s', round: 9 });
    // 70 ms is below latency_down but above latency_up: it stays down.
    const better = play(repeat('y70y70', 10), settings, slow.health, 10);
    expect(better.changes).toEqual([]);
    // The mean over the window drops to 50 ms on the 4th round at 20 ms, and `up` rounds are good.
    expect(short(play(repeat('y20y20', 10), settings, better.health, 20).statuses)).toBe('ddduuuuuuu');
    // Up at 70 ms: degraded, not down.
    const degraded = play(repeat('y70y70', 11), settings);
    expect(degraded.changes.map((change) => change.to)).toEqual(['up', 'degraded']);
    expect(degraded.health.reason).toBe('degraded: mean rtt 70 ms > 50 ms');
  });

  it('without latency thresholds, RTT is only reported', () => {
    expect(play(repeat('y900y900', 20)).health).toMatchObject({ status: 'up', reason: 'up: 2/2 sites, loss 0 %, rtt 900 ms' });
  });

  it('after an outage, the link is judged on what came after it, not held down until the outage leaves the window', () => {
    const outage = play(['yy', ...repeat('nn', 8)]).health;
    expect(outage.status).toBe('down');
    expect(short(play(repeat('yy', 4), SETTINGS, outage, 9).statuses)).toBe('dddu');
  });

  it('a lost round now and then does not restart the window of a gateway down for loss', () => {
    // 40 % of the rounds lost entirely, never 3 in a row: down for loss, the same at every site.
    const lossy = play(repeat('yy nn yy yy nn', 2).join(' ').split(' ')).health;
    expect(lossy).toMatchObject({ status: 'down', reason: 'down: loss 40 % ≥ 30 % over 2 s' });
    // 1 round of 5 lost entirely (20 % loss), never 3 in a row: it must stay down, not rise
    // on the few good rounds since the last lost one.
    const { statuses } = play(repeat(['yy', 'yy', 'yy', 'yy', 'nn'].join(' '), 6).join(' ').split(' '), SETTINGS, lossy, 10);
    expect(statuses.every((status) => status === 'down')).toBe(true);
  });
});

describe('observeLink', () => {
  const link = (up: boolean, at: number) => ({ up, dev: 'wan-1', at });

  it('carrier loss makes the gateway down at once and says which device', () => {
    const up = play(repeat('yy', 3)).health;
    const { health, change } = observeLink(frozen(up), link(false, 500), SETTINGS);
    expect(change).toEqual({ from: 'up', to: 'down', reason: 'down: link wan-1 has no carrier', at: 500 });
    expect(health).toMatchObject({ status: 'down', since: 500 });
    // A round sent before the carrier went, settling after, tells nothing.
    expect(observeRound(health, roundAt(2, 'yy'), SETTINGS).health).toBe(health);
  });

  it('carrier back does not make it up: good rounds must', () => {
    const down = observeLink(play(repeat('yy', 3)).health, link(false, 500), SETTINGS).health;
    const back = observeLink(down, link(true, 900), SETTINGS);
    expect(back.change).toBeUndefined();
    expect(back.health).toMatchObject({ status: 'down', reason: 'down: link wan-1 has carrier again, waiting for good rounds' });
    expect(short(play(repeat('yy', 4), SETTINGS, back.health, 5).statuses)).toBe('dddu');
  });

  it('keeps naming the link while probes fail during the carrier loss', () => {
    const down = observeLink(play(['yy']).health, link(false, 100), SETTINGS).health;
    expect(play(repeat('nn', 5), SETTINGS, down, 1).health.reason).toBe('down: link wan-1 has no carrier');
  });

  it('an unknown gateway whose link is down is down; carrier up on an up gateway changes nothing', () => {
    expect(observeLink(initialHealth(0), link(false, 10), SETTINGS).change).toMatchObject({ from: 'unknown', to: 'down' });
    const up = play(['yy']).health;
    expect(observeLink(up, link(true, 300), SETTINGS)).toEqual({ health: up });
  });
});

describe('the window', () => {
  it('a clock stepping back clears it instead of judging rounds against the future', () => {
    const lossy = play(repeat('yn', 8), SETTINGS, initialHealth(0), 100).health; // rounds at 20 s…
    const { health, change } = observeRound(lossy, { at: 1000, echoes: echoes('yy') }, SETTINGS);
    expect(change).toBeUndefined();
    expect(visibleWindow(health)).toHaveLength(1);
    expect(health.since).toBeLessThanOrEqual(1000);
    // The lossy past is gone: a full window of clean rounds from here keeps it up.
    const after = play(repeat('yy', 12), SETTINGS, health, 6);
    expect(after.changes).toEqual([]);
    expect(after.health.reason).toBe('up: 2/2 sites, loss 0 %, rtt 10 ms');
  });

  it('a degraded gateway keeps its status and reason through a clock step back until the window is full again', () => {
    const fifth = ['yy', 'yy', 'yn', 'yy', 'ny'];
    const degraded = play([...fifth, ...fifth, ...fifth], SETTINGS, initialHealth(0), 100).health;
    expect(degraded.status).toBe('degraded');
    const { health, change } = observeRound(degraded, { at: 1000, echoes: echoes('yy') }, SETTINGS);
    expect(change).toBeUndefined();
    expect(health).toMatchObject({ status: 'degraded', reason: degraded.reason });
  });

  it('an older health observed again judges as it did the first time: the shared log is copied, not overwritten', () => {
    const base = play(repeat('yn', 6)).health;
    const first = observeRound(base, roundAt(6, 'nn'), SETTINGS).health;
    // `first` appended to the log `base` shares; going on from `base` must not see or clobber it.
    const again = observeRound(base, roundAt(6, 'yy'), SETTINGS).health;
    expect(visibleWindow(first).at(-1)).toMatchObject({ answered: 0 });
    expect(visibleWindow(again).at(-1)).toMatchObject({ answered: 2 });
    // Echoes answered within the window: the newest round's running totals less the base.
    const answered = (health: GatewayHealth) => {
      const { log, end, base } = health.window;
      return log[end - 1]!.totals.reduce((sum, total, i) => sum + (i >= 2 && i % 2 === 1 ? total - (base[i] ?? 0) : 0), 0);
    };
    expect(answered(again) - answered(first)).toBe(2);
    // The same judgement from the same rounds (the logs under the views may differ: one was copied).
    expect(asSeen(observeRound(base, roundAt(6, 'nn'), SETTINGS).health)).toEqual(asSeen(first));
  });

  it('is plain data: it survives JSON (a state file) unchanged', () => {
    for (const health of [play(['yy', 'yn']).health, play(['nn', 'nn', 'nn']).health, initialHealth(5)]) {
      expect(JSON.parse(JSON.stringify(health))).toEqual(health);
    }
  });

  it('stays bounded by time and count', () => {
    const { health } = play(repeat('yy', 500));
    expect(visibleWindow(health).length).toBeLessThanOrEqual(SETTINGS.windowMs / SETTINGS.intervalMs + 1);
    expect(recentRounds(health).length).toBe(Math.max(SETTINGS.up, SETTINGS.down));
    expect(health.recent.log.length).toBeLessThan(2 * 1024 + SETTINGS.up);
    // The shared log is compacted: it holds little more than the window, however many rounds came.
    expect(health.window.log.length).toBeLessThan(2 * 1024 + SETTINGS.windowMs / SETTINGS.intervalMs);
    // Settings whose window would hold more rounds than MAX_ROUNDS still keep at most that many.
    const huge = { ...SETTINGS, windowMs: 1e9, up: 1 };
    let many = initialHealth(0);
    for (let i = 0; i < MAX_ROUNDS + 50; i++) many = observeRound(many, roundAt(i, 'y'), huge).health;
    expect(visibleWindow(many)).toHaveLength(MAX_ROUNDS);
  });

  it('keeps at least the rounds the runs need, even when the window is shorter', () => {
    const settings = { ...SETTINGS, windowMs: 300, up: 6 };
    const down = observeLink(initialHealth(0), { up: false, dev: 'wan-1', at: 0 }, settings).health;
    expect(short(play(repeat('yy', 6), settings, down, 1).statuses)).toBe('dddddu');
  });
});

describe('observationOf', () => {
  it('gives chooseGateway usability, the last round and the reason', () => {
    const { health } = play(['yy', 'y12n']);
    expect(observationOf(health)).toEqual({
      up: true,
      sites: [
        { site: 's1', answered: true, rttMs: 12, replies: 1, sent: 1 },
        { site: 's2', answered: false, replies: 0, sent: 1 },
      ],
      reason: 'up: 1/2 sites, loss 0 %, rtt 11 ms',
    });
    expect(observationOf(initialHealth(0))).toEqual({ up: false, sites: [], reason: 'unknown: not probed yet' });
  });
});
