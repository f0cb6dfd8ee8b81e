// Terminal colours for status and history: only when asked (a TTY without NO_COLOR), else plain text.
export interface Paint {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
}

const sgr = (code: number) => (text: string) => `\x1b[${code}m${text}\x1b[0m`;
const plain = (text: string) => text;

export function paint(color: boolean): Paint {
  if (!color) return { bold: plain, dim: plain, red: plain, green: plain, yellow: plain };
  return { bold: sgr(1), dim: sgr(2), red: sgr(31), green: sgr(32), yellow: sgr(33) };
}

/** https://no-color.org: any non-empty NO_COLOR turns colours off, even on a terminal. */
export function wantsColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && !env.NO_COLOR;
}
