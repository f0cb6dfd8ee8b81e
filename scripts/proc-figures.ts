// A process's CPU time and memory as the kernel counts them (/proc), for the bench and
// scripts/daemon-cost.ts.
import { readdir, readFile } from 'node:fs/promises';

/**
 * CPU time (clock ticks, CLK_TCK = 100 on Linux) of a process, of its reaped children and of its
 * live descendants: user (utime + cutime) and system (stime + cstime). Zero for a process gone.
 */
export async function cpuTicks(pid: number): Promise<{ user: number; system: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  if (!stat) return { user: 0, system: 0 };
  // Fields after the `(comm)`, which may hold spaces: state is field 3, utime..cstime 14..17.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = { user: Number(fields[11]) + Number(fields[13]), system: Number(fields[12]) + Number(fields[14]) };
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => []);
  for (const task of tasks) {
    const children = await readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '');
    for (const child of children.split(' ').filter(Boolean)) {
      const descendant = await cpuTicks(Number(child));
      ticks.user += descendant.user;
      ticks.system += descendant.system;
    }
  }
  return ticks;
}

/** A size from /proc/PID/status, kB: VmRSS now, VmHWM its peak. */
export async function statusKb(pid: number, key: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
}
