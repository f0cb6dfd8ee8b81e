import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import { parseScenario } from '../../../src/replay/scenario-file.js';

const NAMES = { gateways: ['isp1', 'isp2'], sites: ['192.0.2.53', '203.0.113.53'] };
const FILE = '/tmp/s.yml';

function problems(text: string): string[] {
  try {
    parseScenario(text, FILE, NAMES);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('parseScenario', () => {
  it('reads durations, phases, repeats, sites, seed and start', () => {
    const scenario = parseScenario(
      [
        'name: test',
        'duration: 1h',
        'seed: 7',
        'start: isp2',
        'gateways:',
        '  isp1:',
        '    - {for: 90, loss: 30}',
        '    - repeat: 2',
        '      phases: [{for: 1m30s, state: down}, {for: 500ms, rtt: [20, 40]}]',
        '    - {state: link-down}',
        '  isp2: {rtt: 50}',
        'sites:',
        '  192.0.2.53: [{for: 10m, state: down}]',
      ].join('\n'),
      FILE,
      NAMES,
    );
    expect(scenario.name).toBe('test');
    expect(scenario.durationMs).toBe(3_600_000);
    expect(scenario.seed).toBe(7);
    expect(scenario.start).toBe('isp2');
    expect(scenario.gateways.isp1!.map((phase) => [phase.fromMs, phase.toMs, phase.behaviour.state, phase.behaviour.lossPct])).toEqual([
      [0, 90_000, 'up', 30],
      [90_000, 180_000, 'down', 0],
      [180_000, 180_500, 'up', 0],
      [180_500, 270_500, 'down', 0],
      [270_500, 271_000, 'up', 0],
      [271_000, 3_600_000, 'link-down', 0],
    ]);
    expect(scenario.gateways.isp1![2]!.behaviour.rttMs).toEqual([20, 40]);
    // One phase for the whole scenario; RTT fixed.
    expect(scenario.gateways.isp2).toEqual([{ fromMs: 0, toMs: 3_600_000, behaviour: { state: 'up', lossPct: 0, rttMs: [50, 50] } }]);
    expect(scenario.sites['192.0.2.53']).toEqual([{ fromMs: 0, toMs: 600_000, behaviour: { state: 'down', lossPct: 0, rttMs: [0, 0] } }]);
  });

  it('defaults: seed 1, name from the file, no start', () => {
    const scenario = parseScenario('duration: 10m\ngateways: {isp1: {state: down}}\n', '/x/flap.yml', NAMES);
    expect(scenario).toMatchObject({ name: 'flap', seed: 1, sites: {} });
    expect(scenario.start).toBeUndefined();
  });

  it.each([
    [
      'duration: 1h\ngateways:\n  isp9: {state: down}\n',
      `${FILE}: line 3: gateways: "isp9" is not a gateway of the config; expected one of isp1, isp2`,
    ],
    ['gateways: {}\n', `${FILE}: line 1: missing \`duration\` (e.g. \`duration: 2h\`)`],
    ['duration: 3d\n', `${FILE}: line 1: duration: expected more than 0 and at most 2d, got "3d"`],
    ['duration: soon\n', `${FILE}: line 1: duration: expected a duration such as 90 (seconds), 90s, 10m, 1h30m or 500ms, got "soon"`],
    ['duration: 1h\nseed: -1\n', `${FILE}: line 2: seed: expected a whole number of 0 or more, got -1`],
    ['duration: 1h\nstart: isp3\n', `${FILE}: line 2: start: expected the gateway the route starts on, one of isp1, isp2, got "isp3"`],
    [
      'duration: 1h\nspeed: 3\n',
      `${FILE}: line 2: unknown key "speed"; expected one of name, description, duration, seed, start, gateways, sites`,
    ],
    [
      'duration: 1h\ngateways:\n  isp1:\n    - {state: down}\n    - {for: 1m}\n',
      `${FILE}: line 4: gateways.isp1: missing \`for\` (only the last phase may last until the end)`,
    ],
    [
      'duration: 1h\ngateways:\n  isp1:\n    - {for: 1m, state: sideways}\n',
      `${FILE}: line 4: gateways.isp1: state: expected one of up, down, link-down, got "sideways"`,
    ],
    [
      'duration: 1h\nsites:\n  192.0.2.53: {state: link-down}\n',
      `${FILE}: line 3: sites.192.0.2.53: state: expected one of up, down, got "link-down"`,
    ],
    [
      'duration: 1h\ngateways:\n  isp1:\n    - {for: 1m, loss: 120}\n',
      `${FILE}: line 4: gateways.isp1: loss: expected a percentage from 0 to 100, got 120`,
    ],
    [
      'duration: 1h\ngateways:\n  isp1:\n    - {for: 1m, rtt: [80, 20]}\n',
      `${FILE}: line 4: gateways.isp1: rtt: expected milliseconds (e.g. 20) or a range [min, max] (e.g. [20, 80]), got a list`,
    ],
    ['duration: 1h\ngateways:\n  isp1:\n    - {for: 0s}\n', `${FILE}: line 4: gateways.isp1: for: expected a duration above 0, got "0s"`],
    [
      'duration: 1h\ngateways:\n  isp1:\n    - {for: 1m, los: 3}\n',
      `${FILE}: line 4: gateways.isp1: unknown phase key "los"; expected for, state, loss, rtt`,
    ],
    [
      'duration: 1h\ngateways:\n  isp1:\n    - repeat: 0\n      phases: [{for: 1m}]\n',
      `${FILE}: line 4: gateways.isp1: repeat: expected a whole number of 1 or more, got 0`,
    ],
    [
      'duration: 1h\ngateways:\n  isp1:\n    - repeat: 2\n      phases: [{state: down}]\n',
      `${FILE}: line 5: gateways.isp1: every phase of a repeat needs \`for\``,
    ],
    [
      'duration: 10m\ngateways:\n  isp1: [{for: 20m, state: down}]\n',
      `${FILE}: line 3: gateways.isp1: the phases last 1200 s, longer than the duration (600 s)`,
    ],
    ['duration: 1h\ngateways: [isp1]\n', `${FILE}: line 2: gateways: expected a mapping of gateway names to phases`],
    ['- just a list\n', `${FILE}: line 1: expected a mapping with at least \`duration\` and \`gateways\` (see examples/scenarios/)`],
  ])('reports %j as FILE: line N: what is wrong', (text, expected) => {
    expect(problems(text)).toContain(expected);
  });

  it('reports every problem, each with its line', () => {
    expect(problems('duration: x\nseed: z\ngateways:\n  isp7: {}\n')).toEqual([
      `${FILE}: line 1: duration: expected a duration such as 90 (seconds), 90s, 10m, 1h30m or 500ms, got "x"`,
      `${FILE}: line 2: seed: expected a whole number of 0 or more, got "z"`,
      `${FILE}: line 4: gateways: "isp7" is not a gateway of the config; expected one of isp1, isp2`,
    ]);
  });

  it('reports YAML syntax errors with their line, as for the config', () => {
    expect(problems('duration: 1h\ngateways: {isp1: [\n')[0]).toMatch(/^\/tmp\/s\.yml: line \d+, column \d+: YAML syntax error/);
  });
});
