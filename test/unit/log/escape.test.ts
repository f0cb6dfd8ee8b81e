import { describe, expect, it } from 'vitest';
import { escapeControl } from '../../../src/log/escape.js';

describe('escapeControl', () => {
  it.each([
    ['line feed, carriage return, tab', 'a\nb\rc\td', 'a\\nb\\rc\\td'],
    ['ESC of a colour or cursor sequence', '\u001b[31mred\u001b[2K', '\\x1b[31mred\\x1b[2K'],
    ['NUL, DEL and a C1 control (CSI)', 'a\u0000b\u007fc\u009bd', 'a\\x00b\\x7fc\\x9bd'],
    ['Unicode line and paragraph separators', 'a\u2028b\u2029c', 'a\\u2028b\\u2029c'],
    ['printable text, also non-ASCII, unchanged', 'isp1 down: 0/2 (été, 日本, ✓)', 'isp1 down: 0/2 (été, 日本, ✓)'],
  ])('%s', (_, text, escaped) => expect(escapeControl(text)).toBe(escaped));
});
