/**
 * Time and memory limits for one module instance, enforced in the calling
 * thread. Core modules are metered at load (meter.ts): every function entry
 * and loop iteration burns fuel for the instructions it runs, bulk memory and
 * table instructions for their length, and an empty tank calls back
 * into the host, which refills it or, past the deadline, leaves it empty: the
 * inserted check then executes `unreachable`, a trap the guest cannot catch
 * (an exception thrown from the import could be swallowed by the guest's own
 * catch_all and retried). So an
 * infinite loop in open-session, close-session or start-up code stops within
 * its limit plus one fuel slice, at the cost of a global decrement per loop
 * iteration instead of a worker round trip per call.
 */
import { ResourceLimitError } from '../errors/index.js';
import { CORE_CAPS, FUEL_EXPORT, GLOBAL_EXPORT_PREFIX, OUT_OF_FUEL, pooledMemoryLimits, SANDBOX_MODULE, STATE_SECTION } from './instrument/index.js';

/**
 * Fuel between two clock checks. A unit is about one simple instruction
 * (instrument/fuel.ts), but what a unit costs varies a thousandfold: 0.1 ns in a
 * tight arithmetic loop, 0.5 to 2 ns for calls, division and bulk copies, and
 * up to about 50 ns in a loop of dependent loads that miss the cache and the
 * TLB over a large memory (a pointer chase through 64 MiB, measured on a busy
 * machine). 50,000 units keep that worst case to about 2.5 ms per slice; in
 * the tight loop a clock check (about 0.1 us) then comes every 5 us or so.
 */
const SLICE = 50_000;

import { TimeLimitExceeded } from './faults.js';

export { TimeLimitExceeded };

/** A wasm page: 64 KiB. */
export const PAGE = 65536;
/** Granularity of a parked memory's copy: only pages that differ from the module's image are kept. */
const COPY_PAGE = 4096;
const ZERO_PAGE = new Uint8Array(COPY_PAGE);

/**
 * Linear memories given back by instances that are gone, zeroed, by their
 * limits. A new WebAssembly.Memory costs tens of microseconds (with V8's trap
 * handler, a reservation of about 10 GiB of address space) and every page
 * the guest then touches costs a page fault; a recycled one costs neither.
 * A memory comes back only through `InstanceMeter.release()` (or `park()`),
 * from an owner that has dropped the instance and will not call it again,
 * and only when it never grew: it is then indistinguishable from a fresh one
 * (same size and limits, all zero; the new instance writes its own data
 * segments).
 */
const pool = new Map<string, WebAssembly.Memory[]>();
/** Bytes held in the pool at most (zeroed memory kept resident). */
const POOL_BYTES = 32 * 1024 * 1024;
let pooledBytes = 0;

/** What the meter left in a core module: its pooled memory import and whether it can be parked. */
interface ModuleFacts { memory?: { name: string; initial: number; maximum: number }; parkable: boolean }
const facts = new WeakMap<WebAssembly.Module, ModuleFacts>();

function factsOf(module: WebAssembly.Module): ModuleFacts {
  let found = facts.get(module);
  if (!found) {
    found = { parkable: false };
    for (const i of WebAssembly.Module.imports(module)) {
      const limits = i.module === SANDBOX_MODULE && i.kind === 'memory' ? pooledMemoryLimits(i.name) : undefined;
      if (limits) found.memory = { name: i.name, ...limits };
    }
    const state = WebAssembly.Module.customSections(module, STATE_SECTION);
    found.parkable = state.length === 1 && new Uint8Array(state[0])[0] === 1;
    facts.set(module, found);
  }
  return found;
}

/** The pool's state, for tests and the bench. */
export function memoryPoolStats(): { memories: number; bytes: number } {
  let memories = 0;
  for (const list of pool.values()) memories += list.length;
  return { memories, bytes: pooledBytes };
}

let onPressure: ((failed: boolean) => void) | undefined;

/**
 * Called when the sandbox is about to exceed its count of wasm memories
 * (`setMemoryLimit`), or (`failed`) V8 could not reserve another one; it
 * should park idle instances, whose memories then come back to the pool.
 */
export function onMemoryPressure(handler: ((failed: boolean) => void) | undefined): void {
  onPressure = handler;
}

/**
 * Wasm memories the sandbox keeps in existence at most before it parks idle
 * instances instead of making more. With V8's trap handler (node's default)
 * every memory reserves about 10 GiB of address space and a process holds
 * about 13,000; past that V8 fails the allocation only after several full
 * garbage collections, seconds each with thousands of sessions open. Parking
 * before that point costs microseconds. Default 10,000.
 */
let memoryLimit = 10_000;
/** Memories made by the sandbox and not yet collected (pooled ones included: they hold their reservation). */
let existing = 0;
const collected = new FinalizationRegistry<undefined>(() => { existing--; });

export function setMemoryLimit(count: number): void {
  if (!(Number.isInteger(count) && count > 0)) throw new RangeError(`the memory limit must be a positive integer, not ${count}`);
  memoryLimit = count;
}

/** Memories the sandbox has made that still exist. */
export function memoriesInExistence(): number {
  return existing;
}

function newMemory(initial: number, maximum: number): WebAssembly.Memory {
  const m = new WebAssembly.Memory({ initial, maximum });
  existing++;
  collected.register(m, undefined);
  return m;
}

function takeMemory(key: string, initial: number, maximum: number): WebAssembly.Memory {
  const reuse = () => {
    const m = pool.get(key)?.pop();
    if (m) pooledBytes -= initial * PAGE;
    return m;
  };
  const found = reuse();
  if (found) return found;
  if (existing >= memoryLimit && onPressure) {
    onPressure(false);
    const freed = reuse();
    if (freed) return freed;
  }
  try {
    return newMemory(initial, maximum);
  } catch (e) {
    if (!(e instanceof RangeError) || !onPressure) throw e;
    onPressure(true);
    const freed = reuse();
    if (freed) return freed;
    // Parked memories of other sizes: let them go for the collector to unmap.
    pool.clear();
    pooledBytes = 0;
    return newMemory(initial, maximum);
  }
}

/**
 * Each parkable core module's memory as instantiation leaves it (its data
 * segments on zeros, before any of its code ran), taken at its first
 * instantiation: a parked memory keeps only the pages that differ from it,
 * and a new instance starts from it anyway. For a JS module (a 9 MB image
 * of a JS engine) that is the difference between keeping megabytes per
 * parked session and keeping the pages its run changed.
 */
const images = new WeakMap<WebAssembly.Module, Uint8Array>();

/** A parked core instance: the pages of its memory that differ from its module's image, and its mutable globals. */
interface ParkedCore {
  memory?: { bytes: number; pages: [number, Uint8Array][] };
  globals: [string, number | bigint][];
}

/** An instance set aside by `InstanceMeter.park()`, to be made again by `wake()`. */
export interface Parked { readonly cores: readonly ParkedCore[] }

/** One core instance a meter made: its fuel tank and pooled memory, if the meter left it those. */
interface CoreRecord {
  /** Unset while it is being made, and for good when making it failed. */
  instance?: WebAssembly.Instance;
  tank?: WebAssembly.Global;
  memory?: { memory: WebAssembly.Memory; key: string; bytes: number };
  parkable: boolean;
  /** The module's memory image (see `images`), once known. */
  image?: Uint8Array;
}

export class InstanceMeter {
  /** The core instances made since the last release, in the order they were made. */
  private readonly cores: CoreRecord[] = [];
  /** Set when guest code ran while instances were made (a start function, an initializer). */
  private ranAtStart = false;
  private waking?: Parked;
  private deadline = 0;
  private limitMs = 0;
  /** Set when the last armed call ran out of time: its trap is a timeout. */
  timedOut = false;
  /**
   * The fault a host call raised in the armed call, if any (see `fail`): the
   * call's outcome whatever the guest did after it.
   */
  failure?: unknown;
  /** Nested `pause()`s, and when the outermost began. */
  private paused = 0;
  private pausedAt = 0;
  /** Every function the core instances made by this meter export: guest code, not host calls. */
  private readonly guestFunctions = new WeakSet<object>();

  /** For the loader's `instantiate`: wires each core instance to this meter. */
  readonly instantiateCore = (module: WebAssembly.Module, imports: WebAssembly.Imports): WebAssembly.Instance => {
    // Counted again at run time: a nested component may be instantiated more than once.
    if (this.cores.length >= CORE_CAPS.coreInstances) {
      throw new ResourceLimitError(`the module makes more than ${CORE_CAPS.coreInstances} core instances, the sandbox's cap.`);
    }
    let tank: WebAssembly.Global | undefined;
    const outOfFuel = () => {
      if (this.failure !== undefined) return;
      if (performance.now() > this.deadline) {
        this.timedOut = true;
        return;
      }
      if (tank) tank.value = SLICE;
    };
    const sandbox: Record<string, WebAssembly.ImportValue> = { [OUT_OF_FUEL]: outOfFuel };
    const f = factsOf(module);
    // Recorded before instantiating: a memory taken for an instance that
    // fails to be made (a trap in its start code) still goes back to the pool.
    const record: CoreRecord = { parkable: f.parkable };
    const parked = this.waking?.cores[this.cores.length];
    this.cores.push(record);
    if (f.memory) {
      const key = `${f.memory.initial}:${f.memory.maximum}`;
      record.memory = { memory: takeMemory(key, f.memory.initial, f.memory.maximum), key, bytes: f.memory.initial * PAGE };
      sandbox[f.memory.name] = record.memory.memory;
    }
    const instance = new WebAssembly.Instance(module, { ...this.guardHostCalls(imports), [SANDBOX_MODULE]: sandbox });
    record.instance = instance;
    for (const value of Object.values(instance.exports)) if (typeof value === 'function') this.guestFunctions.add(value);
    const exported = instance.exports[FUEL_EXPORT];
    let ran = false;
    if (exported instanceof WebAssembly.Global) {
      ran = exported.value !== INITIAL_FUEL;
      if (ran) this.ranAtStart = true;
      tank = exported;
      tank.value = SLICE;
      record.tank = tank;
    }
    if (record.memory && f.parkable) {
      let image = images.get(module);
      // Only from an instantiation that ran no code, and before a wake restores
      // anything (below): the memory is then the image.
      if (!image && !ran) images.set(module, image = new Uint8Array(record.memory.memory.buffer).slice());
      record.image = image;
    }
    if (this.waking) restoreCore(instance, record, parked);
    return instance;
  };

  /**
   * `imports` with every host function (any function that is not another
   * core instance's export) checked on each call: after a fault, or past
   * the deadline, the call fails at once with that fault; a fault it throws
   * is recorded (`fail`) so that a guest catching it cannot go on. Reading
   * the clock on every host call holds a loop of host calls, whatever each
   * costs, to its limit.
   */
  private guardHostCalls(imports: WebAssembly.Imports | undefined): WebAssembly.Imports {
    const out: WebAssembly.Imports = {};
    for (const [mod, names] of Object.entries(imports ?? {})) {
      const ns: Record<string, WebAssembly.ImportValue> = {};
      for (const [name, value] of Object.entries(names)) {
        ns[name] = typeof value === 'function' && !this.guestFunctions.has(value) ? this.guarded(value as (...a: unknown[]) => unknown) : value;
      }
      out[mod] = ns;
    }
    return out;
  }

  private guarded(host: (...args: unknown[]) => unknown): (...args: unknown[]) => unknown {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const meter = this;
    // `arguments` rather than a rest parameter: no array built per call.
    return function guardedHostCall() {
      if (meter.failure !== undefined) throw meter.failure;
      if (meter.paused === 0 && performance.now() > meter.deadline) {
        meter.timedOut = true;
        throw meter.fail(new TimeLimitExceeded(meter.limitMs));
      }
      try {
        // eslint-disable-next-line prefer-rest-params
        return host.apply(undefined, arguments as unknown as unknown[]);
      } catch (e) {
        throw meter.fail(e);
      }
    };
  }

  /**
   * Records `e` as the armed call's fault (the first one stays) and empties
   * every fuel tank, refusing refills: guest code that catches the exception
   * traps at its next fuel check, and `explain` gives the fault whatever the
   * guest did. Returns the recorded fault.
   */
  fail(e: unknown): unknown {
    if (this.failure === undefined) this.failure = e;
    for (const c of this.cores) if (c.tank) c.tank.value = 0;
    return this.failure;
  }

  /** Stops the clock (nestable), e.g. while the application answers a prompt. */
  pause(): void {
    if (this.paused++ === 0) this.pausedAt = performance.now();
  }

  /** Starts the clock again: the time it was paused is added to the deadline. */
  resume(): void {
    if (this.paused > 0 && --this.paused === 0) this.deadline += performance.now() - this.pausedAt;
  }

  /**
   * Whether the instance made since the last release (through the loader's
   * `instantiate`, which has returned) can be parked: every core module was
   * metered with `poolMemory` and `parkExports` and keeps no state beyond its memory and
   * globals, and no guest code ran while it was made (so making it again
   * runs none either).
   */
  get parkable(): boolean {
    return this.cores.length > 0 && !this.ranAtStart && this.cores.every((c) => c.parkable && (!c.tank || c.tank.value === SLICE));
  }

  /** Bytes of linear memory the instance made since the last release holds. */
  get memoryBytes(): number {
    let n = 0;
    for (const c of this.cores) n += c.memory?.memory.buffer.byteLength ?? 0;
    return n;
  }

  /** Starts the clock for one call (or an instantiation) of at most `limitMs`. */
  arm(limitMs: number): void {
    this.limitMs = limitMs;
    this.deadline = performance.now() + limitMs;
    this.timedOut = false;
    this.failure = undefined;
    this.paused = 0;
    for (const c of this.cores) if (c.tank) c.tank.value = SLICE;
  }

  /**
   * Sets the instance aside: a copy of the pages of its memories that hold
   * something and of its mutable globals, then `release()`. The owner drops
   * the instance and, to use it again, calls `wake()` and instantiates anew.
   * Only for a meter whose `parkable` was true right after instantiation.
   */
  park(): Parked {
    const cores = this.cores.map((c): ParkedCore => {
      const globals: [string, number | bigint][] = [];
      for (const [name, value] of Object.entries(c.instance!.exports)) {
        if (name.startsWith(GLOBAL_EXPORT_PREFIX)) globals.push([name, (value as WebAssembly.Global).value as number | bigint]);
      }
      if (!c.memory) return { globals };
      if (!c.image) throw new Error('a parkable core instance has no memory image');
      const all = new Uint8Array(c.memory.memory.buffer);
      const pages: [number, Uint8Array][] = [];
      for (let at = 0; at < all.length; at += COPY_PAGE) {
        const page = all.subarray(at, at + COPY_PAGE);
        const was = at < c.image.length ? c.image.subarray(at, at + COPY_PAGE) : ZERO_PAGE;
        if (Buffer.compare(page, was) !== 0) pages.push([at, page.slice()]);
      }
      return { memory: { bytes: all.length, pages }, globals };
    });
    this.release();
    return { cores };
  }

  /** The next instantiation through this meter makes `parked` again: same memory contents and globals. */
  wake(parked: Parked): void {
    this.waking = parked;
  }

  /** After the instantiation that woke a parked instance (or failed to). */
  woken(): void {
    if (this.waking && this.cores.length !== this.waking.cores.length) {
      throw new Error(`a parked instance had ${this.waking.cores.length} core instances, its new one ${this.cores.length}`);
    }
    this.waking = undefined;
  }

  /**
   * The owner has dropped every instance this meter made and will not call
   * them again: their memories go back to the pool, zeroed (a memory that grew
   * is left to the garbage collector). Later instantiations start afresh.
   */
  release(): void {
    for (const c of this.cores) {
      if (!c.memory) continue;
      const { memory, key, bytes } = c.memory;
      if (memory.buffer.byteLength !== bytes || pooledBytes + bytes > POOL_BYTES) continue;
      new Uint8Array(memory.buffer).fill(0);
      let list = pool.get(key);
      if (!list) pool.set(key, list = []);
      list.push(memory);
      pooledBytes += bytes;
    }
    this.forget();
  }

  /**
   * Like `release()`, but nothing goes back to the pool: for an owner that
   * drops instances that may still be running (the collector takes their
   * memories once nothing uses them).
   */
  forget(): void {
    this.cores.length = 0;
    this.ranAtStart = false;
  }

  /** The error to report for `e`, thrown by a call this meter armed. */
  explain(e: unknown): unknown {
    if (this.failure !== undefined) return this.failure;
    return this.timedOut ? new TimeLimitExceeded(this.limitMs) : e;
  }
}

/** Puts a parked core's memory pages and globals into the instance just made for it. */
function restoreCore(instance: WebAssembly.Instance, record: CoreRecord, parked: ParkedCore | undefined): void {
  if (!parked) throw new Error('a parked instance had fewer core instances than its new one');
  if (parked.memory) {
    const memory = record.memory?.memory;
    if (!memory) throw new Error('a parked core instance had a memory its new one lacks');
    const grow = (parked.memory.bytes - memory.buffer.byteLength) / PAGE;
    if (grow > 0) memory.grow(grow);
    // The instance just made holds the module's image (the pool gives zeroed
    // memories, and instantiation wrote the data segments): only the pages
    // that differed from it come back.
    const all = new Uint8Array(memory.buffer);
    for (const [at, page] of parked.memory.pages) all.set(page, at);
  }
  for (const [name, value] of parked.globals) (instance.exports[name] as WebAssembly.Global).value = value;
}

/** Fuel a module starts with, so start-up code runs until its first clock check. */
export const INITIAL_FUEL = SLICE;
