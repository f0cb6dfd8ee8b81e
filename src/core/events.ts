// What the decision has to say, as events the log turns into lines (see src/log/events.ts).
import type { GatewayObservation } from './types.js';

export type CoreEvent =
  | { kind: 'gateway-up'; gateway: string; observation: GatewayObservation; wasKnown: boolean }
  | { kind: 'gateway-down'; gateway: string; observation: GatewayObservation; wasKnown: boolean }
  | { kind: 'all-down'; current?: string }
  | { kind: 'recovered'; downForMs: number }
  | { kind: 'pinned-down'; gateway: string }
  | { kind: 'clock-went-back'; byMs: number };
