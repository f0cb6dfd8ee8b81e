import { describe, expect, it } from 'vitest';
import { paint, wantsColor } from '../../../src/report/paint.js';

describe('colours', () => {
  it.each([
    [true, {}, true],
    [false, {}, false],
    [true, { NO_COLOR: '1' }, false],
    [true, { NO_COLOR: '' }, true], // no-color.org: only a non-empty value counts
  ])('isTTY %s with %j: %s', (isTTY, env, expected) => {
    expect(wantsColor({ isTTY }, env)).toBe(expected);
  });

  it('plain paint leaves text alone', () => {
    expect(paint(false).red('down')).toBe('down');
    expect(paint(true).red('down')).toBe('\x1b[31mdown\x1b[0m');
  });
});
