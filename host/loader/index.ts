/**
 * Loading session-module components: read, check, transpile, compile.
 *
 * A component is checked before any of its code runs: its preamble (not a
 * core module, not random bytes), its imports (nothing outside the world
 * unless granted) and its exports (both session hooks, with the world's
 * types). Core modules are compiled once per content hash and shared by every
 * instance; each `instantiate()` makes a fresh, isolated instance.
 *
 * @example
 *   const mod = await loadComponent('guest-modules/dist/pam_debug.wasm');
 *   const inst = mod.instantiate(imports);            // imports from host/runtime
 *   inst.openSession({ silent: false }, ['open_session=session_err']); // 'session-err'
 */
import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { ModuleNotFoundError, MalformedModuleError, PinMismatchError, UnsafePermissionsError } from '../errors/index.js';
import { INITIAL_FUEL } from '../sandbox/limits.js';
import { meterCoreModule } from '../sandbox/meter.js';
import { checkOpenFile, strictByDefault } from '../sandbox/perms.js';
import type { WitStatus } from '../codes/index.js';
import { cacheKey, openCache, type CacheOptions, type Prepared } from './cache.js';
import { evaluateGlue } from './glue.js';
import { forgetModuleFile, readModuleFile } from './files.js';
import { checkComponentHeader } from './header.js';
import { transpileComponent } from './transpile.js';
import { checkWorld } from './world.js';

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
    /** Instances take their memory from the sandbox's pool of recycled memories (host/sandbox/meter.ts `importMemory`). */
    importMemory?: boolean;
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
}

const compiled = new Map<string, Promise<WebAssembly.Module>>();
const loaded = new Map<string, Promise<LoadedComponent>>();

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Compiles a core module once per content hash. */
function compileCore(bytes: Uint8Array): Promise<WebAssembly.Module> {
  const key = sha256(bytes);
  let m = compiled.get(key);
  if (!m) {
    m = WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
    compiled.set(key, m);
    m.catch(() => compiled.delete(key));
  }
  return m;
}

/** Checks, transpiles and (if asked) meters a component: everything before compiling. */
async function prepare(bytes: Uint8Array, source: string, options: LoadOptions): Promise<Prepared> {
  checkComponentHeader(bytes, source);
  const t = await transpileComponent(bytes, source);
  await checkWorld(t, source, options.allowImports);
  const cores = new Map<string, Uint8Array>();
  for (const [name, original] of t.cores) {
    cores.set(name, options.meter
      ? meterCoreModule(original, { maxMemoryPages: options.meter.maxMemoryPages, initialFuel: INITIAL_FUEL, importMemory: options.meter.importMemory }).bytes
      : original);
  }
  return {
    glue: t.files.get(`${t.name}.js`)!,
    cores,
    imports: t.imports,
    exports: t.exports,
    coreModules: [...t.cores].map(([name, b]) => ({ name, size: b.length })),
  };
}

async function build(bytes: Uint8Array, source: string, hash: string, options: LoadOptions): Promise<LoadedComponent> {
  const cache = options.cache && openCache(options.cache);
  const key = cache && cacheKey({
    sha256: hash,
    allowImports: options.allowImports ?? [],
    meter: options.meter && { maxMemoryPages: options.meter.maxMemoryPages, initialFuel: INITIAL_FUEL, importMemory: Boolean(options.meter.importMemory) },
  });
  let p = cache && key ? cache.get(key) : undefined;
  if (!p) {
    p = await prepare(bytes, source, options);
    if (cache && key) cache.put(key, p);
  }
  const cores = new Map<string, WebAssembly.Module>();
  for (const [name, core] of p.cores) {
    try {
      cores.set(name, await compileCore(core));
    } catch (e) {
      throw new MalformedModuleError(`${source} holds a core module that does not compile (${(e as Error).message}).`, { cause: e });
    }
  }
  // A code cache of the glue, bound to its text; when there is none (or V8
  // refuses it), one is made after the first hook call has compiled what a
  // session runs, for the next process.
  const glueSha = cache ? sha256(Buffer.from(p.glue)) : '';
  const glue = await evaluateGlue(p.glue, source, cache && key ? cache.getCode(key, glueSha) : undefined);
  let saveCode = cache && key && glue.codeCache && !glue.cacheUsed
    ? () => {
      saveCode = undefined;
      setImmediate(() => cache.putCode(key, glueSha, glue.codeCache!()));
    }
    : undefined;
  const getCoreModule = (name: string) => cores.get(name)!;
  const unversioned = (name: string) => name.replace(/@[^/]*$/, '');
  return {
    source,
    sha256: hash,
    size: bytes.length,
    imports: [...new Set(p.imports.map(unversioned))].sort(),
    exports: p.exports.filter(([, k]) => k === 'function').map(([n]) => n.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)),
    coreModules: p.coreModules,
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
 * Loads a component from a path or bytes. Results are cached by content hash
 * (and grants), so loading the same module again is cheap.
 * Throws ModuleNotFoundError, MalformedModuleError, NotAComponentError,
 * WrongWorldError or ForbiddenImportError.
 */
export async function loadComponent(input: string | Uint8Array, options: LoadOptions = {}): Promise<LoadedComponent> {
  let bytes: Uint8Array | undefined;
  let hash: string;
  let source = '<bytes>';
  if (typeof input === 'string') {
    source = input;
    const check = options.strictPermissions ?? strictByDefault() ? (st: BigIntStats) => checkOpenFile(input, 'module', st) : undefined;
    try {
      // Not read again while unchanged: see files.ts.
      ({ bytes, sha256: hash } = readModuleFile(input, check));
    } catch (e) {
      if (e instanceof UnsafePermissionsError) throw e;
      const err = e as NodeJS.ErrnoException;
      const why = err.code === 'ENOENT' ? 'does not exist' : err.code === 'EISDIR' ? 'is a directory' : `cannot be read (${err.code})`;
      throw new ModuleNotFoundError(`module ${input} ${why}.`, { cause: e });
    }
  } else {
    bytes = input;
    hash = sha256(bytes);
  }
  if (options.sha256 && options.sha256.toLowerCase() !== hash) {
    throw new PinMismatchError(
      `${source} has sha256 ${hash}, but its stack line pins sha256=${options.sha256}: refusing to load a module that changed ` +
        '(if the change is intended, update the pin from `pamwasm inspect`).',
    );
  }
  const meterKey = options.meter ? `meter:${options.meter.maxMemoryPages ?? '-'}:${options.meter.importMemory ? 'pool' : 'own'}` : 'raw';
  const key = `${hash}|${[...(options.allowImports ?? [])].sort().join(',')}|${meterKey}|${source}`;
  let p = loaded.get(key);
  if (!p) {
    if (!bytes) {
      // Known unchanged, but not loaded with these options: load it afresh.
      forgetModuleFile(source);
      return loadComponent(input, options);
    }
    p = build(bytes, source, hash, options);
    loaded.set(key, p);
    p.catch(() => loaded.delete(key));
  }
  return p;
}
