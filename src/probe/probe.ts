// Probing one gateway: point the check table at it, then ping every site at once through it.
import type { Gateway } from '../core/types.js';
import { CommandError } from '../errors.js';
import { describeRoute } from '../log/events.js';
import type { GatewayObservation } from '../core/types.js';
import { addProbeRule, closeCheckTable, routeProbesVia, type CheckTable } from '../system/check-table.js';
import type { Exec } from '../system/exec.js';
import type { PingOptions, PingResult } from './icmp.js';
import type { ProbeTarget } from './resolve.js';

export type Ping = (address: string, options: PingOptions) => Promise<PingResult>;

export interface Prober {
  probeGateway(gateway: Gateway, targets: ProbeTarget[]): Promise<GatewayObservation>;
  /** Removes the probe rule and route; call it in a `finally`. */
  close(): Promise<void>;
}

export function createProber(exec: Exec, table: CheckTable, ping: Ping, options: Omit<PingOptions, 'mark'>): Prober {
  let opened = false;
  let routed = false; // whether the check table holds a default route now
  return {
    async probeGateway(gateway, targets) {
      if (!opened) {
        opened = true; // set first: a half-done open must still be closed
        await addProbeRule(exec, table);
      }
      try {
        await routeProbesVia(exec, table, gateway, routed);
        routed = true;
      } catch (error) {
        routed = false; // `ip -batch` stops at the failed add, after the delete
        // E.g. its link is down: the kernel has no way to the gateway, so it is down.
        const why = error instanceof CommandError ? error.stderr.replace(/^Command failed.*$/m, '').trim() : String(error);
        return {
          up: false,
          sites: targets.map((target) => ({ site: target.site, answered: false })),
          error: `no route ${describeRoute(gateway)}: ${why}`,
        };
      }
      const sites = await Promise.all(
        targets.map(async (target) => {
          if (!target.address) return { site: target.site, answered: false, skipped: target.skipped ?? 'no address' };
          const result = await ping(target.address, { ...options, mark: table.mark });
          return {
            site: target.site,
            address: target.address,
            answered: result.answered,
            rttMs: result.rttMs,
            replies: result.replies,
            sent: result.sent,
          };
        }),
      );
      return { up: sites.some((site) => site.answered), sites };
    },
    async close() {
      if (opened) await closeCheckTable(exec, table);
      opened = routed = false;
    },
  };
}
