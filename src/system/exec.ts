// The one place that runs system commands: always a file and an argument array, never a shell.
import { execa } from 'execa';
import { CommandError } from '../errors.js';
import { commandPath } from './command-path.js';
import { startProcess } from './spawn-guard.js';

export interface ExecOptions {
  /** Written to the command's stdin (e.g. an `ip -batch -` script). */
  input?: string;
  /** Return a failed result instead of throwing a CommandError. */
  reject?: boolean;
  timeoutMs?: number;
  /** Kills the command when aborted (the result then has exit code -1). */
  signal?: AbortSignal;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export type Exec = (file: string, args: string[], options?: ExecOptions) => Promise<ExecResult>;

export function createExec(): Exec {
  return async (file, args, options = {}) => {
    const started = startProcess(file, () =>
      execa(file, args, {
        input: options.input,
        stdin: options.input === undefined ? 'ignore' : 'pipe',
        reject: false,
        timeout: options.timeoutMs ?? 10_000,
        cancelSignal: options.signal,
        env: { LC_ALL: 'C', PATH: commandPath() },
      }),
    );
    if (started instanceof Error) {
      // Not started at all (no descriptor left): a failed command like any other.
      if (options.reject === false) return { stdout: '', stderr: started.message, exitCode: -1 };
      throw new CommandError([file, ...args], undefined, started.message);
    }
    const result = await started;
    const exitCode = result.exitCode ?? -1;
    if (exitCode !== 0 && options.reject !== false) {
      const why = result.failed && result.exitCode === undefined ? `${result.shortMessage}\n${result.stderr}` : result.stderr;
      throw new CommandError([file, ...args], result.exitCode, String(why));
    }
    return { stdout: String(result.stdout), stderr: String(result.stderr), exitCode };
  };
}
