// Entry point of `netgwm status` and `netgwm history` (chosen by bin/netgwm): it loads only what
// reading the config, the state and the log needs — not the prober, execa or pino — so that a
// status answers in a fraction of the time a cycle's start-up takes.
import { exitCodeFor } from '../exit-codes.js';
import { runReport } from './cli.js';

const [command, ...args] = process.argv.slice(2);
runReport(command === 'history' ? 'history' : 'status', args).then(
  (code) => (process.exitCode = code),
  (error: unknown) => (process.exitCode = exitCodeFor(error)),
);
