// The files the package ships, checked against the code they describe: the version, the bundled
// dependencies' licences, the manual page's config keys and the example config.
import { readFile, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { tempDir } from '../support/temp-dir.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFile(join(REPO, path), 'utf8');

/** Dotted paths of every leaf key of a zod schema; a record's keys are written NAME. */
/** A zod schema's definition, under its optional and default wrappers. */
function definition(schema: unknown): Record<string, unknown> {
  let def = (schema as { _zod: { def: Record<string, unknown> } })._zod.def;
  while (def.innerType) def = (def.innerType as { _zod: { def: Record<string, unknown> } })._zod.def;
  return def;
}

function leafKeys(schema: unknown, prefix = ''): string[] {
  const def = definition(schema);
  if (def.type === 'object')
    return Object.entries(def.shape as Record<string, unknown>).flatMap(([key, value]) => leafKeys(value, `${prefix}${key}.`));
  if (def.type === 'record') return leafKeys(def.valueType, `${prefix}NAME.`);
  // A key that is a mapping or a word (`record: true`): the key itself and the mapping's keys.
  const mappings = def.type === 'union' ? (def.options as unknown[]).filter((option) => definition(option).type === 'object') : [];
  return [prefix.slice(0, -1), ...mappings.flatMap((option) => leafKeys(option, prefix))];
}

/**
 * The tags of the `.TP` items in one section of a man page as they read: fonts and quotes removed,
 * `\-` as `-`, the arguments of `.BI` and `.BR` run together (`.BI gateways. NAME .ip` → `gateways.NAME.ip`).
 */
function itemTags(roff: string, section: string): string[] {
  const body = roff.split(/^\.SH /m).find((part) => part.startsWith(`${section}\n`)) ?? '';
  return [...body.matchAll(/^\.TP\n\.B([IR]?) (.*)$/gm)].map(([, alternating, args]) =>
    args!
      .replace(/\\f[BIRP]/g, '')
      .replace(/\\-/g, '-')
      .replace(/ /g, alternating ? '' : ' ')
      .replace(/"/g, ''),
  );
}

describe('package files', () => {
  it('debian/changelog and package.json carry the same version', async () => {
    const pkg = JSON.parse(await read('package.json')) as { version: string };
    const { stdout } = await execa('dpkg-parsechangelog', ['-l', join(REPO, 'debian/changelog'), '-S', 'Version']);
    expect(stdout.replace(/-[^-]+$/, '')).toBe(pkg.version);
  });

  it('debian/copyright names every bundled runtime dependency under its licence', async () => {
    const lock = JSON.parse(await read('package-lock.json')) as { packages: Record<string, { dev?: boolean; license?: string }> };
    const copyright = await read('debian/copyright');
    const listed = new Map<string, string>();
    for (const [, licence, names] of copyright.matchAll(/^ ([\w.-]+): ((?:.|\n )+?)(?=\n \.|\n\n)/gm)) {
      for (const name of names!.split(/,\s*/)) listed.set(name.trim(), licence!);
    }
    const runtime = Object.entries(lock.packages).filter(([path, entry]) => path && !entry.dev);
    expect(runtime.length).toBeGreaterThan(0);
    for (const [path, entry] of runtime) {
      const name = path.replace(/^.*node_modules\//, '');
      expect({ name, licence: listed.get(name) }).toEqual({ name, licence: entry.license });
      expect(copyright).toMatch(new RegExp(`^License: ${entry.license}$`, 'm'));
    }
  });

  it('netgwm(8) documents every config key, and only those', async () => {
    const documented = itemTags(await read('man/netgwm.8'), 'CONFIGURATION').filter((tag) => tag !== 'gateways.NAME');
    const keys = leafKeys(configSchema);
    const missing = keys.filter((key) => !documented.includes(key));
    const stale = documented.filter((key) => !keys.includes(key));
    expect({ missing, stale }, 'man/netgwm.8 needs a .TP item under CONFIGURATION for each key of src/config/schema.ts').toEqual({
      missing: [],
      stale: [],
    });
    expect(documented).toContain('probe.method'); // the parsing itself works
  });

  it('netgwm(8) describes every command of `netgwm --help`', async () => {
    const { stdout } = await execa(process.execPath, [join(REPO, 'bin/netgwm'), '--help']);
    const commands = [
      ...stdout
        .split('\nCommands:\n')[1]!
        .split('\n\n')[0]!
        .matchAll(/^ {2}(\S+)/gm),
    ].map((match) => match[1]!);
    expect(commands).toContain('check-config');
    const documented = itemTags(await read('man/netgwm.8'), 'COMMANDS').map((tag) => tag.split(' ')[0]);
    expect(
      commands.filter((command) => !documented.includes(command)),
      'man/netgwm.8 needs a .TP item under COMMANDS for each of these',
    ).toEqual([]);
  });

  it('netgwm(8) renders without a groff warning', async () => {
    const result = await execa('groff', ['-man', '-t', '-ww', '-z', join(REPO, 'man/netgwm.8')]);
    expect(result.stderr).toBe('');
  });

  it('the shipped config validates, and its commented-out settings are the real defaults', async () => {
    const shipped = join(REPO, 'etc/netgwm/netgwm.yml');
    // The repository's etc/ stands in for /: it holds iproute2/rt_tables.d/netgwm.conf.
    const options = { rtTablesRoot: REPO };
    const config = await loadConfig(shipped, options);
    expect(config.check_table_id).toBe(194);
    const dir = await tempDir('shipped-config');
    try {
      const uncommented = join(dir, 'netgwm.yml');
      // `#key: value` and `#  key: value` are settings; `# text` is prose.
      await writeFile(uncommented, (await readFile(shipped, 'utf8')).replace(/^#(?=\w| {2}\w)/gm, ''));
      const everything = await loadConfig(uncommented, options);
      expect({ ...everything, file: shipped, hooks_dir: config.hooks_dir }).toEqual({ ...config, hooks_dir: config.hooks_dir });
      expect(everything.hooks_dir).toBe('/etc/netgwm/post-replace.d');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
