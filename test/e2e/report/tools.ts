// Outside programs the report tests drive: promtool, a real prometheus-node-exporter on a free
// loopback port, and a process holding the cycle lock. Each is bounded in time and stopped.
import { createServer } from 'node:net';
import { execa, type ResultPromise } from 'execa';
import { sleep } from '../harness.js';

const LOCK_MODULE = new URL('../../../src/system/lock.ts', import.meta.url).href;

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

export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

export interface NodeExporter {
  url: string;
  stop(): Promise<void>;
}

/** node_exporter with only the textfile collector, on 127.0.0.1; resolves once it answers. */
export async function startNodeExporter(textfileDir: string): Promise<NodeExporter> {
  const port = await freeLoopbackPort();
  const url = `http://127.0.0.1:${port}/metrics`;
  const process: ResultPromise = execa(
    'prometheus-node-exporter',
    [`--web.listen-address=127.0.0.1:${port}`, '--collector.disable-defaults', '--collector.textfile', `--collector.textfile.directory=${textfileDir}`],
    { reject: false, stdin: 'ignore', timeout: 60_000 },
  );
  const stop = async () => {
    process.kill('SIGTERM');
    await process;
  };
  for (let attempt = 0; attempt < 300; attempt++) {
    if (process.exitCode !== null && process.exitCode !== undefined) break;
    const answered = await fetch(url).then((response) => response.ok, () => false);
    if (answered) return { url, stop };
    await sleep(100);
  }
  await stop();
  throw new Error(`prometheus-node-exporter did not answer at ${url} within 30 s: ${String((await process).stderr).slice(-500)}`);
}

/** Holds netgwm's cycle lock in `ns` (with the real lock module) until stopped. */
export async function holdCycleLock(ns: string): Promise<{ stop(): Promise<void> }> {
  const script = `const { acquireLock } = await import(${JSON.stringify(LOCK_MODULE)}); await acquireLock({ waitMs: 0 }); console.log('locked'); setTimeout(() => {}, 600000);`;
  const holder = execa('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], { reject: false, stdin: 'ignore', timeout: 660_000 });
  const stop = async () => {
    holder.kill('SIGTERM');
    await holder;
  };
  const locked = await new Promise<boolean>((done) => {
    holder.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && done(true));
    void holder.then(() => done(false));
  });
  if (!locked) throw new Error(`could not take the cycle lock in ${ns}: ${String((await holder).stderr)}`);
  return { stop };
}
