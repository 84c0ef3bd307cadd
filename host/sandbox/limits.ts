/**
 * Time and memory limits for one module instance, enforced in the calling
 * thread. Core modules are metered at load (meter.ts): every function entry
 * and loop iteration burns one unit of fuel, and an empty tank calls back
 * into the host, which refills it or, past the deadline, leaves it empty: the
 * inserted check then executes `unreachable`, a trap the guest cannot catch
 * (an exception thrown from the import could be swallowed by the guest's own
 * catch_all and retried). So an
 * infinite loop in open-session, close-session or start-up code stops within
 * its limit plus one fuel slice, at the cost of a global decrement per loop
 * iteration instead of a worker round trip per call.
 */
import { FUEL_EXPORT, OUT_OF_FUEL, SANDBOX_MODULE } from './meter.js';

/** Fuel between two clock checks: small enough to stop within about a millisecond. */
const SLICE = 200_000;

/** Thrown through the guest's frames when a call runs past its deadline. */
export class TimeLimitExceeded extends Error {
  constructor(readonly limitMs: number) {
    super(`ran past its time limit of ${limitMs} ms`);
  }
}

export class InstanceMeter {
  private readonly tanks: WebAssembly.Global[] = [];
  private deadline = 0;
  private limitMs = 0;
  /** Set when the last armed call ran out of time: its trap is a timeout. */
  timedOut = false;

  /** For the loader's `instantiate`: wires each core instance to this meter. */
  readonly instantiateCore = (module: WebAssembly.Module, imports: WebAssembly.Imports): WebAssembly.Instance => {
    let tank: WebAssembly.Global | undefined;
    const outOfFuel = () => {
      if (performance.now() > this.deadline) {
        this.timedOut = true;
        return;
      }
      if (tank) tank.value = SLICE;
    };
    const instance = new WebAssembly.Instance(module, { ...imports, [SANDBOX_MODULE]: { [OUT_OF_FUEL]: outOfFuel } });
    const exported = instance.exports[FUEL_EXPORT];
    if (exported instanceof WebAssembly.Global) {
      tank = exported;
      tank.value = SLICE;
      this.tanks.push(tank);
    }
    return instance;
  };

  /** Starts the clock for one call (or an instantiation) of at most `limitMs`. */
  arm(limitMs: number): void {
    this.limitMs = limitMs;
    this.deadline = performance.now() + limitMs;
    this.timedOut = false;
    for (const t of this.tanks) t.value = SLICE;
  }

  /** The error to report for `e`, thrown by a call this meter armed. */
  explain(e: unknown): unknown {
    return this.timedOut ? new TimeLimitExceeded(this.limitMs) : e;
  }
}

/** Fuel a module starts with, so start-up code runs until its first clock check. */
export const INITIAL_FUEL = SLICE;
