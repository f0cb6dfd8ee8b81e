// Placeholder for H-probes' src/probe/site-probe.ts (issue 15): only the agreed signature. The
// lead takes H-probes' file at the merge.
import type { MethodSite } from '../core/check-site.js';

export interface SiteProbePath {
  family: 4 | 6;
  ports: { from: number; to: number };
}

export interface SiteProbeResult {
  answered: boolean;
  /** connect time (tcp), time to the response status line (http), answer time (dns), ms */
  rttMs?: number;
  /** why not answered, one short line */
  error?: string;
}

export function probeSite(
  _site: MethodSite,
  _path: SiteProbePath,
  _options: { timeoutMs: number; signal?: AbortSignal },
): Promise<SiteProbeResult> {
  throw new Error('not merged yet');
}
