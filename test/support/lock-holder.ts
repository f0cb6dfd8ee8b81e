// A separate process that takes netgwm's cycle lock (the real module, from src) and holds it
// until stopped or killed: for the tests of a lock held by another process, in another network
// namespace, or a holder killed with -9. Bounded in time.
import { execa, type ResultPromise } from 'execa';

const LOCK_MODULE = new URL('../../src/system/lock.ts', import.meta.url).href;

export interface LockHolder {
  process: ResultPromise;
  stop(): Promise<void>;
}

/**
 * Runs `...prefix node -e SCRIPT` (prefix e.g. `ip netns exec NS` or `unshare --net`) and resolves
 * once the script holds the lock in `dir` (undefined: the default directory).
 */
export async function holdLock(options: { dir?: string; prefix?: string[] } = {}): Promise<LockHolder> {
  const script = `const { acquireLock } = await import(${JSON.stringify(LOCK_MODULE)}); await acquireLock({ waitMs: 0, dir: ${JSON.stringify(options.dir)} }); console.log('locked'); setTimeout(() => {}, 600000);`;
  const [file, ...args] = [...(options.prefix ?? []), process.execPath, '--import', 'tsx', '--input-type=module', '-e', script];
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
