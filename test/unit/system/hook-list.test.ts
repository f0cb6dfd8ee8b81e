import { chmod, chown, lchown, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listHooks } from '../../../src/system/hook-list.js';
import { tempDir } from '../../support/temp-dir.js';

describe('listHooks', () => {
  it('lists executable regular files by name, skipping leftovers, dot files and the rest', async () => {
    const dir = await tempDir('hooks');
    const names = [
      '20-mail',
      '10-log',
      'sms.dpkg-old',
      'sms.dpkg-dist',
      'sms.dpkg-new',
      'vpn~',
      'x.rpmsave',
      '.hidden',
      'not-executable',
      '30 with space',
    ];
    for (const name of names) await writeFile(join(dir, name), '#!/bin/sh\n', { mode: name === 'not-executable' ? 0o644 : 0o755 });
    await mkdir(join(dir, '40-a-directory'));
    await chmod(join(dir, '40-a-directory'), 0o755);
    await symlink(join(dir, '10-log'), join(dir, '50-link'));
    const { hooks, refused } = await listHooks(dir);
    expect(hooks.map((path) => path.slice(dir.length + 1))).toEqual(['10-log', '20-mail', '30 with space', '50-link']);
    expect(refused).toEqual([]);
  });

  it('treats a missing directory as no hooks', async () => {
    expect(await listHooks('/nonexistent/netgwm/post-replace.d')).toEqual({ hooks: [], refused: [] });
  });
});

describe('listHooks refuses what someone else could have written (as cron and sshd StrictModes do)', () => {
  const NOBODY = 65534;

  /** A hooks directory with one good hook, `10-good`, and `setup` applied to it. */
  async function hooksDir(
    setup: (dir: string) => Promise<unknown>,
  ): Promise<{ dir: string; listed: Awaited<ReturnType<typeof listHooks>> }> {
    const dir = join(await tempDir('hooks'), 'post-replace.d');
    await mkdir(dir, { mode: 0o755 });
    await writeFile(join(dir, '10-good'), '#!/bin/sh\n', { mode: 0o755 });
    await setup(dir);
    return { dir, listed: await listHooks(dir, 0) };
  }

  async function script(path: string, mode: number, uid = 0): Promise<string> {
    await writeFile(path, '#!/bin/sh\n');
    await chmod(path, mode);
    await chown(path, uid, 0);
    return path;
  }

  it('a hook owned by another user (uid 65534)', async () => {
    const { dir, listed } = await hooksDir((dir) => script(join(dir, '20-nobody'), 0o755, NOBODY));
    expect(listed).toEqual({
      hooks: [join(dir, '10-good')],
      refused: [
        {
          hook: join(dir, '20-nobody'),
          reason: `it (${dir}/20-nobody) is owned by uid 65534, not by root`,
          fix: `chown root ${dir}/20-nobody`,
        },
      ],
    });
  });

  it.each([
    [0o777, 'group and others (mode 0777)'],
    [0o775, 'group (mode 0775)'],
    [0o757, 'others (mode 0757)'],
  ])('a hook of mode %o', async (mode, writable) => {
    const { dir, listed } = await hooksDir((dir) => script(join(dir, '20-loose'), mode));
    expect(listed.hooks).toEqual([join(dir, '10-good')]);
    expect(listed.refused).toEqual([
      { hook: join(dir, '20-loose'), reason: `it (${dir}/20-loose) is writable by ${writable}`, fix: `chmod go-w ${dir}/20-loose` },
    ]);
  });

  it('every hook of a directory others can write to, such as a 1777 one', async () => {
    const { dir, listed } = await hooksDir(async (dir) => {
      await script(join(dir, '20-planted'), 0o755, NOBODY);
      await chmod(dir, 0o1777);
    });
    const reason = `the hooks directory (${dir}) is writable by group and others (mode 1777)`;
    expect(listed).toEqual({
      hooks: [],
      refused: ['10-good', '20-planted'].map((name) => ({ hook: join(dir, name), reason, fix: `chmod go-w ${dir}` })),
    });
  });

  it("a link to a script owned by another user, and a link that is not root's own; a link to a safe script runs", async () => {
    const elsewhere = await tempDir('elsewhere');
    const { dir, listed } = await hooksDir(async (dir) => {
      await symlink(await script(join(elsewhere, 'nobodys'), 0o755, NOBODY), join(dir, '20-to-nobodys'));
      await symlink(await script(join(elsewhere, 'roots'), 0o755), join(dir, '30-to-roots'));
      await symlink(join(elsewhere, 'roots'), join(dir, '40-link-of-nobody'));
      await lchown(join(dir, '40-link-of-nobody'), NOBODY, 0);
    });
    expect(listed).toEqual({
      hooks: [join(dir, '10-good'), join(dir, '30-to-roots')],
      refused: [
        {
          hook: join(dir, '20-to-nobodys'),
          reason: `the file it points to (${elsewhere}/nobodys) is owned by uid 65534, not by root`,
          fix: `chown root ${elsewhere}/nobodys`,
        },
        {
          hook: join(dir, '40-link-of-nobody'),
          reason: `the link (${dir}/40-link-of-nobody) is owned by uid 65534, not by root`,
          fix: `chown -h root ${dir}/40-link-of-nobody`,
        },
      ],
    });
  });
});
