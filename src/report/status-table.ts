// `netgwm status`: the status document as a table a person reads at a glance.
import { formatDuration } from '../core/decide.js';
import { reasonDetail } from '../core/health.js';
import { escapeControl } from '../log/escape.js';
import { localTime } from '../log/time.js';
import type { GatewayStatus, StatusDocument } from './status-document.js';
import { paint, type Paint } from './paint.js';

export function statusTable(doc: StatusDocument, color: boolean): string {
  const p = paint(color);
  // The problems themselves are on stderr, above.
  const broken =
    doc.config_problems.length > 0
      ? [p.red(`${doc.config_file} does not load (see above)${doc.has_state ? '; below is the state the last cycle recorded' : ''}.`)]
      : [];
  if (!doc.has_state && !doc.ipv6?.has_state) {
    const why = doc.state_problem
      ? `the state file ${doc.state_file} is unusable (${doc.state_problem})`
      : `${doc.state_file} does not exist yet`;
    return [
      ...broken,
      ...roleLines(doc, p),
      `${p.yellow('No status yet:')} ${why}.`,
      'netgwm records what it sees when a cycle ends; run `netgwm run` or start the daemon, then ask again.',
      '',
    ].join('\n');
  }
  const lines = [
    ...broken,
    ...roleLines(doc, p),
    ...(doc.has_state ? summaryLines(doc, p) : []),
    ...ipv6Lines(doc, p),
    '',
    ...gatewayTable(doc, p),
    ...shareLines(doc, p),
  ];
  lines.push(
    '',
    p.dim(
      `RTT: last probe; MEAN/MAX and LOSS: the last ${doc.window.max_probes} site probes or ${formatDuration(doc.window.max_age_s * 1000)} of each gateway. Totals: ${doc.totals.switches} switches, ${doc.totals.hook_failures} hook failures.`,
    ),
  );
  return `${lines.join('\n')}\n`;
}

function summaryLines(doc: StatusDocument, p: Paint): string[] {
  const cycle = doc.last_cycle!;
  const took = cycle.duration_ms === null ? '' : `, took ${cycle.duration_ms} ms`;
  const mode = describeMode(doc, p);
  const lines = [
    `Active: ${doc.active ? p.bold(doc.active) : p.red('none (the default route uses no configured gateway)')}   Mode: ${mode}`,
    `Last cycle: ${when(cycle.at, cycle.age_s)}${took}${cycle.old ? p.red(' (old: is the cron job or the daemon running?)') : ''}`,
  ];
  const last = doc.last_switch;
  lines.push(
    last
      ? `Last switch: ${when(last.at, last.age_s)}, ${escapeControl(`${last.from ?? 'none'} -> ${last.to}: ${last.reason}`)}${last.incomplete.length > 0 ? p.red(` (incomplete: ${last.incomplete.join(', ')})`) : ''}`
      : 'Last switch: none recorded',
  );
  if (doc.all_down_since) lines.push(p.red(`All gateways down since ${localTime(new Date(doc.all_down_since))}; the route was kept.`));
  return lines;
}

/** This router's role in its HA pair, with `cluster:`: it decides whether hooks run here. */
function roleLines(doc: StatusDocument, p: Paint): string[] {
  const cluster = doc.cluster;
  if (!cluster) return [];
  const hooks = cluster.runs_hooks ? 'hooks run here' : 'hooks run on the master only';
  const role =
    cluster.role === null
      ? p.yellow('unknown (keepalived has not called `netgwm role` yet), as backup')
      : cluster.role === 'master'
        ? p.bold('master')
        : p.yellow(cluster.role);
  return [`HA role: ${role}; ${hooks}`];
}

/** The IPv6 decision, under the IPv4 one (the document's own fields), when some gateway has IPv6. */
function ipv6Lines(doc: StatusDocument, p: Paint): string[] {
  const six = doc.ipv6;
  if (!six) return [];
  if (!six.has_state) return [p.yellow(`IPv6: no status yet (${six.state_problem ?? `${six.state_file} does not exist yet`}).`)];
  const mode = six.mode === 'auto' ? 'auto' : p.yellow(`pinned to ${six.mode}`);
  const last = six.last_switch;
  return [
    `IPv6 active: ${six.active ? p.bold(six.active) : p.red('none (the IPv6 default route uses no configured gateway)')}   Mode: ${mode}`,
    last
      ? `IPv6 last switch: ${when(last.at, last.age_s)}, ${escapeControl(`${last.from ?? 'none'} -> ${last.to}: ${last.reason}`)}${last.incomplete.length > 0 ? p.red(` (incomplete: ${last.incomplete.join(', ')})`) : ''}`
      : 'IPv6 last switch: none recorded',
    ...(six.all_down_since ? [p.red(`All IPv6 gateways down since ${localTime(new Date(six.all_down_since))}; the route was kept.`)] : []),
  ];
}

/** `auto`, `pinned to isp2`, and where it comes from when that is not plain automatic choice. */
function describeMode(doc: StatusDocument, p: Paint): string {
  const mode = doc.mode === 'auto' ? 'auto' : p.yellow(`pinned to ${doc.mode}`);
  if (doc.mode_source === 'use') return `${mode} (netgwm use)`;
  if (doc.mode_source === 'default')
    return doc.mode_file === null ? mode : `${mode} ${p.yellow(`(the mode file names "${doc.mode_file}", not a gateway: ignored)`)}`;
  const overridden = doc.mode_file !== null && doc.mode_file !== doc.mode;
  return `${mode} (the config's mode)${overridden ? p.yellow(`; it overrides \`netgwm use ${doc.mode_file}\``) : ''}`;
}

const HEADER = ['', 'GATEWAY', 'PRIO', 'ROUTE', 'STATE', 'FOR', 'STABLE', 'RTT', 'MEAN/MAX', 'LOSS', 'SITES', 'CHECKED', 'WHY'];

function gatewayTable(doc: StatusDocument, p: Paint): string[] {
  // With IPv6, a column says which family a row is (a dual-stack gateway has a row for each).
  const header = doc.ipv6 ? [...HEADER.slice(0, 2), 'IP', ...HEADER.slice(2)] : HEADER;
  const rows = doc.gateways.map((gateway) => {
    const row = gatewayRow(gateway, p);
    return doc.ipv6 ? [...row.slice(0, 2), { text: `v${gateway.family}`, shown: `v${gateway.family}` }, ...row.slice(2)] : row;
  });
  const cells = [header.map((title) => ({ text: title, shown: p.bold(title) })), ...rows];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => row[column]!.text.length)));
  return cells.map((row) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell.shown : cell.shown + ' '.repeat(widths[column]! - cell.text.length)))
      .join('  ')
      .trimEnd(),
  );
}

interface Cell {
  /** Plain text, for the column width. */
  text: string;
  /** The text as printed, maybe with colour codes. */
  shown: string;
}

function gatewayRow(g: GatewayStatus, p: Paint): Cell[] {
  const cell = (text: string, style: (text: string) => string = (t) => t): Cell => ({ text, shown: style(text) });
  const stateStyle = g.health === 'up' ? p.green : g.health === 'down' ? p.red : p.yellow;
  const ms = (value: number | null) => (value === null ? '-' : value < 10 ? value.toFixed(2) : value.toFixed(1));
  // `?` for a gateway the last cycle did not probe: its next probe starts the count again.
  const stable = g.state !== 'up' ? '-' : g.stable ? 'yes' : g.stable_in_s === null ? '?' : `in ${formatDuration(g.stable_in_s * 1000)}`;
  const loss = g.loss.ratio === null ? '-' : `${Math.round(g.loss.ratio * 100)}% of ${g.loss.sent}`;
  const checked = g.checked_age_s === null ? 'never' : `${formatDuration(g.checked_age_s * 1000)} ago`;
  return [
    cell(g.active ? '*' : ' ', p.bold),
    cell(g.name, g.active ? p.bold : undefined),
    cell(g.priority === null ? '?' : String(g.priority)),
    cell([g.ip && `via ${g.ip}`, g.dev && `dev ${g.dev}`].filter(Boolean).join(' ')),
    cell(g.pinned ? `${g.health} (pinned)` : g.health, stateStyle),
    cell(g.for_s === null ? '-' : formatDuration(g.for_s * 1000)),
    cell(stable, g.stable ? undefined : p.yellow),
    cell(g.rtt_ms.last === null ? '-' : `${ms(g.rtt_ms.last)} ms`),
    cell(g.rtt_ms.mean === null ? '-' : `${ms(g.rtt_ms.mean)}/${ms(g.rtt_ms.max)} ms`),
    cell(loss, (g.loss.ratio ?? 0) >= 0.2 ? p.red : (g.loss.ratio ?? 0) > 0 ? p.yellow : undefined),
    cell(g.sites_probed === null ? '-' : `${g.sites_answered}/${g.sites_probed}`),
    cell(g.fresh || g.checked_age_s === null ? checked : `${checked} (old)`, g.fresh ? undefined : p.dim),
    // The state is in its own column: the reason says why.
    cell(g.reason === null ? '-' : escapeControl(reasonDetail(g.reason))),
  ];
}

/**
 * `Tier 1 (default): isp1 75 % up, isp2 out (down)` per balanced tier, then where each rule's
 * connections go: the shares the last cycle loaded into the nft table.
 */
function shareLines(doc: StatusDocument, p: Paint): string[] {
  if (doc.tiers.length === 0 && doc.rules.length === 0) return [];
  const tiers = doc.tiers.map((tier) => {
    const members = tier.members.map((member) =>
      member.in_share
        ? `${member.name} ${Math.round(member.share * 1000) / 10} % ${member.state}`
        : p.yellow(`${member.name} out (${member.state})`),
    );
    return `Tier ${tier.priority}${tier.default ? ' (default)' : ''}: ${members.join(', ')}`;
  });
  const rules = doc.rules.map(
    (rule) =>
      `Rule ${rule.rule} (${escapeControl(rule.use)}): ${rule.gateway ?? (rule.use === 'default' || rule.use.startsWith('tier ') ? rule.use : 'none up, follows the default')}`,
  );
  return ['', ...tiers, ...rules];
}

/** `2026-11-26 10:00:00 (5m02s ago)` in local time, like the log. */
function when(at: string, ageS: number): string {
  return `${localTime(new Date(at)).slice(0, 19)} (${formatDuration(ageS * 1000)} ago)`;
}
