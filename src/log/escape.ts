// Text that reaches a log line or the terminal comes from outside (hook output and file names,
// reasons kept in the state): its control characters are written as escapes, so that nothing it
// contains can end a log line and forge the next one, or move a terminal's cursor.

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `a\nb` as `a\nb` with a backslash and an n; ESC as `\x1b`; one line whatever comes in. */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (char) => NAMED[char] ?? escapeCode(char.charCodeAt(0)));
}

function escapeCode(code: number): string {
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}
