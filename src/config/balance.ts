// Cross-field checks of balanced tiers (`weight`, `sticky`) and policy `rules`, done once at
// load time: a share or a rule must never name a gateway whose marked packets have nowhere to go.
import { DEFAULT_POLICY } from '../core/balance.js';
import type { ConfigFile, GatewayFile } from './schema.js';

type NamedGateway = GatewayFile & { name: string };

/** `[key.path, message]` pairs (a `table` that does not resolve is reported by ./firewall.ts). */
export function checkBalance(file: ConfigFile, gateways: NamedGateway[]): Array<[string, string]> {
  const problems: Array<[string, string]> = [];
  const at = (key: string, message: string) => problems.push([key, message]);
  const nftables = file.nftables?.enabled === true;
  const tierOf = (priority: number) => gateways.filter((gateway) => gateway.priority === priority);
  /** A gateway that new connections may get by mark needs its own table, or they follow the main route. */
  const needsTable = (gateway: NamedGateway, why: string) => {
    if (gateway.table === undefined)
      at(
        `gateways.${gateway.name}.table`,
        `missing; ${why}, so its marked connections need the uplink's own routing table (e.g. table: ${gateway.name}, declared in rt_tables)`,
      );
  };

  for (const gateway of gateways) {
    const tier = tierOf(gateway.priority);
    if (tier.length < 2) {
      if (gateway.sticky !== undefined)
        at(`gateways.${gateway.name}.sticky`, `only members of a balanced tier (gateways of one priority with a weight) are sticky`);
      continue;
    }
    // Each tier once; a shared priority without weights is reported by load.ts.
    if (tier[0] !== gateway || tier.some((member) => member.weight === undefined)) continue;
    const names = tier.map((member) => member.name).join(', ');
    if (!nftables)
      at(`gateways.${gateway.name}.weight`, `the balanced tier ${gateway.priority} (${names}) needs the nftables section, enabled`);
    for (const member of tier) needsTable(member, `${member.name} is in the balanced tier ${gateway.priority}`);
    const sticky = new Set(tier.map((member) => member.sticky));
    if (sticky.size > 1)
      at(
        `gateways.${tier.find((member) => member.sticky !== gateway.sticky)?.name ?? gateway.name}.sticky`,
        `the members of tier ${gateway.priority} (${names}) must have the same sticky (or none), got ${[...sticky].map((value) => value ?? 'none').join(' and ')}`,
      );
  }

  (file.rules ?? []).forEach((rule, index) => {
    const key = `rules.${index}.use`;
    if (!nftables) at(`rules.${index}`, 'rules need the nftables section, enabled (they are rendered into netgwm’s nft table)');
    const use = rule.use;
    if (use === DEFAULT_POLICY) return;
    if (typeof use === 'object' && !Array.isArray(use)) {
      const tier = tierOf(use.tier);
      if (tier.length === 0)
        at(
          key,
          `expected the priority of a tier, got ${use.tier}; the gateways have ${[...new Set(gateways.map((g) => g.priority))].join(', ')}`,
        );
      for (const member of tier) needsTable(member, `rule ${index + 1} uses tier ${use.tier}`);
      return;
    }
    for (const name of typeof use === 'string' ? [use] : use) {
      const gateway = gateways.find((candidate) => candidate.name === name);
      if (!gateway)
        at(
          key,
          `expected "default", a gateway (${gateways.map((g) => g.name).join(', ')}), a list of them or {tier: PRIORITY}, got ${JSON.stringify(name)}`,
        );
      else needsTable(gateway, `rule ${index + 1} uses ${name}`);
    }
  });
  return problems;
}
