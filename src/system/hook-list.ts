// Which post-replace.d hooks may run (run-parts semantics, root-owned only); running them is
// hooks.ts. Apart, so that listing them (`netgwm replay` counts the hooks a switch would run)
// does not load execa.
import { constants } from 'node:fs';
import type { Stats } from 'node:fs';
import { access, lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Editor and package-manager leftovers that must never run as hooks. */
const LEFTOVER = /(~|\.dpkg-(old|dist|new|tmp|bak)|\.ucf-(old|dist|new)|\.rpm(save|new|orig))$/;

/** A hook netgwm will not run, why, and the command that makes it safe. */
export interface RefusedHook {
  /** The hook's path (also when what is unsafe is the directory it is in). */
  hook: string;
  reason: string;
  fix: string;
}

export interface HookList {
  /** What may run, sorted by name. */
  hooks: string[];
  refused: RefusedHook[];
}

/**
 * Executable regular files in `dir`, sorted by name; a missing directory has none. Like cron and
 * sshd's StrictModes, a hook runs as root only when nobody else could have written it: the
 * directory, the hook and, for a link, the file it points to must belong to the user netgwm runs
 * as and not be writable by group or others. The rest are `refused`.
 */
export async function listHooks(dir: string, uid = process.getuid?.() ?? 0): Promise<HookList> {
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return [];
    throw error;
  });
  const list: HookList = { hooks: [], refused: [] };
  if (names.length === 0) return list;
  const unsafeDir = unsafe(dir, await stat(dir), uid, 'the hooks directory');
  for (const name of names.sort()) {
    if (name.startsWith('.') || LEFTOVER.test(name)) continue;
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) continue;
    if (
      !(await access(path, constants.X_OK).then(
        () => true,
        () => false,
      ))
    )
      continue;
    const refusal = unsafeDir ?? (await unsafeHook(path, info, uid));
    if (refusal) list.refused.push({ hook: path, ...refusal });
    else list.hooks.push(path);
  }
  return list;
}

/** Why the hook at `path` (whose target's stat is `target`) could have been written by someone else. */
async function unsafeHook(path: string, target: Stats, uid: number): Promise<{ reason: string; fix: string } | undefined> {
  const entry = await lstat(path);
  if (!entry.isSymbolicLink()) return unsafe(path, entry, uid, 'it');
  // A link's own mode means nothing; its owner does, as for any file in the directory.
  return unsafe(path, entry, uid, 'the link') ?? unsafe(await realpath(path), target, uid, 'the file it points to');
}

function unsafe(path: string, info: Stats, uid: number, what: string): { reason: string; fix: string } | undefined {
  if (info.uid !== uid)
    return {
      reason: `${what} (${path}) is owned by uid ${info.uid}, not by ${ownerName(uid)}`,
      fix: `chown ${info.isSymbolicLink() ? '-h ' : ''}${ownerName(uid)} ${path}`,
    };
  if (!info.isSymbolicLink() && (info.mode & 0o022) !== 0) {
    const mode = (info.mode & 0o7777).toString(8).padStart(4, '0');
    return {
      reason: `${what} (${path}) is writable by ${info.mode & 0o020 ? (info.mode & 0o002 ? 'group and others' : 'group') : 'others'} (mode ${mode})`,
      fix: `chmod go-w ${path}`,
    };
  }
  return undefined;
}

/** As `chown` takes it. */
function ownerName(uid: number): string {
  return uid === 0 ? 'root' : String(uid);
}
