// A separate process that takes netgwm's cycle lock (the real module, from src) and holds it
// until stopped or killed: for the tests of a lock held by another process, in another network
// namespace, or a holder killed with -9. Bounded in time.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { execa, type ResultPromise } from 'execa';

const LOCK_SOURCE = fileURLToPath(new URL('../../src/system/lock.ts', import.meta.url));

let lockModule: Promise<string> | undefined;
/**
 * The lock module bundled into one file in a directory everyone may read: an unprivileged holder
 * cannot reach the repository (a clone in a 0700 directory such as mktemp's) nor tsx in it.
 */
function bundledLockModule(): Promise<string> {
  lockModule ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'netgwm-lock-holder-'));
    chmodSync(dir, 0o755);
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'lock.mjs');
    await build({
      entryPoints: [LOCK_SOURCE],
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: file,
      logLevel: 'error',
      // execa's CommonJS dependencies require() Node's modules.
      banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    });
    chmodSync(file, 0o644);
    return pathToFileURL(file).href;
  })();
  return lockModule;
}

export interface LockHolder {
  process: ResultPromise;
  stop(): Promise<void>;
}

/**
 * Runs `...prefix node -e SCRIPT` (prefix e.g. `ip netns exec NS` or `unshare --net`) and resolves
 * once the script holds the lock in `dir` (undefined: the default directory).
 */
export async function holdLock(options: { dir?: string; prefix?: string[] } = {}): Promise<LockHolder> {
  const script = `const { acquireLock } = await import(${JSON.stringify(await bundledLockModule())}); await acquireLock({ waitMs: 0, dir: ${JSON.stringify(options.dir)} }); console.log('locked'); setTimeout(() => {}, 600000);`;
  const [file, ...args] = [...(options.prefix ?? []), process.execPath, '--input-type=module', '-e', script];
  const holder = execa(file!, args, { reject: false, stdin: 'ignore', timeout: 660_000 });
  const stop = async () => {
    holder.kill('SIGTERM');
    await holder;
  };
  const locked = await new Promise<boolean>((done) => {
    holder.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && done(true));
    void holder.then(() => done(false));
  });
  if (!locked) throw new Error(`could not take the cycle lock (${options.prefix?.join(' ') ?? 'here'}): ${String((await holder).stderr)}`);
  return { process: holder, stop };
}
