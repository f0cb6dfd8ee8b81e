// netgwm's exit codes and how an error maps to one, in a module of their own so that the commands
// living outside src/cli.ts (src/report/cli.ts) use the same codes without importing the CLI.
import { ConfigError, LockBusyError, UsageError } from './errors.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, lockBusy: 75 } as const;

export const EXIT_CODES_HELP = `Exit codes:
  0   done (also when every gateway is down: that is logged, not an error)
  1   anything else went wrong (see the message and the log)
  2   bad config file or command line; nothing was changed
  75  another netgwm cycle held the lock for longer than --wait; try again later`;

/** Maps an error to its message on stderr and its exit code. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.problems.join('\n')}\n`);
    return EXIT.usage;
  }
  if (error instanceof UsageError || (error as { code?: string }).code?.startsWith?.('ERR_PARSE_ARGS')) {
    process.stderr.write(`netgwm: ${(error as Error).message}\nTry 'netgwm --help'.\n`);
    return EXIT.usage;
  }
  if (error instanceof LockBusyError) {
    process.stderr.write(`netgwm: ${error.message}\n`);
    return EXIT.lockBusy;
  }
  process.stderr.write(`netgwm: ${(error as Error).stack ?? String(error)}\n`);
  return EXIT.failed;
}
