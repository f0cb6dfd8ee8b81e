// A named pipe, for tests that a file netgwm reads is never waited on.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

export async function mkfifo(path: string): Promise<void> {
  await promisify(execFile)('mkfifo', [path]);
}
