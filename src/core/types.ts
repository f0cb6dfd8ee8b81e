// Data that flows through one cycle. Nothing here does I/O.

/** A configured gateway, as the config compiles it (see src/config/load.ts). */
export interface Gateway {
  name: string;
  /** As configured; for an `auto` gateway, the address the cycle resolved from the kernel (if any). */
  ip?: string;
  dev?: string;
  /**
   * `ip: auto`, or a `dev` without `ip`: the address comes from the kernel each cycle (the DHCP
   * client's or pppd's default route on `dev`, or the peer of a point-to-point link; see
   * src/core/dynamic-gateways.ts), and the main table's default route on `dev` is this gateway's.
   */
  auto?: true;
  /**
   * In the config as compiled (all families): the IPv6 next hop as configured, and `ip6: auto`.
   * A family view (src/config/families.ts) has these in `ip` and `auto` instead.
   */
  ip6?: string;
  auto6?: true;
  priority: number;
  /** Connection mark of this uplink (nftables, conntrack.flush: old). */
  mark?: number;
  /** The uplink's own routing table as written, and its number (looked up once). */
  table?: string | number;
  table_id?: number;
  /** Its share in a balanced tier (gateways of one priority that all have a weight). */
  weight?: number;
  /** Seconds a LAN source stays on this member of a balanced tier. */
  sticky?: number;
  /**
   * Its probe path: probes carry `mark` (SO_MARK) and look up `table`, whose default route goes
   * via this gateway. Gateway number i in the config file's `gateways` gets `probe.mark + i` and
   * `check_table + i` (see src/config/probe-paths.ts). The tcp, http and dns probes, which cannot
   * set a mark, bind their sockets to a local port in `ports` (`probe.port_base + (i-1)*64 … + 63`),
   * which `ip rule sport FROM-TO lookup TABLE` sends through the same table.
   */
  probe: { mark: number; table: number; ports: { from: number; to: number } };
  /**
   * 6 on the IPv6 view of a gateway (src/config/families.ts: `ip` is then its IPv6 address), absent
   * for IPv4: what chooses `ip -6`, ICMPv6 and AAAA below the cycle.
   */
  family?: 6;
}

/** A gateway as hooks and log lines name it: ip and dev as the kernel routes it where known. */
export interface GatewayInfo {
  name: string;
  ip?: string;
  dev?: string;
}

/** What probing one check site through one gateway showed. */
export interface SiteObservation {
  /** As written in the config: an IP or a host name; a check site with a method: its key (src/core/check-site.ts). */
  site: string;
  /** The address actually pinged (a host name's resolved address). */
  address?: string;
  answered: boolean;
  /** Mean round-trip time of the answered echoes, in milliseconds. */
  rttMs?: number;
  /** Echo replies received out of echo requests sent. */
  replies?: number;
  sent?: number;
  /** Set when the site was not probed (e.g. its name did not resolve): it counts neither way. */
  skipped?: string;
  /** Why a method site did not answer (`timeout`, `HTTP 500, expected 204`, …). */
  error?: string;
}

export interface GatewayObservation {
  /** NetGWM semantics: up when any site answered. */
  up: boolean;
  sites: SiteObservation[];
  /** Why no site could be probed at all (e.g. the kernel has no route to the gateway). */
  error?: string;
  /** Why the gateway has its status, from its health (src/core/health.ts), e.g. `down: loss 42 % ≥ 30 % over 10 s`. */
  reason?: string;
  /** Up, but its loss or RTT is above the `*_up` thresholds (not a reason to switch). */
  degraded?: true;
}

/** This cycle's probe results, keyed by gateway name; gateways not probed are absent. */
export type Observations = Record<string, GatewayObservation>;

/** What is remembered about one gateway between cycles. */
export interface GatewayRecord {
  up: boolean;
  /** When it was last seen changing to `up` (or to down), epoch ms. */
  since: number;
  /** When it was last probed, epoch ms. */
  checkedAt: number;
  /** Why it is up, degraded or down, as of checkedAt (e.g. `down: 0/2 sites answered in 3 rounds`). */
  reason?: string;
  degraded?: true;
}

export interface SwitchRecord {
  at: number;
  from?: string;
  to: string;
  reason: string;
  /** Steps after the route that failed (e.g. `nftables`, `conntrack`): the switch was partial. */
  incomplete?: string[];
}

/** netgwm's nft table and fwmark rules as last applied (see src/core/firewall-plan.ts). */
export interface FirewallRecord {
  /** Hash of the nft file last loaded. */
  hash: string;
  /** Hash of `nft list table` right after loading (`absent` after a removal); a later listing that differs was changed by someone else. */
  listing: string;
  /** The table loaded, e.g. `inet netgwm`; absent after a removal. */
  table?: string;
  /** `nftables.rule_pref` of the rules installed, so that a changed preference removes the old rules. */
  rulePref: number;
  /** Boot id and network namespace the table was loaded into: another one means it is gone (a reboot). */
  netns: string;
  /** When the loaded table was last seen as loaded (loaded or verified), epoch ms. */
  verifiedAt: number;
}

/** One site probed through one gateway in one cycle (see src/core/measurements.ts). */
export interface ProbeSample {
  at: number;
  site: string;
  sent: number;
  replies: number;
  /** Mean round-trip time of the replies, ms. */
  rttMs?: number;
}

/** Counts that survive restarts (Prometheus counters). */
export interface Totals {
  switches: number;
  hookFailures: number;
}

/** A host-name check site whose lookups fail (see src/core/lookups.ts). */
export interface LookupFailure {
  /** When its lookups started failing, epoch ms: reported then, and again when it resolves. */
  since: number;
  /** Failed lookups in a row. */
  failures: number;
  /** No lookup before this time, epoch ms. */
  retryAt: number;
  /** Why the last lookup failed. */
  error: string;
}

/**
 * A switch whose hooks have not all run yet (see src/post-replace.ts). Saved before the route
 * changes, so that a kill at any moment after the kernel took the route loses nothing.
 */
export interface PendingHooks {
  to: GatewayInfo;
  from?: GatewayInfo;
  reason: string;
  /** Paths of the hooks that have run. */
  done: string[];
  /** When the switch was decided, epoch ms (absent in state files written before it was kept). */
  at?: number;
  /**
   * Set until the switch line is logged and the switch recorded: the route may or may not have
   * changed; the next cycle tells by the route whether the switch happened.
   */
  unconfirmed?: true;
}

/**
 * Which gateways new connections were given after the last decision (see src/core/balance.ts):
 * a member leaves at once when it goes down, and comes back only when stable.
 */
export interface BalanceRecord {
  /** Tier priority → the members in its share. */
  tiers: Record<string, string[]>;
  /** Per rule (by index), the gateway of a failover list in use; null: none (the rule follows the default). */
  rules: Array<string | null>;
  /** Every gateway some new connection may get (their marks are the ones flushed when they leave). */
  used: string[];
}

export interface State {
  version: 1;
  /** Start of the last cycle, epoch ms; a later cycle that starts earlier saw the clock step back. */
  lastCycleAt?: number;
  gateways: Record<string, GatewayRecord>;
  /** Set while no gateway answers, so "all gateways down" is logged once per outage. */
  allDownSince?: number;
  /** The pinned gateway while it is down, so that this is logged once per outage. */
  pinnedDown?: string;
  /** What STATE_DIR/mode says while it names no gateway, so that this is logged once. */
  ignoredModeFile?: string;
  lastSwitch?: SwitchRecord;
  /** Shares of balanced tiers and rule targets; only with balanced tiers or rules. */
  balance?: BalanceRecord;
  /** Absent until netgwm loaded its nft table, and when the config has no `nftables` section. */
  firewall?: FirewallRecord;
  /** Host-name check sites: the last address each resolved to. */
  resolved: Record<string, string>;
  /** Host-name check sites whose lookups fail, retried with back-off. */
  unresolved?: Record<string, LookupFailure>;
  /** The configured gateway the default route used when the last cycle ended. */
  active?: string;
  /** Recent probes per gateway: a bounded rolling window for status and metrics. */
  samples?: Record<string, ProbeSample[]>;
  totals?: Totals;
  /** How long the last cycle took until it saved the state (hooks run after), ms. */
  lastCycleMs?: number;
  pendingHooks?: PendingHooks;
  /** A default route netgwm did not set that the kernel used instead of netgwm's, while it is in the table (logged once). */
  foreignDefault?: string;
  /** Hooks not run because someone else could have written them, and why: each is logged once. */
  refusedHooks?: Record<string, string>;
  /** `auto` gateways: the address the last cycle resolved from the kernel (status shows it; a change is logged). */
  addresses?: Record<string, string>;
}

export function emptyState(): State {
  return { version: 1, gateways: {}, resolved: {} };
}
