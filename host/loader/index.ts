// Declarations name Node types (Buffer, node:fs); this brings them into an app whose tsconfig lists no "types".
/// <reference types="node" preserve="true" />
/**
 * Loading session-module components: read, check, plan or transpile, compile.
 *
 * A component is checked before any of its code runs: its preamble (not a
 * core module, not random bytes), its imports (nothing outside the world
 * unless granted) and its exports (both session hooks, with the world's
 * types). Core modules are compiled once per content hash and shared by every
 * instance; each `instantiate()` makes a fresh, isolated instance.
 *
 * Two paths (LoadedComponent.via): a component of exactly the world's shape
 * is planned and instantiated by the loader's own reader (component/), with
 * no jco; any other goes to jco's glue (transpile.ts). One world check
 * (world.ts, over structural types) decides for both: the fast path plans
 * only what it passes, and the jco path gives its refusals. Before
 * either, every core module is validated by V8 and checked against the
 * sandbox's rules (validate.ts), the same for both paths.
 *
 * @example
 *   const mod = await loadComponent('guest-modules/dist/pam_debug.wasm');
 *   const inst = mod.instantiate(imports);            // imports from host/runtime
 *   inst.openSession({ silent: false }, ['open_session=session_err']); // 'session-err'
 */
import { basename } from 'node:path';
import { ModuleNotFoundError, MalformedModuleError, NotAComponentError, PamwasmError, PinMismatchError, ResourceLimitError, UnsafePermissionsError, UnsupportedWasmError } from '../errors/index.js';
import { CORE_CAPS, INITIAL_FUEL, meterCoreModule, strictByDefault, type CoreCaps } from '../sandbox/index.js';
import type { WitStatus } from '../codes/index.js';
import { cacheKey, openCache, type CacheOptions, type KeyParts, type Prepared } from './cache.js';
import { evaluateGlue } from './glue.js';
import { checkModuleSize, forgetModuleFile, readModuleFile, type ModuleFile } from './files.js';
import { instantiator, recognizeComponent } from './component/index.js';
import { checkComponentHeader } from './header.js';
import { camel, kebabCase, sha256, unversioned } from './names.js';
import { newEngineState, type EngineState } from '../engine/state.js';
import { transpileComponent } from './transpile.js';
import { checkComponentWorld, checkReadableWorld } from './world.js';
import { checkComponentCores, checkCore } from './validate.js';

export { checkComponentHeader } from './header.js';
export { defaultCacheDir, type CacheOptions } from './cache.js';

/** The flags argument of both hooks, as jco passes WIT flags. */
export interface SessionFlags { silent?: boolean }

/** One live instance of a module: the two session hooks. */
export interface ModuleInstance {
  openSession(flags: SessionFlags, argv: string[]): WitStatus;
  closeSession(flags: SessionFlags, argv: string[]): WitStatus;
}

/** Host functions per imported interface, keyed as jco names them. */
export type ImportObject = Record<string, Record<string, (...args: never[]) => unknown>>;

/** Hook to instantiate each core module, e.g. to enforce memory limits. */
export type InstantiateCore = (module: WebAssembly.Module, imports: WebAssembly.Imports) => WebAssembly.Instance;

export interface LoadedComponent {
  /** Where it came from: a path, or `<bytes>`. */
  readonly source: string;
  /** Hex sha256 of the component bytes (what a stack line pins). */
  readonly sha256: string;
  readonly size: number;
  /** Imported interfaces, unversioned. */
  readonly imports: string[];
  /** Exported function names in WIT spelling. */
  readonly exports: string[];
  /** Core modules with their sizes. */
  readonly coreModules: { name: string; size: number }[];
  /**
   * How instances are made: `fast`, by the loader's own reader and
   * instantiator of the session-module world (component/), or `jco`, by
   * jco's generated glue (transpile.ts), for any component the fast path
   * does not fully recognize (granted WASI imports, other shapes). Both
   * behave the same; the jco path is also the one that refuses.
   */
  readonly via: 'fast' | 'jco';
  /** A fresh instance wired to `imports`. Throws what the module's start code throws. */
  instantiate(imports: ImportObject, instantiateCore?: InstantiateCore): ModuleInstance;
}

export interface LoadOptions {
  /** Import names allowed besides the world's (granted WASI interfaces). Default none. */
  allowImports?: readonly string[];
  /**
   * Meter the core modules so that the sandbox can stop a call at its time
   * limit, and cap their memory at `maxMemoryPages` (64 KiB pages). Default:
   * not metered, memory as the module declares it.
   */
  meter?: {
    maxMemoryPages?: number;
    /** Instances take their memory from the sandbox's pool of recycled memories (host/sandbox/instrument/: `poolMemory` and `parkExports`). */
    importMemory?: boolean;
    /** Cap on the elements of all of a core module's tables. Default `CORE_CAPS.tableElementsTotal`. */
    maxTableElements?: number;
  };
  /** Pin: refuse the module unless its bytes have this sha256 (hex). */
  sha256?: string;
  /** Refuse a module file that others than root could change. Default: when running as root. */
  strictPermissions?: boolean;
  /**
   * Keep checked, transpiled and metered components in this on-disk cache
   * (see cache.ts for how it is kept safe), so a new process skips jco.
   * Default: no disk cache (components are still cached in memory).
   */
  cache?: CacheOptions;
  /**
   * Internal: false makes the load skip the fast path and use jco's glue, as
   * the tests do to compare the two. Default true.
   */
  fastPath?: boolean;
  /**
   * The engine whose caches keep compiled cores, loaded components and
   * known files (host/engine). Default: a state of this load's own, so
   * nothing is kept for the next load.
   */
  engine?: EngineState;
}

/** What a load keeps: the engine's compiled cores, loaded components, known files and verdicts. */
type LoaderState = Pick<EngineState, 'compiled' | 'loaded' | 'files' | 'verdicts' | 'cacheDirs'>;

/** Cores smaller than this are compiled synchronously (compileCore). */
const SYNC_COMPILE_BYTES = 1 << 20;

function compileNow(bytes: Uint8Array): Promise<WebAssembly.Module> {
  try {
    return Promise.resolve(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>));
  } catch (e) {
    return Promise.reject(e);
  }
}

/** Compiles a core module once per content hash (`hash`, its sha256) and engine. */
function compileCore(bytes: Uint8Array, hash: string, compiled: LoaderState['compiled']): Promise<WebAssembly.Module> {
  let m = compiled.get(hash);
  if (!m) {
    // A small core compiles here and now: with V8's lazy compilation that is
    // little more than validating it, while WebAssembly.compile() queues it
    // behind whatever V8's background threads are doing (optimising the
    // meter that has just run, say), and the load waits idle for it.
    const made = bytes.length < SYNC_COMPILE_BYTES ? compileNow(bytes) : WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
    compiled.set(hash, made);
    made.catch(() => compiled.deleteIf(hash, made));
    m = made;
  }
  return m;
}

/** The sandbox's caps as the load asks for them: the defaults, with the line's table cap. */
function capsOf(options: LoadOptions): CoreCaps {
  const total = options.meter?.maxTableElements;
  return total === undefined ? CORE_CAPS : { ...CORE_CAPS, tableElementsTotal: total, tableElements: Math.min(CORE_CAPS.tableElements, total) };
}

/** Each core module as the load asks for it (metered or as it is), and its sha256. */
function meterCores(cores: Iterable<[string, Uint8Array]>, source: string, options: LoadOptions): Pick<Prepared, 'cores' | 'sha256s'> {
  const out = new Map<string, Uint8Array>();
  const caps = capsOf(options);
  const tableCaps = { perTable: caps.tableElements, total: caps.tableElementsTotal };
  for (const [name, original] of cores) {
    if (!options.meter) {
      out.set(name, original);
      continue;
    }
    try {
      const { maxMemoryPages, importMemory } = options.meter;
      // Pooled memories and parking go together: a parked instance is its pooled memory and its globals.
      const parkExports = Boolean(importMemory && maxMemoryPages !== undefined);
      out.set(name, meterCoreModule(original, { maxMemoryPages, initialFuel: INITIAL_FUEL, poolMemory: importMemory, parkExports, tableCaps }).bytes);
    } catch (e) {
      if (e instanceof PamwasmError) e.message = `${source} core module ${name}: ${e.message}`;
      throw e;
    }
  }
  return { cores: out, sha256s: new Map([...out].map(([name, b]) => [name, sha256(b)])) };
}

/**
 * The fast path (component/): a plan instead of glue, for a component it
 * fully recognizes as one of the world; undefined for anything else, and
 * for anything the meter does not take, so that the jco path answers.
 */
async function prepareFast(bytes: Uint8Array, source: string, options: LoadOptions): Promise<Prepared | undefined> {
  const r = await recognizeComponent(bytes);
  if (!('plan' in r)) return undefined;
  const originals = r.cores.map((b, i): [string, Uint8Array] => [r.plan.modules[i], b]);
  // The meter's refusals are the same on the jco path (the same originals,
  // the same meter), so they are given here rather than asked again there.
  const cores = meterCores(originals, source, options);
  return {
    plan: r.plan,
    instantiate: r.instantiate,
    ...cores,
    imports: r.plan.imports.map(([iface]) => iface),
    exports: r.plan.exports.map((e): [string, 'function'] => [camel(e.name), 'function']),
    coreModules: originals.map(([name, b]) => ({ name, size: b.length })),
  };
}

/** Checks, transpiles (or plans) and (if asked) meters a component: everything before compiling. */
async function prepare(bytes: Uint8Array, source: string, options: LoadOptions): Promise<Prepared> {
  checkComponentHeader(bytes, source);
  const checkOptions = { metered: Boolean(options.meter), caps: capsOf(options) };
  const originals = checkComponentCores(bytes, source, checkOptions);
  if (options.fastPath !== false) {
    const fast = await prepareFast(bytes, source, options);
    if (fast) return fast;
  }
  // Refused before jco generates anything (and without jco installed) when its face can be read.
  const checked = await checkReadableWorld(bytes, source, options.allowImports);
  const t = await transpileComponent(bytes, source);
  if (!checked) await checkComponentWorld(bytes, source, options.allowImports);
  // The glue generator's own core modules (shims, fixups) are judged as the
  // component's are; the component's own come back verbatim.
  const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
  for (const [name, core] of t.cores) {
    if (!originals.some((o) => same(o, core))) checkCore(core, `${source} core module ${name}`, checkOptions);
  }
  return {
    glue: t.files.get(`${t.name}.js`)!,
    ...meterCores(t.cores, source, options),
    imports: t.imports,
    exports: t.exports,
    coreModules: [...t.cores].map(([name, b]) => ({ name, size: b.length })),
  };
}

async function compileCores(p: Prepared, source: string, compiled: LoaderState['compiled']): Promise<Map<string, WebAssembly.Module>> {
  const cores = new Map<string, WebAssembly.Module>();
  for (const [name, core] of p.cores) {
    try {
      cores.set(name, await compileCore(core, p.sha256s.get(name)!, compiled));
    } catch (e) {
      throw new UnsupportedWasmError(`${source} core module ${name} is valid, but the sandbox's rewrite of it does not compile (${(e as Error).message}); this is a pamwasm bug: please report it with the module.`);
    }
  }
  return cores;
}

/** The load options that shape a prepared component, as both the disk cache's and the in-memory keys take them. */
function keyParts(options: LoadOptions): KeyParts {
  return {
    allow: [...(options.allowImports ?? [])].sort(),
    meter: options.meter ? { pages: options.meter.maxMemoryPages ?? null, fuel: INITIAL_FUEL, pool: Boolean(options.meter.importMemory), tables: options.meter.maxTableElements ?? null } : null,
    path: options.fastPath === false ? 'jco' : 'any',
  };
}

async function build(bytes: Uint8Array, source: string, hash: string, parts: KeyParts, options: LoadOptions, state: LoaderState): Promise<LoadedComponent> {
  const cache = options.cache && openCache(options.cache, state.cacheDirs);
  const key = cache && cacheKey(hash, parts);
  let p = cache && key ? cache.get(key) : undefined;
  const cached = p !== undefined;
  p ??= await prepare(bytes, source, options);
  const cores = await compileCores(p, source, state.compiled);
  if (cache && p.glue !== undefined) p.glueSha256 ??= sha256(p.glue);
  if (cache && key && !cached) cache.put(key, p);
  const getCoreModule = (name: string) => cores.get(name)!;
  const common = {
    source,
    sha256: hash,
    size: bytes.length,
    imports: [...new Set(p.imports.map(unversioned))].sort(),
    exports: p.exports.filter(([, k]) => k === 'function').map(([n]) => kebabCase(n)),
    coreModules: p.coreModules,
  };
  if (p.plan !== undefined) {
    const instantiate = p.instantiate ?? instantiator(p.plan);
    return { ...common, via: 'fast', instantiate: (imports, instantiateCore) => instantiate(getCoreModule, imports, instantiateCore) };
  }
  // A code cache of the glue, bound to its text; when there is none (or V8
  // refuses it), one is made after the first hook call has compiled what a
  // session runs, for the next process.
  const text = p.glue!;
  const glueSha = p.glueSha256 ?? '';
  const glue = await evaluateGlue(text, source, cache && key ? cache.getCode(key, glueSha) : undefined);
  let saveCode = cache && key && glue.codeCache && !glue.cacheUsed
    ? () => {
      saveCode = undefined;
      setImmediate(() => cache.putCode(key, glueSha, glue.codeCache!()));
    }
    : undefined;
  return {
    ...common,
    via: 'jco',
    instantiate(imports, instantiateCore) {
      const instance = glue.instantiate(getCoreModule, imports, instantiateCore);
      if (!saveCode) return instance;
      const after = <T>(result: T): T => {
        saveCode?.();
        return result;
      };
      return {
        openSession: (flags, argv) => after(instance.openSession(flags, argv)),
        closeSession: (flags, argv) => after(instance.closeSession(flags, argv)),
      };
    },
  };
}

/**
 * Loads a component from a path or bytes. Results are cached in the engine
 * (`options.engine`) by content hash (and grants), so loading the same module
 * again through the same engine is cheap.
 * Throws ModuleNotFoundError, MalformedModuleError, NotAComponentError,
 * WrongWorldError or ForbiddenImportError.
 */
/**
 * A native PAM module (`pam_permit.so`) named in a WASM stack: say so, and
 * where it belongs, rather than that it is missing or not WebAssembly. A
 * `.so` file that holds WebAssembly is loaded as any other. Judged on the
 * bytes of the checked read (none when the file cannot be read), never on a
 * second open of the path.
 */
function refuseNativeModule(path: string, bytes: Uint8Array | undefined): void {
  if (!/\.so(\.\d+)*$/.test(path)) return;
  if (bytes && bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d) return;
  const wasm = basename(path).replace(/\.so(\.\d+)*$/, '.wasm');
  throw new NotAComponentError(
    `module ${path} is a native PAM module (.so), which a WASM stack cannot run: put its line in the system stack (a pam.d file, or \`run --system-service\`), or name a WebAssembly module such as ${wasm}.`,
  );
}

export function loadComponent(input: string | Uint8Array, options: LoadOptions = {}): Promise<LoadedComponent> {
  if (typeof input === 'string') return componentLoader(input, options)();
  try {
    checkModuleSize(input.length, '<bytes>');
  } catch (e) {
    return Promise.reject(e);
  }
  const state = options.engine ?? newEngineState();
  const hash = sha256(input);
  return fromEngine(input, hash, `${hash}|${optionsKey(options)}|<bytes>`, options, state);
}

/**
 * `loadComponent(path, options)` made once and called many times, as a
 * prepared stack line does for each session: the options' part of the
 * engine's key is worked out here, once. Each call judges and checks the file
 * again (its stat, root's rule, its pin), so a module replaced on disk is
 * what the next call loads.
 *
 * @example
 *   const load = componentLoader('/usr/lib/pamwasm/pam_permit.wasm', { engine });
 *   const a = await load(); const b = await load(); // the same LoadedComponent while the file is unchanged
 */
export function componentLoader(path: string, options: LoadOptions = {}): () => Promise<LoadedComponent> {
  const state = options.engine ?? newEngineState();
  const tail = `${optionsKey(options)}|${path}`;
  // The key of the last hash seen: the same string each time, so the engine's map does not hash it anew.
  let lastHash = '';
  let lastKey = '';
  const load = async (): Promise<LoadedComponent> => {
    let file: ModuleFile;
    try {
      // Judged every time, read again only when changed: see files.ts.
      file = readModuleFile(path, options.strictPermissions ?? strictByDefault(), state);
    } catch (e) {
      if (e instanceof UnsafePermissionsError || e instanceof ResourceLimitError) throw e;
      refuseNativeModule(path, undefined);
      const err = e as NodeJS.ErrnoException;
      const why = err.code === 'ENOENT' ? 'does not exist' : err.code === 'EISDIR' ? 'is a directory' : `cannot be read (${err.code})`;
      throw new ModuleNotFoundError(`module ${path} ${why}.`, { cause: e });
    }
    // Unchanged since a load that took it (no bytes) means it was WebAssembly.
    if (file.bytes) refuseNativeModule(path, file.bytes);
    if (file.sha256 !== lastHash) {
      lastHash = file.sha256;
      lastKey = `${file.sha256}|${tail}`;
    }
    if (!file.bytes && !state.loaded.has(lastKey)) {
      // Known unchanged, but not loaded with these options: load it afresh.
      forgetModuleFile(path, state);
      return load();
    }
    return fromEngine(file.bytes, file.sha256, lastKey, options, state, path);
  };
  return load;
}

/** The options' part of the engine's key for a loaded component. */
function optionsKey(options: LoadOptions): string {
  const parts = keyParts(options);
  const meterKey = parts.meter ? `meter:${parts.meter.pages ?? '-'}:${parts.meter.pool ? 'pool' : 'own'}:${parts.meter.tables ?? '-'}` : 'raw';
  return `${parts.allow.join(',')}|${meterKey}|${parts.path}`;
}

/** The component under `key` in the engine, else built from `bytes` (present unless the engine holds it). */
function fromEngine(
  bytes: Uint8Array | undefined, hash: string, key: string, options: LoadOptions, state: LoaderState, source = '<bytes>',
): Promise<LoadedComponent> {
  if (options.sha256 && options.sha256.toLowerCase() !== hash) {
    return Promise.reject(new PinMismatchError(
      `${source} has sha256 ${hash}, but its stack line pins sha256=${options.sha256}: refusing to load a module that changed ` +
        '(if the change is intended, update the pin from `pamwasm inspect`).',
    ));
  }
  const loaded = state.loaded;
  let p = loaded.get(key);
  if (!p) {
    const made = build(bytes!, source, hash, keyParts(options), options, state);
    loaded.set(key, made);
    made.catch(() => loaded.deleteIf(key, made));
    p = made;
  }
  return p;
}
