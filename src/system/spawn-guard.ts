// A process that cannot be started must be a failed step, never a crash. Node reports a failed
// spawn as an 'error' event on the ChildProcess, which execa listens to, except when the spawn
// failed for lack of file descriptors (EMFILE, ENFILE): then Node sets up no stdio, execa 9 throws
// "subprocess.stdio is not iterable" before it listens, and the unheard 'error' event that follows
// would take the daemon down. Every child process gets a listener here, and that case is told
// apart from the rest.
import type { ChildProcess } from 'node:child_process';
import { subscribe } from 'node:diagnostics_channel';

/** The child process the current `startProcess` call created, if any. */
let created: ChildProcess | undefined;

subscribe('child_process', (message) => {
  const child = (message as { process: ChildProcess }).process;
  created = child;
  child.on('error', () => undefined); // execa reports it; this only keeps it from being fatal
});

/**
 * `start()` (one execa call), or an Error saying so when Node could not start the process for
 * lack of descriptors (execa would throw a TypeError then).
 */
export function startProcess<T>(file: string, start: () => T): T | Error {
  created = undefined;
  try {
    return start();
  } catch (error) {
    const child = created as ChildProcess | undefined; // set by the subscriber during start()
    if (child !== undefined && child.pid === undefined && child.stdio === undefined) {
      return new Error(`spawn ${file}: too many open files (EMFILE or ENFILE)`, { cause: error });
    }
    throw error;
  }
}
