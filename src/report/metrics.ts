// The status document in Prometheus' text format, built with prom-client so that names, label
// escaping and HELP/TYPE lines follow the format. prom-client is loaded on first use: a cycle
// without metrics configured never loads it. It is required, not imported: a load that failed
// (EMFILE while descriptors ran out) is tried again next time, where import() would keep failing.
import { createRequire } from 'node:module';
import type { DecisionStatus, GatewayStatus, StatusDocument } from './status-document.js';

const requireModule = createRequire(import.meta.url);

type Value = (gateway: GatewayStatus) => number | null;

/** Per-gateway series (label `gateway`); a null value leaves the series out (e.g. no RTT yet). */
const GATEWAY_SERIES: Array<[name: string, help: string, value: Value]> = [
  [
    'netgwm_gateway_up',
    '1 when the gateway answered its last probe, 0 when it did not (absent: never probed)',
    (g) => (g.state === 'unknown' ? null : Number(g.state === 'up')),
  ],
  ['netgwm_gateway_active', '1 for the gateway the default route uses', (g) => Number(g.active)],
  ['netgwm_gateway_stable', '1 when the gateway has been up for min_uptime seconds', (g) => Number(g.stable)],
  ['netgwm_gateway_priority', 'Configured priority (1 = most preferred)', (g) => g.priority],
  ['netgwm_gateway_state_seconds', 'Seconds the gateway has been in its current up/down state', (g) => g.for_s],
  ['netgwm_gateway_last_check_timestamp_seconds', 'When the gateway was last probed (Unix time)', (g) => unixSeconds(g.checked_at)],
  ['netgwm_gateway_rtt_seconds', 'Mean round-trip time of the last probe', (g) => seconds(g.rtt_ms.last)],
  ['netgwm_gateway_rtt_mean_seconds', 'Mean round-trip time over the rolling window', (g) => seconds(g.rtt_ms.mean)],
  ['netgwm_gateway_rtt_max_seconds', 'Highest per-probe mean round-trip time over the rolling window', (g) => seconds(g.rtt_ms.max)],
  ['netgwm_gateway_loss_ratio', 'Echo requests without a reply / echo requests sent, over the rolling window', (g) => g.loss.ratio],
  ['netgwm_gateway_window_echoes', 'Echo requests sent in the rolling window (what loss_ratio is based on)', (g) => g.loss.sent],
  ['netgwm_gateway_weight', 'Configured weight of a member of a balanced tier (absent: not in one)', (g) => g.weight],
  [
    'netgwm_gateway_share_ratio',
    "Part of its balanced tier's new connections the gateway gets now (0: out of the share; absent: not in a tier)",
    (g) => g.share,
  ],
];

/**
 * @param connections tracked connections per gateway (by its mark), when netgwm marks them;
 * counted by the caller at the time of the scrape or report.
 */
export async function renderMetrics(doc: StatusDocument, connections?: Record<string, number>): Promise<string> {
  const { Counter, Gauge, Registry } = requireModule('prom-client') as typeof import('prom-client');
  const registry = new Registry();
  for (const [name, help, value] of GATEWAY_SERIES) {
    const gauge = new Gauge({ name, help, labelNames: ['gateway', 'family'], registers: [registry] });
    for (const gateway of doc.gateways) {
      const number = value(gateway);
      if (number !== null) gauge.set({ gateway: gateway.name, family: String(gateway.family) }, number);
    }
  }
  // Per site of each gateway's last probe (labels `site`, its key, and `method`).
  const siteLabels = ['gateway', 'family', 'site', 'method'];
  const answered = new Gauge({
    name: 'netgwm_site_answered',
    help: "1 when the check site answered the gateway's last probe, 0 when it did not",
    labelNames: siteLabels,
    registers: [registry],
  });
  const rtt = new Gauge({
    name: 'netgwm_site_rtt_seconds',
    help: "Round-trip time of the check site in the gateway's last probe (connect, response or answer time for tcp, http, dns)",
    labelNames: siteLabels,
    registers: [registry],
  });
  for (const gateway of doc.gateways) {
    for (const site of gateway.sites) {
      const labels = { gateway: gateway.name, family: String(gateway.family), site: site.site, method: site.method };
      answered.set(labels, Number(site.answered));
      const value = seconds(site.rtt_ms);
      if (value !== null) rtt.set(labels, value);
    }
  }
  if (connections) {
    const gauge = new Gauge({
      name: 'netgwm_gateway_connections',
      help: "Tracked connections carrying the gateway's mark (conntrack, counted when the metrics were rendered)",
      labelNames: ['gateway'],
      registers: [registry],
    });
    for (const [gateway, count] of Object.entries(connections)) gauge.set({ gateway }, count);
  }
  // Each family's decision has its own series (label `family`).
  const decisions: Array<[string, DecisionStatus]> = [
    ...(doc.families.includes(4) ? [['4', doc] as [string, DecisionStatus]] : []),
    ...(doc.ipv6 ? [['6', doc.ipv6] as [string, DecisionStatus]] : []),
  ];
  const perFamily = (name: string, help: string, value: (decision: DecisionStatus) => number | null) => {
    const gauge = new Gauge({ name, help, labelNames: ['family'], registers: [registry] });
    for (const [family, decision] of decisions) {
      const number = value(decision);
      if (number !== null) gauge.set({ family }, number);
    }
  };
  perFamily('netgwm_all_down', '1 while no gateway answers (the route is kept)', (d) => Number(d.all_down_since !== null));
  perFamily('netgwm_last_cycle_timestamp_seconds', 'When the last cycle started (Unix time)', (d) => unixSeconds(d.last_cycle?.at ?? null));
  perFamily('netgwm_last_cycle_duration_seconds', 'How long the last cycle took until it saved its state (hooks excluded)', (d) =>
    seconds(d.last_cycle?.duration_ms ?? null),
  );
  const counter = (name: string, help: string, value: (decision: DecisionStatus) => number) => {
    const series = new Counter({ name, help, labelNames: ['family'], registers: [registry] });
    for (const [family, decision] of decisions) series.inc({ family }, value(decision));
  };
  counter('netgwm_switches_total', 'Default route switches the kernel accepted (kept across restarts)', (d) => d.totals.switches);
  counter(
    'netgwm_hook_failures_total',
    'post-replace.d hooks that failed or timed out (kept across restarts)',
    (d) => d.totals.hook_failures,
  );
  return registry.metrics();
}

const seconds = (ms: number | null) => (ms === null ? null : ms / 1000);
const unixSeconds = (iso: string | null) => (iso === null ? null : Date.parse(iso) / 1000);
