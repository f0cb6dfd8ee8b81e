// The core is pure: the decision, health and firewall plan depend on nothing but each other, so
// that replay and tests run the very same code with no I/O behind it.
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CORE = fileURLToPath(new URL('../../../src/core/', import.meta.url));

describe('src/core', () => {
  it('imports only from src/core itself', async () => {
    const outside: string[] = [];
    for (const file of (await readdir(CORE)).filter((name) => name.endsWith('.ts'))) {
      const text = await readFile(`${CORE}${file}`, 'utf8');
      for (const [, from] of text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
        if (!from!.startsWith('./')) outside.push(`${file}: ${from}`);
      }
      for (const [, from] of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) outside.push(`${file}: ${from}`);
    }
    expect(outside).toEqual([]);
  });
});
