/**
 * The fuel clock of one module instance: its time limit, enforced in the
 * calling thread. Core modules are metered at load (../meter.ts): every function entry
 * and loop iteration burns fuel for the instructions it runs, bulk memory and
 * table instructions for their length, and an empty tank calls back
 * into the host, which refills it or, past the deadline, leaves it empty: the
 * inserted check then executes `unreachable`, a trap the guest cannot catch
 * (an exception thrown from the import could be swallowed by the guest's own
 * catch_all and retried). So an
 * infinite loop in open-session, close-session or start-up code stops within
 * its limit plus one fuel slice, at the cost of a global decrement per loop
 * iteration instead of a worker round trip per call.
 *
 * The store layer: this file is the clock (arm, refill, pause, resume,
 * fail); pool.ts the recycled memories; snapshot.ts parked instances;
 * images.ts what each module's instances start from.
 */
import { ResourceLimitError } from '../../errors/index.js';
import { ReentrantHostCall, SandboxLimitExceeded, TimeLimitExceeded } from '../faults.js';
import { CORE_CAPS, FUEL_EXPORT, OUT_OF_FUEL, SANDBOX_MODULE } from '../instrument/index.js';
import { ModuleImages } from './images.js';
import { MemoryPool } from './pool.js';
import { restoreCore, snapshotCore, type Parked } from './snapshot.js';

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

/** The core export names of the world's hooks. */
const HOOK_CORE_NAMES = ['open-session', 'close-session'];

export { TimeLimitExceeded };

/** What the instances of one engine share: the pool their memories come from and the images of their modules. */
export interface StoreShared {
  readonly pool: MemoryPool;
  readonly images: ModuleImages;
}

/** One core instance a meter made: its fuel tank and pooled memory, if the meter left it those. */
interface CoreRecord {
  /** Unset while it is being made, and for good when making it failed. */
  instance?: WebAssembly.Instance;
  tank?: WebAssembly.Global;
  memory?: { memory: WebAssembly.Memory; initial: number; maximum: number };
  parkable: boolean;
  /** The module's memory image (images.ts), once known. */
  image?: Uint8Array;
}

export class InstanceMeter {
  /**
   * `shared`: the engine's pool and module images (host/engine). Default a
   * store of its own: its memories are recycled only by this meter.
   */
  constructor(private readonly shared: StoreShared = { pool: new MemoryPool(), images: new ModuleImages() }) {}

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
  /**
   * Host calls under way: above 0 while a host function runs, and while
   * its result is lowered into the guest (which runs the guest's realloc).
   */
  private inHostCall = 0;
  /**
   * Above 0 while the host calls a hook (`hookCall`) but the hook's own core
   * function is not running: the guest code that runs then is its realloc,
   * lowering the arguments, or its post-return, and may not call the host.
   */
  private outsideHook = 0;
  /** Nested `pause()`s, and when the outermost began. */
  private paused = 0;
  private pausedAt = 0;
  /**
   * Every function the core instances made by this meter export: guest code,
   * not host calls. Filled when a later core instance imports something (most
   * C modules are one core instance that imports only the sandbox's own), and
   * emptied with `cores` (a plain Set: the meter holds those instances anyway).
   */
  private readonly guestFunctions = new Set<unknown>();
  /** Cores whose exports are in guestFunctions. */
  private recorded = 0;

  /** For the loader's `instantiate`: wires each core instance to this meter. */
  readonly instantiateCore = (module: WebAssembly.Module, imports: WebAssembly.Imports): WebAssembly.Instance => {
    // Counted again at run time: a nested component may be instantiated more than once.
    if (this.cores.length >= CORE_CAPS.coreInstances) {
      throw new ResourceLimitError(`the module makes more than ${CORE_CAPS.coreInstances} core instances, the sandbox's cap.`);
    }
    // Before this instance's record is added: its guard knows the instances made before it.
    const host = this.guardHostCalls(imports);
    let tank: WebAssembly.Global | undefined;
    const outOfFuel = () => {
      if (this.failure !== undefined) return;
      if (performance.now() > this.deadline) {
        this.timedOut = true;
        return;
      }
      if (tank) tank.value = SLICE;
      // A start function runs inside `new WebAssembly.Instance`, before the
      // instance and so its tank exist: it cannot be given more. Said as the
      // limit it is, rather than left to the trap that follows.
      else this.fail(new SandboxLimitExceeded(`a core module's start function ran past the ${INITIAL_FUEL} units of fuel that start code gets (it runs before its instance exists, where the sandbox cannot refill it); do that work in a hook or in _initialize instead`));
    };
    const sandbox: Record<string, WebAssembly.ImportValue> = { [OUT_OF_FUEL]: outOfFuel };
    const f = this.shared.images.factsOf(module);
    // Recorded before instantiating: a memory taken for an instance that
    // fails to be made (a trap in its start code) still goes back to the pool.
    const record: CoreRecord = { parkable: f.parkable };
    const parked = this.waking?.cores[this.cores.length];
    this.cores.push(record);
    if (f.memory) {
      const { initial, maximum } = f.memory;
      record.memory = { memory: this.shared.pool.take(initial, maximum), initial, maximum };
      sandbox[f.memory.name] = record.memory.memory;
    }
    const instance = new WebAssembly.Instance(module, { ...host, [SANDBOX_MODULE]: sandbox });
    record.instance = instance;
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
      // Only from an instantiation that ran no code, and before a wake restores
      // anything (below): the memory is then the image.
      record.image = this.shared.images.imageOf(module, record.memory.memory, !ran);
    }
    if (this.waking) restoreCore(instance, record.memory?.memory, parked);
    return this.withHookBodies(instance);
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
    if (imports === undefined) return out;
    const guest = this.guestFunctions;
    // The exports of the core instances made so far.
    for (; this.recorded < this.cores.length; this.recorded++) {
      const made = this.cores[this.recorded].instance;
      if (made) for (const value of Object.values(made.exports)) if (typeof value === 'function') guest.add(value);
    }
    // for-in rather than Object.entries: no pair arrays made per import, on every instantiation.
    for (const mod in imports) {
      const names = imports[mod];
      const ns: Record<string, WebAssembly.ImportValue> = {};
      for (const name in names) {
        const value = names[name];
        ns[name] = typeof value === 'function' && !guest.has(value) ? this.guarded(value as (...a: unknown[]) => unknown) : value;
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
      // Only a hook's own code may call the host. A host function never
      // calls guest code but the realloc that lowers its result: a host call
      // from there would re-enter host code in the middle of one of its calls
      // (a list-env being copied out). Around a hook, the host runs the
      // realloc that lowers the arguments and the post-return (`hookCall`).
      // Both load paths wrap each lowered import in this guard, so these two
      // checks refuse both on both.
      if (meter.inHostCall > 0) throw meter.fail(new ReentrantHostCall(meter.inHostCall));
      if (meter.outsideHook > 0) throw meter.fail(new ReentrantHostCall(meter.outsideHook, 'hook-call'));
      meter.inHostCall++;
      try {
        // eslint-disable-next-line prefer-rest-params
        return host.apply(undefined, arguments as unknown as unknown[]);
      } catch (e) {
        throw meter.fail(e);
      } finally {
        meter.inHostCall--;
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

  /**
   * Calls a hook of the instance (`fn`: its `openSession` or `closeSession`):
   * the guest code the host runs around the hook's own core function, the
   * realloc that takes the arguments and the post-return, may not call the
   * host; the hook's core function may (`withHookBodies`).
   */
  hookCall<T>(fn: () => T): T {
    this.outsideHook++;
    try {
      return fn();
    } finally {
      this.outsideHook--;
    }
  }

  /**
   * The instance as the loader sees it, with the world's hook functions
   * (`open-session`, `close-session`: the core names every toolchain gives
   * them, on both load paths) wrapped so that the host may be called while
   * they run. A component that lifts a core function of another name gets no
   * host calls from its hooks: they trap, and the line fails closed.
   */
  private withHookBodies(instance: WebAssembly.Instance): WebAssembly.Instance {
    let exports: Record<string, unknown> | undefined;
    for (const name of HOOK_CORE_NAMES) {
      const body = instance.exports[name];
      if (typeof body !== 'function') continue;
      exports ??= { ...instance.exports };
      // eslint-disable-next-line @typescript-eslint/no-this-alias
      const meter = this;
      const wrapped = function hookBody() {
        const outside = meter.outsideHook;
        meter.outsideHook = 0;
        try {
          // eslint-disable-next-line prefer-rest-params
          return (body as (...a: unknown[]) => unknown).apply(undefined, arguments as unknown as unknown[]);
        } finally {
          meter.outsideHook = outside;
        }
      };
      // Still guest code if another core instance imports it.
      this.guestFunctions.add(wrapped);
      exports[name] = wrapped;
    }
    return exports ? ({ exports } as unknown as WebAssembly.Instance) : instance;
  }

  /** Starts the clock for one call (or an instantiation) of at most `limitMs`. */
  arm(limitMs: number): void {
    this.limitMs = limitMs;
    this.deadline = performance.now() + limitMs;
    this.timedOut = false;
    this.failure = undefined;
    this.paused = 0;
    this.inHostCall = 0;
    this.outsideHook = 0;
    for (const c of this.cores) if (c.tank) c.tank.value = SLICE;
  }

  /**
   * Sets the instance aside: a copy of the pages of its memories that hold
   * something and of its mutable globals, then `release()`. The owner drops
   * the instance and, to use it again, calls `wake()` and instantiates anew.
   * Only for a meter whose `parkable` was true right after instantiation.
   */
  park(): Parked {
    const cores = this.cores.map((c) => snapshotCore(c.instance!, c.memory?.memory, c.image));
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
      if (c.memory) this.shared.pool.give(c.memory.memory, c.memory.initial, c.memory.maximum);
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
    this.recorded = 0;
    this.guestFunctions.clear();
    this.ranAtStart = false;
  }

  /** The error to report for `e`, thrown by a call this meter armed. */
  explain(e: unknown): unknown {
    if (this.failure !== undefined) return this.failure;
    return this.timedOut ? new TimeLimitExceeded(this.limitMs) : e;
  }
}

/** Fuel a module starts with, so start-up code runs until its first clock check. */
export const INITIAL_FUEL = SLICE;
