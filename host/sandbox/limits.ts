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
import { FUEL_EXPORT, OUT_OF_FUEL, pooledMemoryLimits, SANDBOX_MODULE } from './meter.js';

/** Fuel between two clock checks: small enough to stop within about a millisecond. */
const SLICE = 200_000;

/** Thrown through the guest's frames when a call runs past its deadline. */
export class TimeLimitExceeded extends Error {
  constructor(readonly limitMs: number) {
    super(`ran past its time limit of ${limitMs} ms`);
  }
}

const PAGE = 65536;

/**
 * Linear memories given back by instances that are gone, zeroed, by their
 * limits. A new WebAssembly.Memory costs tens of microseconds (with V8's trap
 * handler, a reservation of about 10 GiB of address space) and every page
 * the guest then touches costs a page fault; a recycled one costs neither.
 * A memory comes back only through `InstanceMeter.release()`, from an owner
 * that has dropped the instance and will not call it again, and only when it
 * never grew: it is then indistinguishable from a fresh one (same size and
 * limits, all zero; the new instance writes its own data segments).
 */
const pool = new Map<string, WebAssembly.Memory[]>();
/** Bytes held in the pool at most (zeroed memory kept resident). */
const POOL_BYTES = 32 * 1024 * 1024;
let pooledBytes = 0;
const memoryImports = new WeakMap<WebAssembly.Module, { name: string; initial: number; maximum: number } | null>();

function memoryImportOf(module: WebAssembly.Module) {
  let found = memoryImports.get(module);
  if (found === undefined) {
    found = null;
    for (const i of WebAssembly.Module.imports(module)) {
      const limits = i.module === SANDBOX_MODULE && i.kind === 'memory' ? pooledMemoryLimits(i.name) : undefined;
      if (limits) found = { name: i.name, ...limits };
    }
    memoryImports.set(module, found);
  }
  return found;
}

/** The pool's state, for tests and the bench. */
export function memoryPoolStats(): { memories: number; bytes: number } {
  let memories = 0;
  for (const list of pool.values()) memories += list.length;
  return { memories, bytes: pooledBytes };
}

export class InstanceMeter {
  private readonly tanks: WebAssembly.Global[] = [];
  /** Memories handed to this meter's instances, with their pool key and size. */
  private readonly memories: { memory: WebAssembly.Memory; key: string; bytes: number }[] = [];
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
    const sandbox: Record<string, WebAssembly.ImportValue> = { [OUT_OF_FUEL]: outOfFuel };
    const wanted = memoryImportOf(module);
    if (wanted) {
      const key = `${wanted.initial}:${wanted.maximum}`;
      let memory = pool.get(key)?.pop();
      const bytes = wanted.initial * PAGE;
      if (memory) pooledBytes -= bytes;
      else memory = new WebAssembly.Memory({ initial: wanted.initial, maximum: wanted.maximum });
      this.memories.push({ memory, key, bytes });
      sandbox[wanted.name] = memory;
    }
    const instance = new WebAssembly.Instance(module, { ...imports, [SANDBOX_MODULE]: sandbox });
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

  /**
   * The owner has dropped every instance this meter made and will not call
   * them again: their memories go back to the pool, zeroed (a memory that grew
   * is left to the garbage collector). Later instantiations start afresh.
   */
  release(): void {
    for (const { memory, key, bytes } of this.memories) {
      if (memory.buffer.byteLength !== bytes || pooledBytes + bytes > POOL_BYTES) continue;
      new Uint8Array(memory.buffer).fill(0);
      let list = pool.get(key);
      if (!list) pool.set(key, list = []);
      list.push(memory);
      pooledBytes += bytes;
    }
    this.memories.length = 0;
    this.tanks.length = 0;
  }

  /** The error to report for `e`, thrown by a call this meter armed. */
  explain(e: unknown): unknown {
    return this.timedOut ? new TimeLimitExceeded(this.limitMs) : e;
  }
}

/** Fuel a module starts with, so start-up code runs until its first clock check. */
export const INITIAL_FUEL = SLICE;
