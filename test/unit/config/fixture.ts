// Config files written to a temporary directory and loaded against a fake root with its own
// /etc/iproute2, so the tests never read the host's routing table names.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { loadConfig, type Config } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors.js';
import { tempDir } from '../../support/temp-dir.js';

export const RT_TABLES = '255\tlocal\n254\tmain\n253\tdefault\n0\tunspec\n';

export interface ConfigFixture {
  dir: string;
  /** Writes `yaml` to a new file in `dir` and loads it. */
  load(yaml: string, options?: { searchPath?: string }): Promise<{ file: string; config: Config }>;
  /** The ConfigError lines loading `yaml` gives, with the file name replaced by `FILE`. */
  problems(yaml: string, options?: { searchPath?: string }): Promise<string[]>;
}

export async function configFixture(rtTables = RT_TABLES): Promise<ConfigFixture> {
  const dir = await tempDir('config');
  const root = join(dir, 'root');
  await mkdir(join(root, 'etc/iproute2/rt_tables.d'), { recursive: true });
  await writeFile(join(root, 'etc/iproute2/rt_tables'), rtTables);
  // As the Debian package declares it.
  await writeFile(join(root, 'etc/iproute2/rt_tables.d/netgwm.conf'), '194 netgwm_check # netgwm probes\n');
  const load = async (yaml: string, options: { searchPath?: string } = {}) => {
    const file = join(dir, `netgwm-${Math.random().toString(16).slice(2)}.yml`);
    await writeFile(file, yaml);
    return { file, config: await loadConfig(file, { rtTablesRoot: root, ...options }) };
  };
  return {
    dir,
    load,
    async problems(yaml, options) {
      const error = await load(yaml, options).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).problems.map((line) => line.replace(/^.*?netgwm-[0-9a-f]+\.yml: /, 'FILE: '));
    },
  };
}
