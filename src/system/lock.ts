// One cycle at a time per network namespace (cron and the daemon, or two crons).
//
// The lock is a listening socket in Linux's abstract namespace: binding the name is atomic, the
// kernel releases it the moment the holder dies (even by kill -9), so there is no stale lock
// file to clean and no PID to reuse; it is close-on-exec, so hooks never inherit it; and it is
// scoped to the network namespace, which is exactly what a cycle changes. `ss -xlp | grep netgwm`
// shows who holds it. (Abstract names have no permissions: a local user who binds the name first
// makes every cycle give up with exit 75 until that process is gone; `ss -xlp` names it.)
import { createServer, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { LockBusyError } from '../errors.js';

export const LOCK_NAME = 'netgwm/cycle';

export interface Lock {
  release(): Promise<void>;
}

export async function acquireLock(options: { waitMs: number; name?: string; signal?: AbortSignal }): Promise<Lock> {
  const name = `\0${options.name ?? LOCK_NAME}`;
  const started = Date.now();
  for (;;) {
    const server = await tryListen(name);
    if (server) return { release: () => new Promise((done) => server.close(() => done())) };
    const waited = Date.now() - started;
    if (waited >= options.waitMs || options.signal?.aborted) {
      throw new LockBusyError(`another netgwm cycle is running (lock @${options.name ?? LOCK_NAME} held); gave up after ${(waited / 1000).toFixed(1)} s`);
    }
    await sleep(Math.min(100, options.waitMs - waited), undefined, { signal: options.signal }).catch(() => undefined);
  }
}

function tryListen(name: string): Promise<Server | undefined> {
  return new Promise((resolve, reject) => {
    // Nobody has anything to say to the lock: a connection is closed at once, so that it can
    // never hold up release() (server.close waits for open connections).
    const server = createServer((socket) => socket.destroy());
    server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' ? resolve(undefined) : reject(error)));
    server.listen({ path: name, exclusive: true }, () => {
      server.unref(); // holding the lock must not keep the process alive by itself
      resolve(server);
    });
  });
}
