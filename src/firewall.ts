// The firewall steps of a cycle: keep netgwm's fwmark rules and nft table in step with the
// active gateway and, on a switch, forget the connections `conntrack.flush` names. Each step
// logs its result and says whether it worked; a failed step never stops the ones after it.
import { createHash } from 'node:crypto';
import type { Config } from './config/load.js';
import type { Gateway } from './core/types.js';
import { DEFAULT_MARK_MASK, nftablesSchema } from './config/schema.js';
import { desiredMarkRules, firewallWork, ownedPrefs, planMarkRules, ruleWords } from './core/firewall-plan.js';
import { hex, renderRemoval, renderRuleset, stickySetName } from './core/ruleset.js';
import type { FirewallRecord, State } from './core/types.js';
import type { Logger } from './log/logger.js';
import { deleteFlows, familyFilter, flushFilter } from './system/conntrack.js';
import type { Exec } from './system/exec.js';
import { changeMarkRules, readMarkRules } from './system/mark-rules.js';
import { namespaceId } from './system/netns.js';
import { listSetElements, listTable, loadRuleset, type SetElement } from './system/nft.js';
import { describeBalance, flushLeft, planBalance, rememberBalance } from './balance.js';
import type { Balance } from './core/balance.js';
import { atOnce, type InTurn } from './in-turn.js';

export interface FirewallDeps {
  exec: Exec;
  log: Logger;
  clock: () => number;
  /** A dual-stack config: what each family marks new connections with (absent: IPv4 only, as ever). */
  marking?: Marking;
}

/**
 * One nft table (family inet) marks new connections of both families: IPv4 ones with the IPv4
 * decision's gateway (or its shares), IPv6 ones with the IPv6 decision's. Each family's cycle
 * writes its part here before it renders the table, so whichever renders last renders both.
 */
export interface Marking {
  /** Every configured gateway: a gateway's mark is the same in both families. */
  gateways: Gateway[];
  /** One family's table at a time: each renders in its turn, so the last load has both decisions. */
  inTurn: InTurn;
  4?: { active?: Gateway; balance?: Balance };
  6?: { active?: Gateway };
}

/** What the table is rendered from: this family's decision, and the other family's when dual-stack. */
interface MarkingPlan {
  gateways: Gateway[];
  rules?: Config['rules'];
  active?: Gateway;
  balance?: Balance;
  ipv6?: { active?: Gateway };
}

/** Records this family's decision in the shared marking (dual-stack), before its turn to load the table. */
function noteMarking(config: Config, deps: FirewallDeps, active: Gateway | undefined, balance: Balance | undefined): void {
  if (!deps.marking) return;
  if (config.family === 6) deps.marking[6] = { active };
  else deps.marking[4] = { active, balance };
}

function markingPlan(config: Config, deps: FirewallDeps, active: Gateway | undefined, balance: Balance | undefined): MarkingPlan {
  const { marking } = deps;
  if (!marking) return { gateways: config.gateways, rules: config.rules, active, balance };
  const ipv4 = marking[4];
  return {
    gateways: marking.gateways,
    rules: config.rules,
    active: ipv4?.active,
    balance: ipv4?.balance,
    ipv6: { active: marking[6]?.active },
  };
}

type Nftables = NonNullable<Config['nftables']>;

/**
 * After the route moved: the marks first, so that the connections the flush drops come back
 * with the new gateway's mark, then conntrack. Returns the steps that failed (already logged).
 * With balanced tiers or rules, only the connections of gateways no longer given new ones are
 * flushed (see keepFirewall); otherwise what `conntrack.flush` names.
 */
export async function firewallAfterSwitch(
  config: Config,
  deps: FirewallDeps,
  state: State,
  to: Gateway,
  from: Gateway | undefined,
  mode?: string,
): Promise<string[]> {
  const failed: string[] = [];
  const kept = await keepFirewallShares(config, deps, state, to, mode);
  if (!kept.ok) failed.push('nftables');
  const flushed = kept.balanced ? await flushLeft(config, deps, kept.left) : await flushConntrack(config, deps, from);
  if (!flushed) failed.push('conntrack');
  if (failed.length > 0) deps.log.event({ kind: 'switch-incomplete', to: to.name, failed });
  return failed;
}

export interface FirewallKept {
  ok: boolean;
  /** True with balanced tiers or rules: `left` then says whose connections to flush. */
  balanced: boolean;
  /** Gateways given new connections before this and not now, once the table that says so is loaded. */
  left: string[];
}

/**
 * Brings the fwmark rules and the nft table to what the config and the active gateway ask for
 * (with balanced tiers and rules, the shares: see src/balance.ts), and records the result in
 * `state.firewall` and `state.balance`. Without an `nftables` section it touches nothing,
 * except to remove once what it loaded while the config had one.
 */
export async function keepFirewall(config: Config, deps: FirewallDeps, state: State, active: Gateway | undefined): Promise<boolean> {
  return (await keepFirewallShares(config, deps, state, active)).ok;
}

/** keepFirewall, with the shares for `mode` and what they say about the gateways that left. */
export async function keepFirewallShares(
  config: Config,
  deps: FirewallDeps,
  state: State,
  active: Gateway | undefined,
  mode?: string,
): Promise<FirewallKept> {
  const balance = planBalance(config, state, active, mode, deps.clock());
  const ok = await keepFirewallFor(config, deps, state, active, balance);
  if (!balance) {
    delete state.balance;
    return { ok, balanced: false, left: [] };
  }
  // Loaded, or nothing to load: the shares in the kernel are the ones planned.
  if (ok) rememberBalance(deps.log, state, balance);
  return { ok, balanced: true, left: ok ? balance.left : [] };
}

async function keepFirewallFor(
  config: Config,
  deps: FirewallDeps,
  state: State,
  active: Gateway | undefined,
  balance: Balance | undefined,
): Promise<boolean> {
  const previous = state.firewall;
  const nftables =
    config.nftables ??
    (previous?.table ? nftablesSchema.parse({ enabled: false, table: previous.table, rule_pref: previous.rulePref }) : undefined);
  if (!nftables) {
    // Forget what was loaded, so that a section added back later is loaded at once.
    delete state.firewall;
    return true;
  }
  const rulesOk = await keepMarkRules(config, nftables, deps, previous?.rulePref);
  noteMarking(config, deps, active, balance);
  const inTurn = deps.marking?.inTurn ?? atOnce;
  const table = await inTurn(() => keepTable(nftables, deps, previous, active, markingPlan(config, deps, active, balance)));
  const record = table.record ?? previous;
  if (record) state.firewall = { ...record, rulePref: rulesOk ? nftables.rule_pref : (previous?.rulePref ?? nftables.rule_pref) };
  return rulesOk && table.ok;
}

async function keepMarkRules(config: Config, nftables: Nftables, deps: FirewallDeps, installedPref: number | undefined): Promise<boolean> {
  const desired = nftables.enabled ? desiredMarkRules(config.gateways, nftables.mask, nftables.rule_pref) : [];
  const owned = ownedPrefs(nftables.rule_pref, installedPref);
  try {
    const family = config.family ?? 4;
    const change = planMarkRules(await readMarkRules(deps.exec, owned, family), desired, owned);
    if (change.add.length + change.remove.length === 0) return true;
    await changeMarkRules(deps.exec, change, family);
    deps.log.event({ kind: 'mark-rules-changed', added: change.add.map(ruleWords), removed: change.remove.map(ruleWords) });
    return true;
  } catch (error) {
    deps.log.event({ kind: 'mark-rules-failed', error: (error as Error).message });
    return false;
  }
}

async function keepTable(
  nftables: Nftables,
  deps: FirewallDeps,
  previous: FirewallRecord | undefined,
  active: Gateway | undefined,
  plan: MarkingPlan,
): Promise<{ ok: boolean; record?: FirewallRecord }> {
  const { exec, log } = deps;
  const { balance } = plan;
  const file = nftFile(nftables, previous, plan);
  const netns = await namespaceId();
  const now = deps.clock();
  const work = firewallWork(previous, { hash: file.hash, netns }, now, nftables.verify_interval * 1000);
  if (work === 'none') return { ok: true };
  try {
    if (work === 'verify') {
      if (listingDigest(await listTable(exec, nftables.table)) === previous!.listing)
        return { ok: true, record: { ...previous!, verifiedAt: now } };
      log.event({ kind: 'firewall-drifted', table: nftables.table });
    }
    const sources =
      balance && previous?.table === nftables.table ? await stickySources(exec, nftables.table, plan.gateways, balance) : undefined;
    await loadRuleset(exec, sources ? nftFile(nftables, previous, plan, sources).text : file.text);
    const listing = listingDigest(await listTable(exec, nftables.table));
    const mark = nftables.enabled ? active?.mark : undefined;
    log.event({
      kind: 'firewall-loaded',
      table: nftables.table,
      enabled: nftables.enabled,
      active: mark === undefined ? undefined : active!.name,
      mark,
      ...(balance && { policy: describeBalance(balance) }),
    });
    const table = nftables.enabled ? nftables.table : undefined;
    return {
      ok: true,
      record: { hash: file.hash, listing, ...(table && { table }), rulePref: nftables.rule_pref, netns, verifiedAt: now },
    };
  } catch (error) {
    log.event({ kind: 'firewall-failed', table: nftables.table, error: (error as Error).message });
    return { ok: false };
  }
}

type StickySources = Record<string, SetElement[]>;

/**
 * The sources in the sticky sets of the table about to be replaced, for the members that keep a
 * share: carried into the new table, so a reload does not move them. A member out of its share
 * has no set, so its sources are drawn again.
 */
async function stickySources(exec: Exec, table: string, gateways: Gateway[], balance: Balance): Promise<StickySources | undefined> {
  const members = Object.values(balance.shares)
    .flat()
    .map((member) => gateways.find((gateway) => gateway.name === member.name)!)
    .filter((gateway) => gateway.sticky !== undefined && gateway.mark !== undefined);
  if (members.length === 0) return undefined;
  const lists = await Promise.all(members.map((gateway) => listSetElements(exec, table, stickySetName(gateway.mark!))));
  return Object.fromEntries(members.map((gateway, index) => [gateway.name, lists[index]!]));
}

/**
 * The file to load and the hash that identifies the table it leaves. The hash leaves out the
 * removal of a previously loaded table under another name: that happens once, with the load.
 */
function nftFile(
  nftables: Nftables,
  previous: FirewallRecord | undefined,
  plan: MarkingPlan,
  sources?: StickySources,
): { text: string; hash: string } {
  const { balance } = plan;
  const render = (previousTable?: string, carried?: StickySources) =>
    nftables.enabled
      ? renderRuleset({
          table: nftables.table,
          mask: nftables.mask,
          markForwarded: nftables.mark_forwarded,
          markLocal: nftables.mark_local,
          gateways: plan.gateways,
          active: plan.active?.name,
          ...(plan.ipv6 && { ipv6: true, active6: plan.ipv6.active?.name }),
          previousTable,
          ...(balance && { policy: { balance, rules: plan.rules ?? [], ...(carried && { sources: carried }) } }),
        })
      : renderRemoval(nftables.table, previousTable);
  // The hash is the table's shape: the sources carried over change as packets come and go.
  return { text: render(previous?.table, sources), hash: digest(render()) };
}

/** The ruleset and rules netgwm would load now, for `netgwm nft --print`. */
export function describeFirewall(
  config: Config,
  state: State,
  active: Gateway | undefined,
  mode?: string,
  now = Date.now(),
  /** A dual-stack config: the gateway of the IPv6 default route. */
  ipv6?: { active?: Gateway },
): string {
  const nftables = config.nftables;
  if (!nftables) return `# ${config.file} has no nftables section: netgwm loads no nft table and adds no ip rule.\n`;
  const rules = nftables.enabled ? desiredMarkRules(config.gateways, nftables.mask, nftables.rule_pref) : [];
  const none = nftables.enabled ? 'no gateway names a table' : 'nftables.enabled is false';
  const ruleLines = rules.length > 0 ? rules.map((rule) => `#   ip rule add ${ruleWords(rule)}`) : [`#   (none: ${none})`];
  const balance = planBalance(config, state, active, mode, now);
  const activeNow =
    active?.mark === undefined ? 'none: the default route uses no configured gateway' : `${active.name}, mark ${hex(active.mark)}`;
  const shares = balance ? `# new connections: ${describeBalance(balance)}\n` : '';
  const plan = {
    gateways: config.gateways,
    rules: config.rules,
    active,
    balance,
    ...(config.families.includes(6) && { ipv6: ipv6 ?? {} }),
  };
  return `# active gateway: ${activeNow}\n${shares}${nftFile(nftables, state.firewall, plan).text}\n# netgwm's ip rules:\n${ruleLines.join('\n')}\n`;
}

/** On a switch: forgets the connections `conntrack.flush` names, in this network namespace. */
export async function flushConntrack(config: Config, deps: FirewallDeps, from: Gateway | undefined): Promise<boolean> {
  const flush = config.conntrack?.flush ?? 'none';
  if (flush === 'none') return true;
  if (flush === 'old' && from?.mark === undefined) {
    deps.log.event({ kind: 'conntrack-skipped', why: from ? `the old gateway ${from.name} has no mark` : 'there was no old gateway' });
    return true;
  }
  const filter = [...familyFlushArgs(config, deps), ...flushFilter(flush, from?.mark, config.nftables?.mask ?? DEFAULT_MARK_MASK)];
  try {
    const count = await deleteFlows(deps.exec, filter);
    deps.log.event({ kind: 'conntrack-flushed', flush, filter: filter.join(' '), count });
    return true;
  } catch (error) {
    deps.log.event({ kind: 'conntrack-failed', flush, error: (error as Error).message });
    return false;
  }
}

/** Dual-stack: `conntrack -f ipv4|ipv6`, so that a flush takes only the switching family's flows (IPv4 only: both, as ever). */
export function familyFlushArgs(config: Pick<Config, 'family'>, deps: Pick<FirewallDeps, 'marking'>): string[] {
  return familyFilter(deps.marking ? (config.family ?? 4) : undefined);
}

const digest = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);
const listingDigest = (listing: string | undefined) => (listing === undefined ? 'absent' : digest(listing));
