// The command line: parses arguments, wires the adapters together and maps errors to exit codes.
//
// Each command imports only the modules it uses (import() below): the bundle holds them all, but
// the top-level code of the others never runs, so `status` pays for neither execa nor the cycle
// (start-up is much of a healthy cron run and of `status`: npm run bench measures both).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { DEFAULT_CONFIG_FILE, loadConfig, type Config } from './config/load.js';
import { LIMITS } from './config/schema.js';
import { methodSiteEntry } from './config/check-sites.js';
import type { CycleDeps } from './cycle.js';
import { hex } from './core/ruleset.js';
import { ConfigError, LockBusyError, UsageError } from './errors.js';
import { EXIT, EXIT_CODES_HELP, exitCodeFor } from './exit-codes.js';
import type { Destination, Logger, Output } from './log/logger.js';
import type { Lock } from './system/lock.js';

const COMMON = `  -c, --config FILE   config file (default ${DEFAULT_CONFIG_FILE})
  -h, --help          show this help`;

const HELP: Record<string, string> = {
  main: `Usage: netgwm [COMMAND] [OPTIONS]

Keeps a Linux router's default route on the best working uplink.

Commands:
  run            one cycle: probe, decide, switch if needed, then exit (the default; for cron)
  daemon         watch every uplink continuously until stopped (for systemd)
  check-config   validate the config and print it with every default filled in
  use NAME|auto  pin a gateway, or let netgwm choose again
  nft --print    show the nftables ruleset and ip rules netgwm would load now
  status         the gateways as the last cycle saw them: state, RTT, loss, last switch
  history        the last switches and outages, from the state and the (rotated) log
  passwd USER    set a user's password for the status page (web_password_file)
  replay         what a config would have done on recorded probes or a scripted scenario
  cleanup        remove netgwm's probe paths, uplink-table routes, nft table and fwmark rules (the package's prerm)
  health         exit 0 if this router has a usable uplink (keepalived's track_script), 1 if not
  role ROLE      this router became master, backup or fault of its HA pair (keepalived's notify)

Options:
${COMMON}
  -V, --version       print the version

Run 'netgwm COMMAND --help' for a command's options. See netgwm(8).

${EXIT_CODES_HELP}`,
  run: `Usage: netgwm run [-c FILE] [--wait SECONDS]

Runs one cycle and exits. Prints nothing when all is well (cron mails any output);
warnings and errors go to stderr and to the log file.

Options:
${COMMON}
      --wait SECONDS  how long to wait for a running cycle to finish (default 10)

${EXIT_CODES_HELP}`,
  daemon: `Usage: netgwm daemon [-c FILE] [--interval SECONDS] [--wait SECONDS]

Watches every uplink continuously: an echo to each check site through each gateway every
probe.interval, carrier loss as it happens; decides the moment a gateway fails, recovers or
becomes stable. Every INTERVAL seconds, start to start, a housekeeping cycle verifies the probe
paths, the route and the nft table and saves the state. Logs to stdout (the journal) and the
log file. SIGTERM or SIGINT stops it cleanly; SIGHUP reloads the config (a bad new config
is logged and the old one kept) and reopens the log; SIGUSR1 reopens the log.

Options:
${COMMON}
      --interval SECONDS  seconds between housekeeping cycles (default: $INTERVAL, else 60)
      --wait SECONDS      how long a cycle waits for a cron-run cycle to finish (default 10)

${EXIT_CODES_HELP}`,
  'check-config': `Usage: netgwm check-config [-c FILE]

Validates the config file and prints the effective config (defaults filled in, paths made
absolute). Exits 0 when it is valid, 2 with one line per problem when it is not.

Options:
${COMMON}`,
  use: `Usage: netgwm use NAME | netgwm use auto [-c FILE]

Pins the default route to gateway NAME, whether it is up or not (a warning is logged each time it
goes down), or returns to automatic choice. The choice is kept in STATE_DIR/mode (as in NetGWM) and
takes effect at the next cycle. As in NetGWM, a 'mode' key written in the config wins over it:
then 'use' changes nothing and exits 1 (unless NAME is what the config's mode already says).

Options:
${COMMON}`,
  nft: `Usage: netgwm nft --print [-c FILE]

Prints the nft file netgwm would load now (for the gateway the default route uses), followed by
its ip rules as comments. Changes nothing: cycles load the ruleset themselves.

Options:
${COMMON}
      --print         print the ruleset (the only action so far)`,
  cleanup: `Usage: netgwm cleanup [-c FILE] [--wait SECONDS]

Removes what netgwm installed in the kernel: every gateway's probe path (the ip rules at
probe.rule_pref and the routes in the probe tables, check_table + 1, + 2, …), the single check
table older versions used, and netgwm's nft table and fwmark rules (as nftables.enabled: false
does). The default route is left alone. Prints what it removed. A running daemon installs the
probe paths again at its next cycle: stop it first. The package runs this on removal.

Options:
${COMMON}
      --wait SECONDS  how long to wait for a running cycle to finish (default 10)

${EXIT_CODES_HELP}`,
  health: `Usage: netgwm health [-c FILE]

For keepalived's track_script. Reads the state the daemon (or the last \`netgwm run\`) saved; no
probe, no lock. Exits 0 when a gateway of this router is up (in either address family) and the
state is at most cluster.max_state_age seconds old (default 180), 1 otherwise, and prints why
in one line: "ok: isp1 up", "fail: no usable gateway", "fail: state is 212 s old".

Options:
${COMMON}`,
  role: `Usage: netgwm role master|backup|fault [-c FILE] [--wait SECONDS]

For keepalived: examples/ha/netgwm-notify runs it for each state change, in order. Records the role in cluster.role_file;
with cluster.conntrackd, runs conntrackd's commands for it (master: -c, -f, -R, -B; backup: -t,
-n; fault: -t); on becoming master, runs the hooks of the uplink in use once (NETGWM_EVENT=role).
Hooks of switches run only while the role is master; every hook gets NETGWM_ROLE.

Options:
${COMMON}
      --wait SECONDS  how long to wait for a running cycle before running the hooks (default 10)

${EXIT_CODES_HELP}`,
};

export async function main(argv: string[]): Promise<number> {
  const command = argv[0] && !argv[0].startsWith('-') ? argv[0] : 'run';
  const rest = command === argv[0] ? argv.slice(1) : argv;
  if (command === 'help') return print(HELP.main!);
  if (command === 'status' || command === 'history') return (await import('./report/cli.js')).runReport(command, rest);
  if (command === 'replay') return (await import('./replay/cli.js')).runReplay(rest);
  if (command === 'passwd') return (await import('./web/passwd-cli.js')).runPasswd(rest);
  if (!Object.hasOwn(HELP, command) || command === 'main')
    throw new UsageError(
      `unknown command "${command}"; expected one of: run, daemon, check-config, use, nft, status, history, passwd, replay, cleanup, health, role (see netgwm --help)`,
    );
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: command === 'use' || command === 'role',
    options: {
      config: { type: 'string', short: 'c', default: DEFAULT_CONFIG_FILE },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'V' },
      interval: { type: 'string' },
      wait: { type: 'string' },
      print: { type: 'boolean' },
    },
  });
  if (values.version) return print(version());
  if (values.help) return print(HELP[command === argv[0] ? command : 'main']!);
  if (values.interval !== undefined && command !== 'daemon') throw new UsageError('--interval is an option of `netgwm daemon`');
  if (values.print !== undefined && command !== 'nft') throw new UsageError('--print is an option of `netgwm nft`');
  const lockWaitMs = seconds('--wait', values.wait ?? '10') * 1000;

  const early = command === 'run' ? lockEarly(lockWaitMs) : undefined;
  const config = await loadConfig(values.config).catch(async (error: unknown) => {
    early?.abandon();
    if (error instanceof ConfigError && (command === 'run' || command === 'daemon')) await logConfigError(error);
    throw error;
  });
  switch (command) {
    case 'check-config':
      return print(stringify(describeConfig(config)).trimEnd());
    case 'use':
      return use(config, positionals);
    case 'nft':
      return printFirewall(config, values.print);
    case 'cleanup':
      return cleanup(config, lockWaitMs);
    case 'health': {
      const verdict = await (await import('./cluster/health.js')).checkHealth(config, Date.now());
      process.stdout.write(`${verdict.line}\n`);
      return verdict.healthy ? EXIT.ok : EXIT.failed;
    }
    case 'role':
      return role(config, positionals, lockWaitMs);
    case 'daemon': {
      const interval = seconds('--interval', values.interval ?? process.env.INTERVAL ?? '60');
      if (interval <= 0)
        throw new UsageError(`--interval: expected a number of seconds above 0, got "${values.interval ?? process.env.INTERVAL}"`);
      const [{ runDaemon }, { createLogger, openLogFile }, { systemPing }, { pingAddress }] = await Promise.all([
        import('./daemon.js'),
        import('./log/logger.js'),
        import('./probe/echoes.js'),
        import('./probe/icmp.js'),
      ]);
      const log = createLogger(outputs(config, 'daemon', openLogFile));
      const deps = await cycleDeps(config, log, lockWaitMs);
      return runDaemon({
        config,
        intervalMs: interval * 1000,
        configFile: values.config,
        version: version(),
        log,
        deps,
        echoMethod: deps.ping === pingAddress ? 'icmp' : systemPing,
      });
    }
    default: {
      const [{ runCycle }, { createLogger, openLogFile }] = await Promise.all([import('./cycle.js'), import('./log/logger.js')]);
      const log = createLogger(outputs(config, 'run', openLogFile));
      const deps = { ...(await cycleDeps(config, log, lockWaitMs)), lock: early!.lock };
      try {
        await runCycle(config, deps);
        return EXIT.ok;
      } catch (error) {
        // Logged (to the file and stderr) rather than printed, so the log shows it too.
        if (error instanceof LockBusyError) {
          log.event({ kind: 'lock-busy', waitedMs: lockWaitMs });
          return EXIT.lockBusy;
        }
        log.event({ kind: 'cycle-failed', error: (error as Error).message });
        return EXIT.failed;
      }
    }
  }
}

/** The probe method is chosen once per process: a daemon needs a restart to change probe.method. */
async function cycleDeps(config: Config, log: Logger, lockWaitMs: number): Promise<CycleDeps> {
  const [{ createExec }, { choosePing }] = await Promise.all([import('./system/exec.js'), import('./probe/select.js')]);
  const exec = createExec();
  return { exec, ping: await choosePing(config, { log, exec }), log, clock: Date.now, lockWaitMs };
}

/**
 * A one-shot cycle's lock, taken while the config loads: flock(1) runs meanwhile (a spawn is much
 * of a healthy run). Abandoned (flock ended, the lock let go) when the config turns out bad.
 */
function lockEarly(waitMs: number): { lock: Promise<Lock>; abandon: () => void } {
  const controller = new AbortController();
  const lock = import('./system/lock.js').then(({ acquireLock }) => acquireLock({ waitMs, signal: controller.signal }));
  lock.catch(() => undefined); // the cycle awaits it; failing before then is not an unhandled rejection
  const abandon = () => {
    controller.abort();
    lock.then((held) => held.release()).catch(() => undefined);
  };
  return { lock, abandon };
}

/** A cycle that cannot start for a bad config says so in the log it would have written. */
async function logConfigError(error: ConfigError): Promise<void> {
  if (!error.logFile) return;
  const { createLogger, openLogFile } = await import('./log/logger.js');
  try {
    createLogger([{ to: openLogFile(error.logFile), level: 'error', format: 'text' }]).event({
      kind: 'config-error',
      problems: error.problems,
    });
  } catch {
    // The log may be what is misconfigured; stderr still has the problems.
  }
}

/** run: the log file, plus problems on stderr; daemon: the log file plus everything on stdout. */
function outputs(config: Config, mode: 'run' | 'daemon', openLogFile: (path: string) => Destination): Output[] {
  const list: Output[] = [];
  try {
    list.push({ to: openLogFile(config.log_file), level: config.log_level, format: config.log_format });
  } catch (error) {
    process.stderr.write(
      `netgwm: cannot open the log file ${config.log_file} (${(error as Error).message}); logging to ${mode === 'run' ? 'stderr' : 'stdout'} only\n`,
    );
  }
  const console: Destination = mode === 'run' ? process.stderr : process.stdout;
  // A reader that went away (EPIPE) must not take netgwm down: the log file still has every line.
  (console as NodeJS.WriteStream).on('error', () => undefined);
  const journal = process.env.JOURNAL_STREAM !== undefined;
  list.push({
    to: console,
    level: mode === 'run' ? 'warn' : config.log_level,
    format: mode === 'daemon' ? config.log_format : 'text',
    style: journal ? 'journal' : 'plain',
    fixedLevel: mode === 'run',
  });
  return list;
}

async function use(config: Config, positionals: string[]): Promise<number> {
  const [name, ...extra] = positionals;
  const names = config.gateways.map((gateway) => gateway.name);
  if (!name || extra.length > 0) throw new UsageError(`use: expected one gateway name (${names.join(', ')}) or "auto"`);
  if (name !== 'auto' && !names.includes(name))
    throw new UsageError(`use: "${name}" is not a gateway in ${config.file}; expected one of ${names.join(', ')} or "auto"`);
  // NetGWM's rule: the config's `mode`, when written, wins over the mode file (src/core/mode.ts).
  if (config.mode === name)
    return print(`${config.file} already sets \`mode: ${name}\`, which wins over \`netgwm use\`; nothing to change`);
  if (config.mode !== undefined) {
    process.stderr.write(
      `netgwm: use: ${config.file} sets \`mode: ${config.mode}\`, which wins over \`netgwm use\` (as in NetGWM); nothing changed.\n` +
        `Remove the \`mode\` line from ${config.file} to choose with \`netgwm use\`, or set the mode there.\n`,
    );
    return EXIT.failed;
  }
  const { writeMode } = await import('./state/store.js');
  await writeMode(config.state_dir, name);
  return print(
    name === 'auto'
      ? 'automatic mode: netgwm chooses the gateway from the next cycle on'
      : `pinned to ${name} from the next cycle on; \`netgwm use auto\` undoes it`,
  );
}

async function role(config: Config, positionals: string[], lockWaitMs: number): Promise<number> {
  const [name, ...extra] = positionals;
  const { isRole } = await import('./core/cluster.js');
  if (!name || extra.length > 0 || !isRole(name))
    throw new UsageError(`role: expected one of master, backup, fault, got ${JSON.stringify(positionals.join(' '))}`);
  if (!config.cluster)
    throw new ConfigError([
      `${config.file}: cluster: missing; \`netgwm role\` is for a router of an HA pair: add \`cluster: {}\` (see netgwm(8))`,
    ]);
  const [{ becomeRole }, { createLogger, openLogFile }, { createExec }, { acquireLock }] = await Promise.all([
    import('./cluster/become.js'),
    import('./log/logger.js'),
    import('./system/exec.js'),
    import('./system/lock.js'),
  ]);
  const log = createLogger(outputs(config, 'run', openLogFile));
  try {
    const outcome = await becomeRole(config, name, {
      exec: createExec(),
      log,
      lock: () => acquireLock({ waitMs: lockWaitMs }),
      roleLock: () => acquireLock({ waitMs: lockWaitMs, name: 'role' }),
    });
    return outcome.conntrackdFailed.length > 0 ? EXIT.failed : EXIT.ok;
  } catch (error) {
    if (error instanceof LockBusyError) {
      log.event({ kind: 'lock-busy', waitedMs: lockWaitMs });
      return EXIT.lockBusy;
    }
    throw error;
  }
}

async function cleanup(config: Config, lockWaitMs: number): Promise<number> {
  const [{ cleanup }, { createLogger, openLogFile }, { createExec }] = await Promise.all([
    import('./cleanup.js'),
    import('./log/logger.js'),
    import('./system/exec.js'),
  ]);
  const log = createLogger(outputs(config, 'run', openLogFile));
  const removed = await cleanup(config, { exec: createExec(), log, clock: Date.now, lockWaitMs });
  return print(removed.length > 0 ? `removed:\n${removed.map((line) => `  ${line}`).join('\n')}` : 'no probe path was installed');
}

async function printFirewall(config: Config, print: boolean | undefined): Promise<number> {
  if (!print) throw new UsageError('nft: expected --print (cycles load the ruleset themselves)');
  const [
    { describeFirewall },
    { loadState, readEffectiveMode },
    { createExec },
    { matchGateway, readDefaultRoutes, defaultRoutesOf },
    { familyView },
    { readRouting },
  ] = await Promise.all([
    import('./firewall.js'),
    import('./state/store.js'),
    import('./system/exec.js'),
    import('./system/routes.js'),
    import('./config/families.js'),
    import('./system/probe-paths.js'),
  ]);
  const exec = createExec();
  const ipv4 = familyView(config, 4);
  const active = matchGateway((await readDefaultRoutes(exec))[0], ipv4.gateways);
  const { mode } = await readEffectiveMode(ipv4);
  const ipv6 = config.families.includes(6)
    ? { active: matchGateway(defaultRoutesOf((await readRouting(exec, 6)).routes)[0], familyView(config, 6).gateways) }
    : undefined;
  process.stdout.write(describeFirewall(ipv4, (await loadState(config.state_dir)).state, active, mode, Date.now(), ipv6));
  return EXIT.ok;
}

/** The effective config as YAML keys, in the file's own shape. */
function describeConfig(config: Config): Record<string, unknown> {
  // `families` is derived from the gateways (and `family` only on a family view): not keys of the file.
  const { file, gateways, check_table_id, families: _families, family: _family, method_sites, ...rest } = config;
  return {
    gateways: Object.fromEntries(
      gateways.map(({ name, table_id, probe, auto, auto6, ip, ip6, ...gateway }) => [
        name,
        {
          ...((auto || ip !== undefined) && { ip: auto ? 'auto' : ip }),
          ...((auto6 || ip6 !== undefined) && { ip6: auto6 ? 'auto' : ip6 }),
          ...gateway,
          ...(gateway.mark === undefined ? {} : { mark: hex(gateway.mark) }),
          ...(table_id === undefined ? {} : { table: `${gateway.table} (table ${table_id})` }),
          probe_path: `mark ${hex(probe.mark)}, table ${probe.table}, ports ${probe.ports.from}-${probe.ports.to}`,
        },
      ]),
    ),
    ...rest,
    check_sites: config.check_sites.map((key) => {
      const site = method_sites.find((method) => method.key === key);
      return site ? methodSiteEntry(site) : key;
    }),
    ...(config.nftables ? { nftables: { ...config.nftables, mask: hex(config.nftables.mask) } } : {}),
    check_table: `${config.check_table} (table ${check_table_id})`,
    probe: { ...config.probe, mark: hex(config.probe.mark) },
  };
}

function seconds(option: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0)
    throw new UsageError(`${option}: expected a number of seconds, got ${JSON.stringify(text)}`);
  // Node's timers wait at most 2^31-1 ms; a longer wait would fire at once.
  if (value > LIMITS.seconds)
    throw new UsageError(`${option}: expected at most ${LIMITS.seconds} seconds (24.8 days), got ${JSON.stringify(text)}`);
  return value;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function print(text: string): number {
  process.stdout.write(`${text}\n`);
  return EXIT.ok;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => (process.exitCode = exitCodeFor(error)),
);
