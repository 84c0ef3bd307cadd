/**
 * The engine: what pamwasm keeps from one session to the next, owned by one
 * object instead of module-level variables (wasmtime's Engine). It holds the
 * compiled core modules and loaded components, the module files and stack
 * files known unchanged, root's verdicts on files, the prepared stacks, the
 * pool of recycled wasm memories and the registry of idle instances to park.
 * Caches are bounded (least recently used dropped first, EngineOptions), and
 * two engines share nothing: a test, a host or a command makes its own.
 *
 * A PreparedStack (host/stack/prepared.ts) is a stack checked and loaded
 * once (wasmtime's InstancePre); each StackSession made from it is one
 * session's store: its instances, their fuel clocks and its module data.
 *
 * @example
 *   const engine = createEngine({ memoryLimit: 20_000 });
 *   const stack = engine.parseStackFile('/etc/pamwasm/login.stack');
 *   const prepared = await engine.prepare(stack);
 *   const session = await prepared.session(newHandleState({ service: 'login', user: 'alice' }));
 *   await session.open();
 *   engine.parkIdleLines(100);        // set idle instances aside
 *
 * What stays module-level, and why (none of it is a cache of what a caller
 * loads, and none of it differs from one engine to another):
 *  - the reference world (host/loader/component/reference.ts `world`):
 *    read once from the package's own wit/, which does not change while the
 *    process runs;
 *  - host/wit/index.ts `root`, `cached`: the package's root folder and its
 *    WIT text, fixed for the process;
 *  - the libpam binding (host/libpam/ffi.ts `cache`, `typesDeclared`;
 *    host/libpam/entry.ts `cached`): a dlopen handle and koffi's type
 *    declarations, which koffi keeps process-wide anyway;
 *  - the libc bindings (host/runtime/syslog.ts `libc`; host/daemon/libc.ts
 *    `bound`, `ident`): dlopen handles, and openlog's ident, which libc keeps
 *    process-wide (one syslog identity per process);
 *  - decode tables built from constants (host/codes/index.ts `byNumber`...,
 *    host/daemon/protocol.ts `*_BY_NUMBER`, host/sandbox/policy/spec.ts `UNITS`,
 *    `SETTINGS`, meter sets of opcodes): immutable after the module loads;
 *  - host/loader/component/canon.ts `dv`: a DataView over the memory of the
 *    call running now, replaced at each call that needs it;
 *  - the disk cache's environment (host/loader/cache.ts `environment`,
 *    `versions`): the Node and package versions, fixed for the process;
 *  - host/deps/index.ts `peers`: package.json's peer versions, fixed;
 *  - host/sandbox/policy/wasi/filesystem.ts `collected`: closes the host file a
 *    dropped WASI descriptor held; it keeps nothing for later, and each
 *    entry belongs to the descriptor it closes;
 *  - the daemon worker's state (host/daemon/worker.ts `chain`, the hooks it
 *    runs in order; its sessions live in host/daemon/runs.ts `StackRuns`,
 *    with the worker's own engine): a worker thread's module scope is its
 *    own (one isolate per thread);
 *  - the builders' toolchain memos (host/build/c.ts `toolchains`,
 *    `sdkBuilds`; host/build/js.ts `shimParent`, `componentizeVersion`):
 *    build tools found on this machine, not sandbox state.
 */
import { parseStackFile, type ParseOptions, type Stack } from '../stack/parse.js';
import { PreparedStack, type PrepareOptions } from '../stack/prepared.js';
import { newEngineState, type EngineOptions, type EngineState } from './state.js';

export type { EngineOptions, EngineState } from './state.js';
export { LruCache } from './lru.js';
export { PreparedStack, type PrepareOptions } from '../stack/prepared.js';

export interface EngineStats {
  /** Compiled core modules, loaded components, known module files and kept parses held now. */
  compiledCores: number;
  loadedComponents: number;
  knownFiles: number;
  parsedStacks: number;
  /** Loads that found their component in the engine, and loads that built one. */
  loadHits: number;
  loadBuilds: number;
  /** Entries dropped by a cache's bound. */
  evicted: number;
  /** The memory pool: memories kept zeroed for reuse, their bytes, and memories the engine made that still exist. */
  pooledMemories: number;
  pooledBytes: number;
  memoriesInExistence: number;
  /** Instances parked and woken so far. */
  parked: number;
  woken: number;
}

export interface Engine extends EngineState {
  /** parseStackFile (host/stack/parse.ts) with this engine's parse cache. */
  parseStackFile(path: string, options?: Omit<ParseOptions, 'engine'>): Stack;
  /** The PreparedStack of `stack` with these settings, made once (PreparedStack.prepare). */
  prepare(stack: Stack, options?: Omit<PrepareOptions, 'engine'>): Promise<PreparedStack>;
  /**
   * Parks up to `max` idle instances of this engine's open sessions, least
   * recently used first: each becomes a copy of the memory pages that hold
   * something and of its globals, its memory goes back to the engine's pool,
   * and the next call on its line makes it again as it was. The engine does
   * this by itself when it reaches its memory limit or V8 cannot reserve
   * another wasm memory (with the trap handler on, each takes about 10 GiB of
   * address space, so a process holds about 13,000); a host may call it to
   * lower what idle sessions hold. Only instances whose whole changeable
   * state is their memory and globals are parked (every C module built with
   * the SDK; not a module that changes tables, imports WASI, or runs code as
   * it is made). Returns how many were parked.
   */
  parkIdleLines(max?: number): number;
  /** What the engine holds and has done, for tests, the bench and `--json` reports. */
  stats(): EngineStats;
}

/**
 * A new engine. Each host, command and test makes its own; two engines
 * share no cache, pool or park list.
 *
 * @example
 *   const engine = createEngine({ maxLoadedComponents: 64 });
 *   const host = await createHost({ engine });
 */
export function createEngine(options: EngineOptions = {}): Engine {
  const state = newEngineState(options);
  const engine: Engine = {
    ...state,
    parseStackFile: (path, o = {}) => parseStackFile(path, { ...o, engine }),
    prepare: (stack, o = {}) => PreparedStack.prepare(stack, { ...o, engine }),
    parkIdleLines: (max = Infinity) => state.park.parkIdle(max),
    stats() {
      const pool = state.pool.stats();
      return {
        compiledCores: state.compiled.size,
        loadedComponents: state.loaded.size,
        knownFiles: state.files.size,
        parsedStacks: state.parsed.size,
        loadHits: state.loaded.counts.hits,
        loadBuilds: state.loaded.counts.stored,
        evicted: state.compiled.counts.evicted + state.loaded.counts.evicted + state.files.counts.evicted + state.parsed.counts.evicted,
        pooledMemories: pool.memories,
        pooledBytes: pool.bytes,
        memoriesInExistence: state.pool.inExistence(),
        parked: state.park.counts.parked,
        woken: state.park.counts.woken,
      };
    },
  };
  return engine;
}
