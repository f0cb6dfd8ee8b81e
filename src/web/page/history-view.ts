// The latest switches and outages, newest first (`netgwm history`).
import { formatDuration } from '../../core/decide.js';
import type { HistoryEntry } from './api.js';
import { clock, h } from './dom.js';

export function historyItem(entry: HistoryEntry, showFamily: boolean): HTMLElement {
  const family = showFamily ? ` IPv${entry.family}` : '';
  const at = h('time', 'at', clock(entry.at));
  at.dateTime = entry.at;
  if (entry.kind === 'outage') {
    const kept = entry.current ? `, the route stayed on ${entry.current}` : '';
    const lasted = entry.ongoing
      ? `for ${formatDuration(entry.duration_s * 1000)} and ongoing`
      : `for ${formatDuration(entry.duration_s * 1000)}`;
    return h('li', 'event event-outage', at, h('span', 'kind', `▒ all${family} gateways down`), ` ${lasted}${kept}`);
  }
  const stay = `${entry.ongoing ? 'still on it' : 'on it'} for ${formatDuration(entry.on_to_s * 1000)}`;
  return h(
    'li',
    'event event-switch',
    at,
    h('span', 'kind', `⇄ switch${family}`),
    ` ${entry.from ?? 'none'} → `,
    h('strong', '', entry.to),
    entry.reason ? `: ${entry.reason}` : '',
    h('span', 'stay', ` (${stay})`),
  );
}
