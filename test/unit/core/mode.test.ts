import { describe, expect, it } from 'vitest';
import { effectiveMode } from '../../../src/core/mode.js';

const gateways = ['isp1', 'isp2'];

describe('effectiveMode (NetGWM: `if "mode" in config: … else: modefile`)', () => {
  it.each([
    // config's mode, mode file, → what is in force
    [undefined, undefined, { mode: 'auto', source: 'default' }],
    [undefined, 'isp2', { mode: 'isp2', source: 'use', file: 'isp2' }],
    [undefined, 'auto', { mode: 'auto', source: 'use', file: 'auto' }],
    [undefined, 'isp9', { mode: 'auto', source: 'default', file: 'isp9', fileIgnored: 'unknown' }],
    // Written in the config, even as `auto`, the config wins: a leftover file does not pin.
    ['auto', undefined, { mode: 'auto', source: 'config' }],
    ['auto', 'isp2', { mode: 'auto', source: 'config', file: 'isp2', fileIgnored: 'overridden' }],
    ['isp1', 'auto', { mode: 'isp1', source: 'config', file: 'auto', fileIgnored: 'overridden' }],
    ['isp1', 'isp1', { mode: 'isp1', source: 'config', file: 'isp1' }],
    ['isp1', 'isp9', { mode: 'isp1', source: 'config', file: 'isp9', fileIgnored: 'overridden' }],
  ])('config mode %j, mode file %j', (configMode, fileMode, expected) => {
    expect(effectiveMode(configMode, fileMode, gateways)).toEqual(expected);
  });
});
