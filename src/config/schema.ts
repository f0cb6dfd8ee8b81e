// The shape of /etc/netgwm/netgwm.yml. Every key NetGWM knew (gateways, min_uptime,
// check_sites, check_all_gateways, mode) keeps its meaning; everything added is optional.
import { isIP } from 'node:net';
import * as z from 'zod';
import { unusableSite } from './check-sites.js';
import { recordSchema } from './record.js';
import { filePath, reportKeys } from './reports.js';
import { clusterSchema } from './cluster.js';

/** Bounds on the config as a whole (README "Config", netgwm(8)). */
export const LIMITS = {
  /** Bytes of the config file. */
  configBytes: 64 << 10,
  gateways: 64,
  checkSites: 32,
  rules: 64,
  /** Copies YAML aliases may expand to (yaml's maxAliasCount); more is an "alias bomb". */
  aliasExpansions: 100,
  /** Seconds: Node's timers wait at most 2^31-1 ms (24.8 days); longer ones fire at once. */
  seconds: 2_147_483,
} as const;

/** Gateway names become file names in status_dir and words in log lines and hook arguments. */
const GATEWAY_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
export const GATEWAY_NAME_RULE = 'expected a name of 1-32 letters, digits, "_", "-" or ".", starting with a letter or digit';

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;
// What the kernel accepts as an interface name (dev_valid_name: 1-15 bytes, not "." or "..", no
// '/', ':' or white space), limited to printable ASCII (no NUL or control character can cut an
// `ip -batch` line or a log line) and minus quotes and '#', which `ip -batch` would read as syntax.
const INTERFACE_NAME = /^(?!\.\.?$)[!$%&()*+,\-.0-9;<=>?@A-Z[\]^_`a-z{|}~]{1,15}$/;

const gatewayIpv4 = z.string().refine((value) => isIP(value) === 4, {
  error: (issue) =>
    isIP(String(issue.input)) === 6 ? 'expected an IPv4 address; an IPv6 gateway goes in `ip6`' : 'expected an IPv4 address',
});
// A zone (`fe80::1%eth1`) is the gateway's `dev`, written on its own: ip(8) takes no zone.
const gatewayIpv6 = z.string().refine((value) => isIP(value) === 6 && !value.includes('%'), {
  error: (issue) =>
    String(issue.input).includes('%')
      ? "expected an IPv6 address without a zone; write the interface as the gateway's `dev`"
      : 'expected an IPv6 address',
});
const isLinkLocal6 = (value: string) => /^fe[89ab][0-9a-f]:/i.test(value);
const seconds = z.number().nonnegative().max(LIMITS.seconds);
/** A mark may be written as a number (YAML reads 0x10 as 16) or a hex string. */
const mark = z
  .union([z.number().int(), z.string().regex(/^0x[0-9a-f]+$/i, 'expected a number such as 0x10')])
  .transform((value) => (typeof value === 'number' ? value : Number.parseInt(value, 16)))
  .refine((value) => value > 0 && value <= 0xffffffff, 'expected a mark between 0x1 and 0xffffffff');
/** A routing table by name (looked up in the rt_tables files) or by number. */
const routingTable = z.union([
  z.string().regex(/^(?!.*#)[!-~]{1,64}$/, 'expected a table name as in rt_tables (printable, no spaces or "#") or a number'),
  z.number().int().min(1).max(0xffffffff),
]);

export const gatewaySchema = z
  .strictObject({
    /** The next hop; `auto` (or no `ip` with a `dev`): the one the kernel has for `dev` (DHCP, PPP). */
    ip: z.union([z.literal('auto'), gatewayIpv4], 'expected an IPv4 address or "auto"').optional(),
    /** The IPv6 next hop: global, link-local (needs `dev`) or `auto` (the router advertisement's on `dev`). */
    ip6: z.union([z.literal('auto'), gatewayIpv6], 'expected an IPv6 address or "auto"').optional(),
    dev: z
      .string()
      .regex(
        INTERFACE_NAME,
        'expected an interface name (1-15 printable ASCII characters, not "." or "..", none of / : # \' " \\ or spaces)',
      )
      .optional(),
    priority: z.number().int().min(0).max(65535),
    /** This uplink's connection mark (see `nftables`); it must fit `nftables.mask`. */
    mark: mark.optional(),
    /** The uplink's own routing table: `ip rule fwmark MARK/MASK lookup TABLE` sends its marked traffic there. */
    table: routingTable.optional(),
    /** Gateways of one priority that all have a weight form a balanced tier: new connections are spread in proportion. */
    weight: z.number().int().min(1).max(1000).optional(),
    /** Seconds a LAN source address stays on the member of a balanced tier it was given (all members must agree). */
    sticky: z.number().int().min(1).max(LIMITS.seconds).optional(),
  })
  .refine((gateway) => gateway.ip !== undefined || gateway.ip6 !== undefined || gateway.dev !== undefined, {
    message: 'a gateway needs an `ip`, an `ip6` or a `dev` (or several of them)',
  })
  .refine((gateway) => gateway.ip !== 'auto' || gateway.dev !== undefined, {
    message: "`ip: auto` takes the gateway the kernel has for the gateway's `dev`; add the `dev`",
    path: ['ip'],
  })
  .refine((gateway) => gateway.ip6 !== 'auto' || gateway.dev !== undefined, {
    message: "`ip6: auto` takes the router advertisement's gateway on the gateway's `dev`; add the `dev`",
    path: ['ip6'],
  })
  .refine((gateway) => gateway.ip6 === undefined || !isLinkLocal6(gateway.ip6) || gateway.ip6.includes('%') || gateway.dev !== undefined, {
    message: 'a link-local address is one on every link: add the `dev` it is reached on',
    path: ['ip6'],
  });

export const checkSiteSchema = z
  .string()
  .refine((site) => isIP(site) !== 0 || HOSTNAME.test(site), 'expected an IP address or a host name')
  .superRefine((site, context) => {
    const why = unusableSite(site);
    if (why) context.addIssue({ code: 'custom', message: `expected a host beyond the uplinks, ${why}`, input: site });
  });

/**
 * One entry of `check_sites`: a site to ping (as in NetGWM), or a mapping that names another
 * method (`{tcp: …}`, `{http: …}`, `{dns: …}`), checked and compiled in ./check-sites.ts.
 */
const checkSiteEntrySchema = z.union(
  [checkSiteSchema, z.record(z.string(), z.unknown())],
  'expected an IP address, a host name, or a check with a method such as {tcp: 203.0.113.10:443}',
);

const probeSchema = z.strictObject({
  /** `icmp`: net-ping's native raw socket; `ping`: iputils ping(8); `auto`: icmp if it loads, else ping. */
  method: z.enum(['auto', 'icmp', 'ping']).default('auto'),
  /** Echo requests per site, sent back to back (ping(8) waits 1 s between them). */
  count: z.number().int().min(1).max(10).default(2),
  /** Seconds to wait for the replies (one-shot `run`) or for each echo (the daemon's rounds). */
  timeout: z.number().positive().max(30).default(0.5),
  // The daemon's continuous monitoring (see src/core/health.ts and src/config/health.ts).
  /** Seconds between rounds: each round sends one echo to every check site through every gateway. */
  interval: z.number().min(0.05).max(60).default(0.15),
  /** Consecutive rounds with fewer than min_sites answering that make a gateway down. */
  down: z.number().int().min(1).max(100).default(3),
  /** Consecutive good rounds (within loss_up and latency_up) that bring it back up. */
  up: z.number().int().min(1).max(1000).default(10),
  /** Sites that must answer for a round to count as good. */
  min_sites: z.number().int().min(1).max(LIMITS.checkSites).default(1),
  /** Seconds of the latest rounds over which loss and mean RTT are judged. */
  window: z.number().min(1).max(3600).default(30),
  /** Percent of echoes lost over the window that makes a gateway down. */
  loss_down: z.number().gt(0).max(100).default(30),
  /** Percent lost at most for a gateway to come (back) up; above it, an up gateway is degraded. */
  loss_up: z.number().min(0).max(100).default(10),
  /** Milliseconds of mean RTT over the window that make a gateway down; absent: latency is not judged. */
  latency_down: z.number().positive().max(60_000).optional(),
  /** Milliseconds of mean RTT at most to come (back) up; above it, an up gateway is degraded. */
  latency_up: z.number().positive().max(60_000).optional(),
  /** SO_MARK of the probe packets; an `ip rule fwmark` sends only them to the check table. */
  mark: mark.default(0x4e470000),
  /** Preference of that rule; it must come before any rule that could catch the probes. */
  rule_pref: z.number().int().min(1).max(32765).default(1000),
  /** Seconds to wait for a host-name check site to resolve. */
  resolve_timeout: z.number().positive().max(30).default(1),
  /**
   * First local port of the tcp/http/dns probes' port ranges: gateway number i binds them to
   * `port_base + (i-1)*64 … + 63`, sent through its probe table by `ip rule sport` (src/config/probe-paths.ts).
   */
  port_base: z.number().int().min(1024).max(65535).default(61000),
});

/** Default of `nftables.mask`: the mark bits netgwm uses, also when only `conntrack.flush: old` reads them. */
export const DEFAULT_MARK_MASK = 0xff;

/** netgwm's own nft table: marks new connections with the active gateway's mark (see src/core/ruleset.ts). */
export const nftablesSchema = z.strictObject({
  /** false: remove netgwm's table and fwmark rules, then leave the firewall alone. */
  enabled: z.boolean().default(true),
  table: z
    .string()
    .regex(/^(inet|ip) [A-Za-z_]\w{0,63}$/, 'expected "inet NAME" or "ip NAME", e.g. "inet netgwm"')
    .default('inet netgwm'),
  /** The bits of packet and connection marks netgwm owns; the others are left alone. */
  mask: mark.default(DEFAULT_MARK_MASK),
  /** New connections forwarded from the LAN get the active gateway's mark. */
  mark_forwarded: z.boolean().default(true),
  /** New connections the router itself opens get the active gateway's mark. */
  mark_local: z.boolean().default(true),
  /** Preference of the `lookup main suppress_prefixlength 0` rule; the fwmark rules get rule_pref + 1. */
  rule_pref: z.number().int().min(1).max(32764).default(1100),
  /** Seconds between checks that the loaded table is still what netgwm loaded (0: every cycle). */
  verify_interval: seconds.default(300),
});

const ipv4Prefix = z.string().refine((value) => {
  const [address, bits, ...rest] = value.split('/');
  return rest.length === 0 && isIP(address!) === 4 && (bits === undefined || (/^\d{1,2}$/.test(bits) && Number(bits) <= 32));
}, 'expected an IPv4 address or prefix such as 203.0.113.0/24');
const addressMatch = z.union([ipv4Prefix, z.array(ipv4Prefix).min(1).max(256)]);
const port = z.union([
  z.number().int().min(1).max(65535),
  z
    .string()
    .regex(/^\d{1,5}-\d{1,5}$/, 'expected a port (1-65535) or a range such as "5060-5070"')
    .refine((range) => {
      const [low, high] = range.split('-').map(Number) as [number, number];
      return low >= 1 && low <= high && high <= 65535;
    }, 'expected a range of ports from 1 to 65535, low end first'),
]);

/** Where a policy rule sends the connections it matches (see src/core/balance.ts). */
export const policySchema = z.union([
  z.string().regex(GATEWAY_NAME, GATEWAY_NAME_RULE),
  z.array(z.string().regex(GATEWAY_NAME, GATEWAY_NAME_RULE)).min(1).max(LIMITS.gateways),
  z.strictObject({ tier: z.number().int().min(0).max(65535) }),
]);

/** One entry of `rules`: what it matches (all given keys must match) and the policy it names. */
export const ruleSchema = z
  .strictObject({
    saddr: addressMatch.optional(),
    daddr: addressMatch.optional(),
    proto: z.enum(['tcp', 'udp', 'icmp']).optional(),
    dport: z.union([port, z.array(port).min(1).max(256)]).optional(),
    /** The interface the connection came in on (a LAN or VLAN device). */
    iif: z.string().regex(INTERFACE_NAME, 'expected an interface name').optional(),
    /** `default` (the main decision), a gateway, gateways in failover order, or `{tier: PRIORITY}`. */
    use: policySchema,
  })
  .refine((rule) => rule.dport === undefined || rule.proto !== 'icmp', {
    message: 'dport needs proto tcp or udp (or no proto: both)',
    path: ['dport'],
  });

const conntrackSchema = z.strictObject({
  /** Which connections to forget on a switch, so they are re-established over the new uplink. */
  flush: z.enum(['all', 'udp', 'old', 'none']).default('all'),
});

export const configSchema = z.strictObject({
  gateways: z
    .record(z.string().regex(GATEWAY_NAME, GATEWAY_NAME_RULE), gatewaySchema)
    .refine((gateways) => Object.keys(gateways).length > 0, 'expected at least one gateway'),
  /** Seconds a gateway must have been up before traffic moves (back) to it. */
  min_uptime: seconds.default(900),
  check_sites: z
    .array(checkSiteEntrySchema)
    .min(1, 'expected at least one check site')
    .max(LIMITS.checkSites, `expected at most ${LIMITS.checkSites} check sites`),
  check_all_gateways: z.boolean().default(false),
  /**
   * `auto`, or the name of a gateway to pin (NetGWM's undocumented key). When written, it wins
   * over `netgwm use` (STATE_DIR/mode), as in NetGWM; so there is no default here.
   */
  mode: z.string().optional(),
  state_dir: filePath.default('/var/lib/netgwm'),
  log_file: filePath.default('/var/log/netgwm.log'),
  log_format: z.enum(['text', 'json']).default('text'),
  log_level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** Default: `post-replace.d` beside the config file. */
  hooks_dir: filePath.optional(),
  /** Seconds a hook may run before it is killed. */
  hook_timeout: z.number().positive().max(LIMITS.seconds).default(30),
  check_table: routingTable.default('netgwm_check'),
  probe: probeSchema.default(probeSchema.parse({})),
  /** Absent: netgwm touches no nft table and no fwmark rule. */
  nftables: nftablesSchema.optional(),
  /** Absent: netgwm flushes no connection-tracking entries. */
  conntrack: conntrackSchema.optional(),
  /** The daemon's probe recording, for `netgwm replay`; absent or false: none. */
  record: recordSchema.optional(),
  /** Policy rules, first match wins: new connections they match get their policy's mark (needs `nftables`). */
  rules: z.array(ruleSchema).max(LIMITS.rules, `expected at most ${LIMITS.rules} rules`).optional(),
  /** One router of an HA pair run by keepalived (README "HA pairs"); absent: standalone. */
  cluster: clusterSchema.optional(),
  ...reportKeys,
});

export type ConfigFile = z.output<typeof configSchema>;
export type GatewayFile = z.output<typeof gatewaySchema>;
export type PolicyRule = z.output<typeof ruleSchema>;
export type Policy = z.output<typeof policySchema>;
