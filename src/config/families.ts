// IPv4 and IPv6 are decided apart: each family has its own default route, active gateway and
// decision. A gateway has family 4 when it has an `ip` (or no address at all: a device, as in
// NetGWM), family 6 when it has an `ip6`. Everything below the cycle works on a *family view*
// of the config: the gateways of one family with that family's next hop in `ip`, and the check
// sites that family can probe, so that one cycle's code serves both families.
import { siteMethod, type MethodSite } from '../core/check-site.js';
import type { Gateway } from '../core/types.js';
import { methodSiteFamilies, pingedSites, siteFamilies } from './check-sites.js';
import type { Config } from './load.js';

export type Family = 4 | 6;

/** The families a compiled gateway has: 4 with `ip`, `auto` or no address at all; 6 with `ip6`. */
export function gatewayFamilies(gateway: Pick<Gateway, 'ip' | 'auto' | 'ip6' | 'auto6'>): Family[] {
  const six = gateway.ip6 !== undefined || gateway.auto6 === true;
  const four = gateway.ip !== undefined || gateway.auto === true || !six;
  return [...(four ? [4 as const] : []), ...(six ? [6 as const] : [])];
}

/** The families some gateway has, 4 first. */
export function configFamilies(gateways: Array<Pick<Gateway, 'ip' | 'auto' | 'ip6' | 'auto6'>>): Family[] {
  const found = new Set(gateways.flatMap(gatewayFamilies));
  return ([4, 6] as const).filter((family) => found.has(family));
}

/** The check sites a family can probe: its own literals and every host name (A for 4, AAAA for 6). */
export function familySites(sites: string[], family: Family): string[] {
  return sites.filter((site) => siteFamilies(site).includes(family));
}

/** The method sites a family can probe (see methodSiteFamilies). */
export function familyMethodSites(sites: MethodSite[], family: Family): MethodSite[] {
  return sites.filter((site) => methodSiteFamilies(site).includes(family));
}

/** `[key, message]` pairs: a family with gateways and no site to probe them with, or too few for `probe.min_sites`. */
export function checkFamilies(
  file: { check_sites: string[]; method_sites: MethodSite[]; probe: { min_sites: number } },
  gateways: Array<{ name: string; ip?: string; ip6?: string; dev?: string }>,
): Array<[string, string]> {
  const problems: Array<[string, string]> = [];
  for (const family of [4, 6] as const) {
    const members = gateways.filter((gateway) => fileFamilies(gateway).includes(family));
    if (members.length === 0) continue;
    const sites = [...familySites(pingedSites(file.check_sites), family), ...familyMethodSites(file.method_sites, family)];
    const total = file.check_sites.length;
    const names = members.map((gateway) => gateway.name).join(', ');
    const kind = family === 4 ? 'an IPv4 address or a host name (A record)' : 'an IPv6 address or a host name (AAAA record)';
    if (sites.length === 0) {
      problems.push(['check_sites', `no check site can be probed over IPv${family}, which gateways ${names} use; add ${kind}`]);
    } else if (file.probe.min_sites > sites.length && file.probe.min_sites <= total) {
      problems.push([
        'probe.min_sites',
        `expected at most the number of check sites IPv${family} can probe (${sites.length}), got ${file.probe.min_sites}; no IPv${family} round could ever be good`,
      ]);
    }
  }
  return problems;
}

/** The families of a gateway as written in the file (`ip: auto` counts as an `ip`). */
function fileFamilies(gateway: { ip?: string; ip6?: string }): Family[] {
  return gatewayFamilies({ ip: gateway.ip, ip6: gateway.ip6 });
}

/**
 * The config as one family's cycle sees it: that family's gateways with its next hop in `ip` (and
 * `auto`), `family: 6` on them and on the config for IPv6, and the check sites it can probe. A
 * `mode` naming a gateway this family does not have leaves this family automatic.
 */
export function familyView(config: Config, family: Family): Config {
  const gateways = config.gateways.filter((gateway) => gatewayFamilies(gateway).includes(family)).map((gateway) => viewOf(gateway, family));
  const mode =
    config.mode === undefined || config.mode === 'auto' || gateways.some((gateway) => gateway.name === config.mode) ? config.mode : 'auto';
  const methodSites = familyMethodSites(config.method_sites, family);
  const methodKeys = new Set(methodSites.map((site) => site.key));
  const view: Config = {
    ...config,
    gateways,
    check_sites: config.check_sites.filter((key) =>
      siteMethod(key) === 'icmp' ? siteFamilies(key).includes(family) : methodKeys.has(key),
    ),
    method_sites: methodSites,
    mode,
    families: [family],
  };
  if (mode === undefined) delete view.mode;
  if (family === 6) view.family = 6;
  return view;
}

function viewOf(gateway: Gateway, family: Family): Gateway {
  const { ip, auto, ip6, auto6, ...rest } = gateway;
  if (family === 4) return { ...(ip !== undefined && { ip }), ...rest, ...(auto && { auto }) };
  return { ...(ip6 !== undefined && { ip: ip6 }), ...rest, ...(auto6 && { auto: true as const }), family: 6 };
}

/** `isp1` for IPv4, `isp1/6` for IPv6: a gateway's path where both families are watched at once (the daemon's monitor). */
export function pathKey(name: string, family: Family | undefined): string {
  return family === 6 ? `${name}/6` : name;
}
