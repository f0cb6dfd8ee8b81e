// The shipped HA examples (examples/ha/: keepalived.conf, conntrackd.conf, netgwm-notify) as the
// HA lab uses them, as is: only their @PLACEHOLDER@s are substituted.
import { readFile } from 'node:fs/promises';

export type HaExample = 'keepalived.conf' | 'conntrackd.conf' | 'netgwm-notify';

/** examples/ha/NAME with every @KEY@ replaced by values[KEY]; comment lines (which explain the keys) stay as they are. */
export async function renderExample(name: HaExample, values: Record<string, string>): Promise<string> {
  const template = await readFile(new URL(`../../examples/ha/${name}`, import.meta.url), 'utf8');
  return template
    .split('\n')
    .map((line, index) => (line.trimStart().startsWith('#') ? line : renderTemplate(line, values, `examples/ha/${name}:${index + 1}`)))
    .join('\n');
}

/** Replaces every @KEY@ by values[KEY]; throws when the template names a key without a value. */
export function renderTemplate(template: string, values: Record<string, string>, what: string): string {
  const missing = new Set<string>();
  const text = template.replace(/@([A-Z0-9_]+)@/g, (match, key: string) => {
    const value = values[key];
    if (value === undefined) missing.add(key);
    return value ?? match;
  });
  if (missing.size > 0) throw new Error(`${what}: no value for placeholder(s) ${[...missing].map((key) => `@${key}@`).join(', ')}`);
  return text;
}
