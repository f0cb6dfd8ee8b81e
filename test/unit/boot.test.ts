import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commandOf } from '../../src/boot.js';

const BOOT = fileURLToPath(new URL('../../src/boot.ts', import.meta.url));

let parent: string;
let cacheDir: string;
let bundle: string;

beforeEach(async () => {
  parent = await mkdtemp(join(tmpdir(), 'netgwm-boot-')); // 0700
  cacheDir = join(parent, 'cache');
  bundle = join(parent, 'bundle.cjs');
  // Proves it got CommonJS's require, module and __filename.
  await writeFile(bundle, "process.stdout.write(require('node:path').basename(__filename) + ' ran ' + typeof module.exports);\n");
});

afterEach(async () => {
  await rm(parent, { recursive: true, force: true });
});

/**
 * Boots the bundle in a Node of its own, as bin/netgwm does: within one process V8 would take the
 * script from its own compilation cache and never look at the file's bytecode.
 */
function boot(command = 'run'): { output: string; saved: boolean } {
  const script = `import { runBundle } from ${JSON.stringify(BOOT)};
    const save = runBundle(${JSON.stringify(bundle)}, ${JSON.stringify(cacheDir)}, ${JSON.stringify(command)});
    save?.();
    process.stdout.write(save ? ' saved' : '');`;
  const output = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  return { output: output.replace(/ saved$/, ''), saved: output.endsWith(' saved') };
}

const cacheFiles = async () => (await readdir(cacheDir).catch(() => [])).filter((name) => name.endsWith('.v8'));

describe('the code cache of the bundle', () => {
  it('is made by the first run and used by the next, which save nothing', async () => {
    expect(boot()).toEqual({ output: 'bundle.cjs ran object', saved: true });
    expect(await cacheFiles()).toEqual([expect.stringMatching(new RegExp(`^netgwm-${process.version}-${process.arch}-.*-run\\.v8$`))]);
    expect(boot()).toEqual({ output: 'bundle.cjs ran object', saved: false }); // V8 took the bytecode
  });

  it('is one per command: what status compiles is not what a cron run needs', async () => {
    boot('run');
    expect(boot('check-config')).toEqual({ output: 'bundle.cjs ran object', saved: true });
    expect((await cacheFiles()).map((name) => name.replace(/.*-\d+-/, '')).sort()).toEqual(['check-config.v8', 'run.v8']);
    expect(boot('run').saved).toBe(false);
    expect(boot('check-config').saved).toBe(false);
  });

  it('is named after the command src/cli.ts runs, from a fixed list', () => {
    expect(commandOf([])).toBe('run');
    expect(commandOf(['-c', 'x.yml'])).toBe('run');
    expect(commandOf(['status', '--json'])).toBe('status');
    expect(commandOf(['check-config'])).toBe('check-config');
    expect(commandOf(['replay', '--recorded', 'day.rec'])).toBe('replay');
    expect(commandOf(['../../etc/passwd'])).toBe('other');
    expect(commandOf(['--version'])).toBe('other');
    expect(commandOf(['run', '-h'])).toBe('other');
  });

  it('is made again when V8 rejects it, and a rebuilt bundle replaces the old one', async () => {
    boot();
    const [name] = await cacheFiles();
    await writeFile(join(cacheDir, name!), 'not bytecode');
    expect(boot()).toEqual({ output: 'bundle.cjs ran object', saved: true });
    expect(boot().saved).toBe(false);

    await writeFile(bundle, "process.stdout.write('rebuilt');\n"); // another size: another name
    expect(boot()).toEqual({ output: 'rebuilt', saved: true });
    const after = await cacheFiles();
    expect(after).toHaveLength(1);
    expect(after).not.toEqual([name]);
  });

  it.each([
    ['the directory is writable by others', () => chmod(cacheDir, 0o777), 0],
    ['its parent is writable by others', () => chmod(parent, 0o777), 0],
    // The directory is fine: a file this user made anew replaces it.
    ['the file is writable by its group', async () => chmod(join(cacheDir, (await cacheFiles())[0]!), 0o664), 1],
  ])('is not used when %s', async (_, loosen, written) => {
    boot();
    await loosen();
    await writeFile(join(cacheDir, (await cacheFiles())[0]!), 'would crash V8 if used');
    expect(boot()).toEqual({ output: 'bundle.cjs ran object', saved: true }); // runs all the same
    const files = await cacheFiles();
    expect(files).toHaveLength(1);
    expect(boot().saved).toBe(written === 0);
  });

  it('is not followed through a symlink, and a missing directory is made', async () => {
    const elsewhere = join(parent, 'elsewhere');
    await mkdir(elsewhere);
    const made = cacheDir;
    cacheDir = elsewhere;
    boot();
    cacheDir = made;
    const [name] = await readdir(elsewhere);
    await mkdir(cacheDir);
    await symlink(join(elsewhere, name!), join(cacheDir, name!));
    expect(boot().saved).toBe(true);
  });
});
