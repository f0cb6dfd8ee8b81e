// `netgwm history`: switches and outages as lines a person reads, oldest first.
import { formatDuration } from '../core/decide.js';
import { escapeControl } from '../log/escape.js';
import { localTime } from '../log/time.js';
import type { HistoryDocument } from './history.js';
import type { Paint } from './paint.js';

export function historyTable(doc: HistoryDocument, p: Paint): string {
  if (doc.entries.length === 0) return 'No switches or outages recorded yet (in the state or the log).\n';
  // Names and reasons come from the log and the state: whatever they hold stays on its line and
  // cannot colour the terminal; the colours are added after.
  const lines = doc.entries.map(escapeEntry).map((entry) => {
    const at = localTime(new Date(entry.at)).slice(0, 19);
    if (entry.kind === 'outage') {
      const lasted = entry.ongoing
        ? p.red(`ongoing for ${formatDuration(entry.duration_s * 1000)}`)
        : `lasted ${formatDuration(entry.duration_s * 1000)}`;
      return `${at}  ${p.red('all down')}  ${family(entry)}${lasted}; route kept${entry.current ? ` on ${entry.current}` : ''}`;
    }
    const stay = `on ${entry.to} for ${formatDuration(entry.on_to_s * 1000)}${entry.ongoing ? ' so far' : ''}`;
    return `${at}  ${p.bold('switch')}    ${family(entry)}${entry.from ?? 'none'} -> ${entry.to} (${stay})${entry.reason ? `: ${entry.reason}` : ''}`;
  });
  return `${lines.join('\n')}\n`;
}

type Entry = HistoryDocument['entries'][number];

/** `IPv6 ` before an IPv6 decision's entry; IPv4 entries read as they always did. */
const family = (entry: Entry) => (entry.family === 6 ? 'IPv6 ' : '');

function escapeEntry(entry: Entry): Entry {
  if (entry.kind === 'outage') return { ...entry, current: entry.current && escapeControl(entry.current) };
  return { ...entry, from: entry.from && escapeControl(entry.from), to: escapeControl(entry.to), reason: escapeControl(entry.reason) };
}
