// Outside programs the report tests drive: promtool, a real prometheus-node-exporter on a free
// loopback port, and a process holding the cycle lock. Each is bounded in time and stopped.
import { execa, type ResultPromise } from 'execa';
import { freePort } from '../../support/http-clients.js';
import { holdLock } from '../../support/lock-holder.js';
import { sleep } from '../harness.js';

/** promtool (Debian package `prometheus`) and prometheus-node-exporter must be installed; .ci/run does it. */
export async function requireTool(file: string, debianPackage: string): Promise<void> {
  const found = await execa('sh', ['-c', 'command -v "$1"', 'sh', file], { reject: false });
  if (found.exitCode !== 0) throw new Error(`${file} is not installed: apt-get install ${debianPackage} (bash .ci/run installs it)`);
}

/** `promtool check metrics` on the text: its exit code and what it said (problems, lint). */
export async function promtoolCheck(text: string): Promise<{ exitCode: number; output: string }> {
  const result = await execa('promtool', ['check', 'metrics'], { input: text, reject: false, timeout: 10_000 });
  return { exitCode: result.exitCode ?? -1, output: `${String(result.stdout)}${String(result.stderr)}`.trim() };
}

export interface NodeExporter {
  url: string;
  stop(): Promise<void>;
}

/** node_exporter with only the textfile collector, on 127.0.0.1; resolves once it answers. */
export async function startNodeExporter(textfileDir: string): Promise<NodeExporter> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/metrics`;
  const process: ResultPromise = execa(
    'prometheus-node-exporter',
    [
      `--web.listen-address=127.0.0.1:${port}`,
      '--collector.disable-defaults',
      '--collector.textfile',
      `--collector.textfile.directory=${textfileDir}`,
    ],
    { reject: false, stdin: 'ignore', timeout: 60_000 },
  );
  const stop = async () => {
    process.kill('SIGTERM');
    await process;
  };
  for (let attempt = 0; attempt < 300; attempt++) {
    if (process.exitCode !== null && process.exitCode !== undefined) break;
    const answered = await fetch(url).then(
      (response) => response.ok,
      () => false,
    );
    if (answered) return { url, stop };
    await sleep(100);
  }
  await stop();
  throw new Error(`prometheus-node-exporter did not answer at ${url} within 30 s: ${String((await process).stderr).slice(-500)}`);
}

/** Holds netgwm's cycle lock in `ns` (with the real lock module, in `dir`) until stopped. */
export async function holdCycleLock(ns: string, dir: string): Promise<{ stop(): Promise<void> }> {
  return holdLock({ dir, prefix: ['ip', 'netns', 'exec', ns] });
}
