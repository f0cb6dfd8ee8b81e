// What bin/netgwm runs: loads the bundle (dist/netgwm.cjs) with V8's code cache.
//
// Compiling the 1.6 MB bundle is much of a healthy cron run and of `netgwm status` (npm run bench
// measures both); with the bytecode V8 made last time it is a fraction of that. Node ≥ 22 has
// module.enableCompileCache(), Debian 12's Node 18 does not, so this is the same thing by hand:
// vm.Script's `cachedData`, which works on every supported Node. Hence a CommonJS bundle: ES
// modules have no code cache before Node 22. The build also turns every import() into require()
// (esbuild --supported:dynamic-import=false): before Node 21 a vm.Script has no loader for import().
//
// The cache is code that runs as root, so it is trusted only as sudo trusts its files: the file,
// its directory (default /var/cache/netgwm, `$NETGWM_CACHE_DIR` for tests) and that one's parent
// owned by this user or root and writable by nobody else. Anything else, or any failure, means
// compiling as without a cache. The file is named after the bundle (device, inode, size,
// modification time) and the Node that made it, so a rebuilt or upgraded bundle or another Node
// never uses old bytecode; V8 also rejects data made by another version or with other flags
// (then it is made again). Made after the command has run, it holds the functions that ran
// compiled too, so there is one per command: a cron `run` would otherwise compile its own
// functions every minute when `status` happened to make the cache. Written to a temporary file
// and renamed into place.
import {
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  type Stats,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

export const CACHE_DIR = '/var/cache/netgwm';
/** Far above what the bundle's bytecode takes (about 1 MB); a larger file is not one we wrote. */
const MAX_CACHE_BYTES = 64 << 20;

/** Runs the CommonJS bundle `file` as Node would, with the code cache in `cacheDir` when it can be trusted. */
export function boot(file: string, cacheDir = process.env.NETGWM_CACHE_DIR || CACHE_DIR): void {
  const saveCache = runBundle(file, cacheDir, commandOf(process.argv.slice(2)));
  if (saveCache) process.once('exit', saveCache);
}

/** Runs the bundle; returns what saves its bytecode when there was none to use, to call once it has run. */
export function runBundle(file: string, cacheDir: string, command: string): (() => void) | undefined {
  const source = readFileSync(file, 'utf8');
  const bundle = bundleName(statSync(file));
  const cacheFile = join(cacheDir, `${bundle}-${command}.v8`);
  const cachedData = readTrusted(cacheFile);
  // CommonJS's own wrapper, so the bundle sees require, module and __filename as under require().
  const wrapped = `(function (exports, require, module, __filename, __dirname) { ${source}\n});`;
  const script = new Script(wrapped, { filename: file, cachedData });
  const module = { exports: {} };
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  return cachedData === undefined || script.cachedDataRejected ? () => writeCache(script, cacheDir, cacheFile, bundle) : undefined;
}

const COMMANDS = ['run', 'daemon', 'check-config', 'use', 'nft', 'status', 'history', 'replay'];

/** The command, as src/cli.ts reads it, for the cache's name: `run` when none is given. */
export function commandOf(args: string[]): string {
  if (args.some((arg) => /^(-h|--help|-V|--version)$/.test(arg))) return 'other'; // runs no command
  const command = args[0] && !args[0].startsWith('-') ? args[0] : 'run';
  return COMMANDS.includes(command) ? command : 'other';
}

/** `netgwm-v20.20.2-x64-2049-1234567-1706483-1732950000000`: which bundle, which Node. */
export function bundleName(bundle: Pick<Stats, 'dev' | 'ino' | 'size' | 'mtimeMs'>): string {
  return `netgwm-${process.version}-${process.arch}-${bundle.dev}-${bundle.ino}-${bundle.size}-${Math.round(bundle.mtimeMs)}`;
}

/** The file's bytes, if it and its directory are trusted (see the top of this file). */
export function readTrusted(path: string): Buffer | undefined {
  let fd: number;
  try {
    if (!isTrustedDir(dirname(path))) return undefined;
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile() || !isPrivate(info) || info.size > MAX_CACHE_BYTES) return undefined;
    return readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Owned by this user or root, and writable by nobody else. */
function isPrivate(info: Stats): boolean {
  const uid = info.uid;
  return (uid === 0 || uid === (process.geteuid?.() ?? 0)) && (info.mode & 0o022) === 0;
}

/** The directory and its parent are private: nobody else can put a file there or swap the directory. */
function isTrustedDir(dir: string): boolean {
  const info = statSync(dir);
  return info.isDirectory() && isPrivate(info) && isPrivate(statSync(dirname(dir)));
}

function writeCache(script: Script, cacheDir: string, cacheFile: string, bundle: string): void {
  const temporary = `${cacheFile}.${process.pid}.tmp`;
  try {
    mkdirSync(cacheDir, { recursive: true, mode: 0o755 });
    if (!isTrustedDir(cacheDir)) return;
    writeFileSync(temporary, script.createCachedData(), { mode: 0o644, flag: 'wx' });
    renameSync(temporary, cacheFile);
    // The bytecode of a bundle or Node replaced since is of no more use.
    for (const name of readdirSync(cacheDir))
      if (/^netgwm-.*\.v8$/.test(name) && !name.startsWith(`${bundle}-`)) unlinkSync(join(cacheDir, name));
  } catch {
    // A read-only or full disk, another user's directory: the next run compiles again.
    try {
      unlinkSync(temporary);
    } catch {
      // Never made.
    }
  }
}
