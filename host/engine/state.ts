/**
 * What an engine owns, as the layers below it see it: each takes an
 * `engine` option of this type and keeps its caches there, never in a
 * module-level variable. Called without one, a layer works on a state of its
 * own for that one call (nothing is kept from call to call).
 */
import type { LoadedComponent } from '../loader/index.js';
import { MemoryPool, ModuleImages } from '../sandbox/index.js';
import type { Stack } from '../stack/parse.js';
import { ParkRegistry } from '../stack/park.js';
import type { PreparedStack } from '../stack/prepared.js';
import { LruCache } from './lru.js';

export interface EngineOptions {
  /**
   * Wasm memories the engine's sandbox keeps in existence at most before it
   * parks idle instances instead of making more (see host/sandbox/store/pool.ts).
   * Default 10,000.
   */
  memoryLimit?: number;
  /** Bytes of zeroed linear memory kept for reuse. Default 32 MiB. */
  poolBytes?: number;
  /** Loaded components kept (by content, grants and meter settings), least recently used dropped first. Default 256. */
  maxLoadedComponents?: number;
  /** Compiled core modules kept by content hash. Default 1024. */
  maxCompiledCores?: number;
  /** Parsed stack files kept while unchanged. Default 256. */
  maxParsedStacks?: number;
  /** Module files whose hash is kept while unchanged. Default 4096. */
  maxKnownFiles?: number;
}

/**
 * One parse's prepared stacks by their settings' key, and the plain
 * settings (strings and flags) last asked for with their key: a host that
 * passes the same ones every time gets the key without writing it again.
 */
export interface PreparedByKey {
  readonly byKey: Map<string, Promise<PreparedStack>>;
  last?: { parts: readonly unknown[]; key: string };
}

/** A file a parse read, with its identity when it was read. */
export interface FileRead { path: string; id: string }

export interface EngineState {
  /** Compiled core modules by sha256 (host/loader/index.ts). */
  readonly compiled: LruCache<string, Promise<WebAssembly.Module>>;
  /** Loaded components by content, grants, meter settings, path and source (host/loader/index.ts). */
  readonly loaded: LruCache<string, Promise<LoadedComponent>>;
  /** Module files known unchanged, with their sha256 (host/loader/files.ts). */
  readonly files: LruCache<string, { id: string; sha256: string }>;
  /** Kept parses by path, with every file read (host/stack/parse.ts). */
  readonly parsed: LruCache<string, { reads: FileRead[]; stack: Stack }>;
  /** Each disk cache directory's verdict: why it is not used, or null (host/loader/cache.ts). */
  readonly cacheDirs: Map<string, string | null>;
  /** Root's passing verdicts on files, by identity (host/sandbox/perms.ts; bounded there). */
  readonly verdicts: Map<string, number>;
  /** Recycled linear memories (host/sandbox/store/pool.ts). */
  readonly pool: MemoryPool;
  /** Modules' pooled-memory facts and memory images (host/sandbox/store/images.ts). */
  readonly images: ModuleImages;
  /** Idle parkable lines of this engine's sessions (host/stack/park.ts). */
  readonly park: ParkRegistry;
  /** Prepared stacks by parse (a kept parse is the same object while its files are unchanged) and settings (host/stack/prepared.ts). */
  readonly prepared: WeakMap<Stack, PreparedByKey>;
}

/**
 * Lines parked at once at the sandbox's memory limit: enough to refill the
 * pool for a while. When V8 itself refused a memory (a limit set too high
 * for this process's address space), many more: each refusal costs seconds.
 */
const PARK_BATCH = 64;
const PARK_BATCH_REFUSED = 2048;

export function newEngineState(options: EngineOptions = {}): EngineState {
  const pool = new MemoryPool({ memoryLimit: options.memoryLimit, poolBytes: options.poolBytes });
  const park = new ParkRegistry();
  pool.onPressure = (failed) => park.parkIdle(failed ? PARK_BATCH_REFUSED : PARK_BATCH);
  return {
    compiled: new LruCache(options.maxCompiledCores ?? 1024),
    loaded: new LruCache(options.maxLoadedComponents ?? 256),
    files: new LruCache(options.maxKnownFiles ?? 4096),
    parsed: new LruCache(options.maxParsedStacks ?? 256),
    verdicts: new Map(),
    cacheDirs: new Map(),
    pool,
    images: new ModuleImages(),
    park,
    prepared: new WeakMap(),
  };
}
