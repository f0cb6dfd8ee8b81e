// examples/grafana/netgwm.json queries only what netgwm's /metrics serves.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { renderMetrics } from '../../../src/report/metrics.js';
import { statusDocument } from '../../../src/report/status-document.js';
import { input } from './fixtures.js';

const DASHBOARD = new URL('../../../examples/grafana/netgwm.json', import.meta.url);

/** Every PromQL expression of the dashboard: panel targets, annotations and variable queries. */
function expressions(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(expressions);
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([key, value]) =>
    (key === 'expr' || key === 'definition') && typeof value === 'string' ? [value] : expressions(value),
  );
}

describe('the Grafana dashboard', () => {
  it('queries only metrics that renderMetrics serves', async () => {
    const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as unknown;
    const queried = new Set(expressions(dashboard).flatMap((expr) => expr.match(/\bnetgwm_\w+/g) ?? []));
    expect(queried.size).toBeGreaterThan(10);
    const served = new Set([...(await renderMetrics(statusDocument(input))).matchAll(/^# TYPE (\w+) /gm)].map((match) => match[1]));
    expect([...queried].filter((name) => !served.has(name))).toEqual([]);
  });
});
