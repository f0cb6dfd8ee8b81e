// The status document as the page's summary and gateway cards. Every state is a word and a
// symbol as well as a colour, so it reads without colour.
import { formatDuration } from '../../core/decide.js';
import type { GatewayStatus, StatusDocument } from './api.js';
import { clock, h } from './dom.js';

type Decision = Pick<StatusDocument, 'active' | 'all_down_since' | 'last_switch'> & { mode: string };

const SYMBOL: Record<GatewayStatus['health'], string> = { up: '▲', degraded: '◆', down: '▼', unknown: '?' };

/** `ago` for a duration in seconds. */
const ago = (seconds: number) => `${formatDuration(seconds * 1000)} ago`;

export function summaryView(doc: StatusDocument): HTMLElement[] {
  const problems = doc.config_problems.map((problem) => h('p', 'alert', `⚠ ${doc.config_file}: ${problem}`));
  if (!doc.has_state && !doc.ipv6?.has_state)
    return [
      ...problems,
      h('p', 'alert', `⚠ No status yet: ${doc.state_problem ?? `${doc.state_file} does not exist yet`}. Is the daemon running?`),
    ];
  const families = doc.ipv6 ? [decisionView(doc, 'IPv4 '), decisionView(doc.ipv6, 'IPv6 ')] : [decisionView(doc, '')];
  const cycle = doc.last_cycle;
  const old = cycle?.old ? h('p', 'alert', `⚠ The last cycle was ${ago(cycle.age_s)}: is the daemon running?`) : null;
  return [...problems, ...families, ...(old ? [old] : [])];
}

function decisionView(decision: Decision, family: string): HTMLElement {
  const active = decision.active
    ? h('p', 'active-line', `${family ? `${family}traffic` : 'Traffic'} goes via `, h('strong', 'active-name', decision.active))
    : h('p', 'active-line alert', `⚠ ${family ? `${family}traffic` : 'Traffic'} uses no configured gateway`);
  const last = decision.last_switch;
  const why = last
    ? `Since ${clock(last.at)} (${ago(last.age_s)}): ${last.from ?? 'none'} → ${last.to}${last.reason ? `, ${last.reason}` : ''}${last.incomplete.length > 0 ? ` (incomplete: ${last.incomplete.join(', ')})` : ''}`
    : 'No switch recorded: the best gateway since the start.';
  const mode = decision.mode === 'auto' ? 'Mode: automatic' : `Mode: 📌 pinned to ${decision.mode} (netgwm use)`;
  return h(
    'div',
    'decision card',
    active,
    h('p', 'why', why),
    h('p', 'mode', mode),
    decision.all_down_since
      ? h('p', 'alert', `⚠ All ${family}gateways down since ${clock(decision.all_down_since)}; the route was kept.`)
      : null,
  );
}

export function gatewayCard(gateway: GatewayStatus, showFamily: boolean): HTMLElement {
  const title = h(
    'h3',
    'gateway-name',
    gateway.name,
    showFamily ? h('span', 'family', ` IPv${gateway.family}`) : null,
    gateway.active ? h('span', 'badge badge-active', '★ active') : null,
    gateway.pinned ? h('span', 'badge badge-pinned', '📌 pinned') : null,
  );
  const state = h('p', `state state-${gateway.health}`, `${SYMBOL[gateway.health]} ${gateway.reason ?? gateway.health}`);
  return h(
    'article',
    `gateway card health-${gateway.health}${gateway.active ? ' is-active' : ''}`,
    title,
    state,
    h('dl', 'facts', ...facts(gateway).flatMap(([term, value]) => [h('dt', '', term), h('dd', '', value)])),
  );
}

function facts(g: GatewayStatus): Array<[string, string]> {
  const ms = (value: number | null) => (value === null ? '–' : `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`);
  const stable =
    g.state !== 'up' ? '–' : g.stable ? 'yes' : g.stable_in_s === null ? 'at its next probe' : `in ${formatDuration(g.stable_in_s * 1000)}`;
  const rows: Array<[string, string]> = [
    ['Since', g.since === null ? 'never probed' : `${clock(g.since)} (${formatDuration((g.for_s ?? 0) * 1000)})`],
    ['Stable', stable],
    ['RTT', `${ms(g.rtt_ms.last)} (mean ${ms(g.rtt_ms.mean)}, max ${ms(g.rtt_ms.max)})`],
    ['Loss', g.loss.ratio === null ? '–' : `${Math.round(g.loss.ratio * 100)} % of ${g.loss.sent}`],
    ['Sites', g.sites_probed === null ? '–' : `${g.sites_answered}/${g.sites_probed} answered`],
    ['Checked', g.checked_age_s === null ? 'never' : `${ago(g.checked_age_s)}${g.fresh ? '' : ' (not in the last cycle)'}`],
  ];
  return g.ip ? [['Via', `${g.ip}${g.dev ? ` dev ${g.dev}` : ''}`], ...rows] : rows;
}
