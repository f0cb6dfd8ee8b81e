import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { LockBusyError } from '../../../src/errors.js';
import { acquireLock } from '../../../src/system/lock.js';

// A name of this test's own: the real lock of the host's namespace is never touched.
const lockName = () => `netgwm-test/${randomBytes(6).toString('hex')}`;

describe('acquireLock', () => {
  it('one holder at a time; the next waits, then gives up with LockBusyError', async () => {
    const name = lockName();
    const held = await acquireLock({ waitMs: 0, name });
    await expect(acquireLock({ waitMs: 300, name })).rejects.toThrow(LockBusyError);
    await held.release();
    await (await acquireLock({ waitMs: 0, name })).release();
  });

  it('a waiter gets the lock as soon as it is released', async () => {
    const name = lockName();
    const held = await acquireLock({ waitMs: 0, name });
    setTimeout(() => void held.release(), 200);
    const next = await acquireLock({ waitMs: 2000, name });
    await next.release();
  });

  it('a process that connects to the lock cannot keep it from being released', async () => {
    const name = lockName();
    const held = await acquireLock({ waitMs: 0, name });
    const client = connect({ path: `\0${name}` });
    client.on('error', () => undefined);
    await new Promise((done) => client.once('connect', done).once('close', done));
    const released = await Promise.race([held.release().then(() => 'released'), new Promise((done) => setTimeout(() => done('stuck'), 10_000))]);
    client.destroy();
    expect(released).toBe('released');
  });
});
