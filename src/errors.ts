// Every error netgwm reports is one of these, so the CLI can map it to an exit code and a
// message that says what was wrong, where, and what to do.

/** The config file (or a command-line value) is wrong. Exit code 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  /**
   * @param problems one line per problem, each `FILE: key.path: what is wrong`
   * @param logFile the `log_file` the broken config names, if it names one: the problems are
   *   logged there too, so that someone reading the log sees why cycles stopped
   */
  constructor(
    readonly problems: string[],
    readonly logFile?: string,
  ) {
    super(problems.join('\n'));
  }
}

/** The command line is wrong. Exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Another cycle holds the lock. Exit code 75 (EX_TEMPFAIL: try again later). */
export class LockBusyError extends Error {
  override name = 'LockBusyError';
}

/** A system command (`ip`, `nft`, `conntrack`) failed. */
export class CommandError extends Error {
  override name = 'CommandError';
  constructor(
    readonly argv: string[],
    readonly exitCode: number | undefined,
    readonly stderr: string,
  ) {
    const tail = stderr.trim().split('\n').slice(-3).join(' | ');
    super(`\`${argv.join(' ')}\` failed${exitCode === undefined ? '' : ` with exit code ${exitCode}`}${tail ? `: ${tail}` : ''}`);
  }
}
