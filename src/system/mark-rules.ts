// netgwm's fwmark rules (see src/core/firewall-plan.ts), read with `ip -j rule` and changed
// with one `ip -batch`, deletions first.
import { ruleWords, type MarkRule } from '../core/firewall-plan.js';
import type { Exec } from './exec.js';

interface RuleJson {
  priority: number;
  src?: string;
  table?: string;
  fwmark?: string;
  fwmask?: string;
  suppress_prefixlen?: number;
}

// Keys a rule of netgwm's shape may have; a rule with any other (iif, to, …) is someone else's.
const OUR_KEYS = new Set(['priority', 'src', 'table', 'fwmark', 'fwmask', 'suppress_prefixlen']);

/** Parses `ip -N -j -4 rule list`, keeping the rules shaped like netgwm's at preferences `prefs`. */
export function parseMarkRules(json: string, prefs: number[]): MarkRule[] {
  const rules = JSON.parse(json || '[]') as RuleJson[];
  return rules
    .filter((rule) => prefs.includes(rule.priority) && (rule.src ?? 'all') === 'all' && Object.keys(rule).every((key) => OUR_KEYS.has(key)))
    .filter((rule) => (rule.fwmark === undefined) === (rule.suppress_prefixlen === 0))
    .map((rule) => ({
      pref: rule.priority,
      table: Number(rule.table),
      ...(rule.fwmark === undefined
        ? {}
        : { fwmark: Number(rule.fwmark), mask: rule.fwmask === undefined ? 0xffffffff : Number(rule.fwmask) }),
    }));
}

export async function readMarkRules(exec: Exec, prefs: number[], family: 4 | 6 = 4): Promise<MarkRule[]> {
  return parseMarkRules((await exec('ip', ['-N', '-j', `-${family}`, 'rule', 'list'])).stdout, prefs);
}

/** Removes, then adds; each line is one rule, so install and removal are exact pairs. */
export async function changeMarkRules(exec: Exec, change: { remove: MarkRule[]; add: MarkRule[] }, family: 4 | 6 = 4): Promise<void> {
  const script = [
    ...change.remove.map((rule) => `rule del ${ruleWords(rule)}`),
    ...change.add.map((rule) => `rule add ${ruleWords(rule)}`),
  ];
  if (script.length > 0) await exec('ip', [`-${family}`, '-batch', '-'], { input: `${script.join('\n')}\n` });
}
