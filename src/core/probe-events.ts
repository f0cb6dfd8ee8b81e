// What the daemon's monitor observed, as a stream of events: the recorder writes it
// (src/state/recorder.ts), a recording or a scripted scenario replays it through the same code.
import type { Echo } from './health.js';

/** What the monitor saw, in the order it saw it: what a replay feeds to the same code. Times: epoch ms. */
export type ProbeEvent =
  /** One round of one gateway: sent at `at`, settled (every echo answered or timed out) at `settledAt`. */
  | { kind: 'round'; gateway: string; at: number; settledAt: number; echoes: Echo[] }
  /** Carrier of a gateway's device lost (`up: false`, also when the device vanished) or back. */
  | { kind: 'link'; gateway: string; dev: string; up: boolean; at: number };
