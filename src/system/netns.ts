// Which kernel and network namespace this process runs in: netgwm's nft table lives there and
// dies with it (a reboot), which the state file, kept on disk, must not miss.
import { readFile, readlink } from 'node:fs/promises';

/** `BOOT_ID/net:[INODE]`, e.g. `0b6f…/net:[4026531840]`; read from /proc, no command runs. */
export async function namespaceId(): Promise<string> {
  const [boot, netns] = await Promise.all([
    readFile('/proc/sys/kernel/random/boot_id', 'utf8').then(
      (text) => text.trim(),
      () => 'unknown-boot',
    ),
    readlink('/proc/self/ns/net').catch(() => 'unknown-netns'),
  ]);
  return `${boot}/${netns}`;
}
