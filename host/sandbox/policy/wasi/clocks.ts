/**
 * Host side of wasi:clocks 0.2 (wall-clock, monotonic-clock), given only
 * with the clocks grant. Plain host time: no coarsening, as a native module
 * would see it.
 */
import { monotonicNow, Pollable } from './io.js';
import type { Datetime } from './types.js';

/** The system's time of day; Date.now() follows clock changes, as a wall clock must, in milliseconds. */
function wallNow(): Datetime {
  const ms = Date.now();
  return { seconds: BigInt(Math.floor(ms / 1000)), nanoseconds: (ms % 1000) * 1_000_000 };
}

export function clocksImports() {
  return {
    'wasi:clocks/wall-clock': {
      now: wallNow,
      resolution: (): Datetime => ({ seconds: 0n, nanoseconds: 1_000_000 }),
    },
    'wasi:clocks/monotonic-clock': {
      now: monotonicNow,
      resolution: (): bigint => 1n,
      subscribeInstant: (when: bigint) => new Pollable(when),
      subscribeDuration: (duration: bigint) => new Pollable(monotonicNow() + duration),
    },
  };
}
