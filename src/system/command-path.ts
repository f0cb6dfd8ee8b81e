// The PATH commands run with, in a module of its own so that loading the config (which checks that
// nft and conntrack can be found) does not load execa.

/**
 * $PATH plus the sbin directories that cron's default PATH (/usr/bin:/bin) lacks and where
 * Debian puts nft and conntrack; they come last, so whatever PATH names first still wins.
 */
export function commandPath(path = process.env.PATH ?? ''): string {
  const directories = path.split(':').filter(Boolean);
  return [...directories, ...['/usr/sbin', '/sbin'].filter((directory) => !directories.includes(directory))].join(':');
}
