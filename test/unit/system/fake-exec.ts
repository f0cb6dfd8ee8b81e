// A stand-in for createExec(): records every argv (and stdin) and answers from a handler, with
// the real exec's contract: a non-zero exit throws a CommandError unless `reject: false`.
import { CommandError } from '../../../src/errors.js';
import type { Exec, ExecResult } from '../../../src/system/exec.js';

export interface Call {
  argv: string[];
  input?: string;
}

export type Answer = Partial<ExecResult> | undefined;

export function fakeExec(answer: (argv: string[], input?: string) => Answer = () => undefined): Exec & { calls: Call[] } {
  const calls: Call[] = [];
  const exec = async (file: string, args: string[], options: { input?: string; reject?: boolean } = {}) => {
    const argv = [file, ...args];
    calls.push({ argv, ...(options.input === undefined ? {} : { input: options.input }) });
    const result = { stdout: '', stderr: '', exitCode: 0, ...answer(argv, options.input) };
    if (result.exitCode !== 0 && options.reject !== false) throw new CommandError(argv, result.exitCode, result.stderr);
    return result;
  };
  return Object.assign(exec, { calls });
}
