/**
 * WASI for session modules, deny by default: the WASI 0.2 interfaces a
 * module built with wasi-libc (through the preview1 adapter) may import, and
 * the list of those a stack line's grants allow, for the loader's
 * `allowImports`.
 *
 * What a module gets, with no grant at all (wasmtime's `WasiCtxBuilder::new`
 * defaults, minus inheriting anything):
 *
 * | interface                        | without a grant              | with one                       |
 * | -------------------------------- | ---------------------------- | ------------------------------ |
 * | wasi:io/error, poll, streams     | allowed (no capability)      |                                |
 * | wasi:cli/environment             | empty env, no args, no cwd   |                                |
 * | wasi:cli/stdin                   | at its end                   |                                |
 * | wasi:cli/stdout, stderr          | discarded                    | `onOutput` option: first 64 KiB |
 * | wasi:cli/terminal-*              | no stream is a terminal      |                                |
 * | wasi:cli/exit                    | traps (the hook fails closed)|                                |
 * | wasi:filesystem/types, preopens  | refused at load              | `read`: those dirs, read-only  |
 * | wasi:clocks/wall-clock, monotonic-clock | refused at load       | `clocks: true`                 |
 * | wasi:random/random, insecure, insecure-seed | refused at load   | `random: true`                 |
 * | wasi:sockets/*, wasi:http/*      | refused at load, always      | (no grant exists)              |
 *
 * @example
 *   const wasi = wasiImports({ read: ['/etc'] });
 *   const mod = await loadComponent('pam_motd.wasm', { allowImports: wasi.allowed });
 *   const inst = mod.instantiate({ ...hostImports(ctx), ...wasi.imports });
 *   inst.openSession({}, ['/etc/motd']);
 *   wasi.close(); // closes any file the module left open
 */
import { UsageError } from '../../../errors/index.js';
import type { ImportObject } from '../../../loader/index.js';
import { cliImports, type OnOutput } from './cli.js';
import { clocksImports } from './clocks.js';
import { Descriptor, DirectoryEntryStream, FsState, filesystemErrorCode, getDirectories, grantRoots } from './filesystem.js';
import { InputStream, IoError, OutputStream, Pollable, poll } from './io.js';
import { randomImports } from './random.js';

export type { OnOutput, OutputName } from './cli.js';
export { MAX_OPEN_FILES } from './filesystem.js';

/**
 * What one stack line may reach besides the world's imports. Every field
 * is off by default.
 */
export interface Grants {
  /** Host directories (absolute paths) the module may read, with everything beneath them. Never writable. */
  read?: string[];
  /** Wall and monotonic clocks (and sleeping on them). */
  clocks?: boolean;
  /** Random bytes from the host's CSPRNG. */
  random?: boolean;
}

export interface WasiOptions {
  /** Receives what the module writes to stdout and stderr. Default: discarded. */
  onOutput?: OnOutput;
  /** Bytes forwarded to `onOutput` in all, over both streams; the rest is dropped. Default 64 KiB. */
  outputLimit?: number;
}

export interface WasiSandbox {
  /** Host implementations keyed as jco names imports (unversioned); merge with the world's. */
  imports: ImportObject;
  /** Import names the grants allow: pass as the loader's `allowImports`. */
  allowed: string[];
  /** Closes host files the module still holds open; the sandbox's file calls fail after it. */
  close(): void;
}

/** Interfaces that give no capability: always allowed. */
export const INERT_IMPORTS: readonly string[] = [
  'wasi:io/error', 'wasi:io/poll', 'wasi:io/streams',
  'wasi:cli/environment', 'wasi:cli/exit', 'wasi:cli/stdin', 'wasi:cli/stdout', 'wasi:cli/stderr',
  'wasi:cli/terminal-input', 'wasi:cli/terminal-output',
  'wasi:cli/terminal-stdin', 'wasi:cli/terminal-stdout', 'wasi:cli/terminal-stderr',
];
export const FILESYSTEM_IMPORTS: readonly string[] = ['wasi:filesystem/types', 'wasi:filesystem/preopens'];
export const CLOCK_IMPORTS: readonly string[] = ['wasi:clocks/wall-clock', 'wasi:clocks/monotonic-clock'];
export const RANDOM_IMPORTS: readonly string[] = ['wasi:random/random', 'wasi:random/insecure', 'wasi:random/insecure-seed'];

const GRANT_KEYS = new Set(['read', 'clocks', 'random']);
const DEFAULT_OUTPUT_LIMIT = 64 * 1024;

function checkGrants(grants: Grants): void {
  for (const key of Object.keys(grants)) {
    if (!GRANT_KEYS.has(key)) throw new UsageError(`unknown WASI grant "${key}"; the grants are read, clocks and random.`);
  }
  if (grants.read !== undefined && (!Array.isArray(grants.read) || grants.read.some((p) => typeof p !== 'string'))) {
    throw new UsageError('the WASI grant "read" must be a list of directory paths.');
  }
}

/** The import names `grants` allow, without building anything. */
export function allowedImports(grants: Grants): string[] {
  checkGrants(grants);
  return [
    ...INERT_IMPORTS,
    ...(grants.read?.length ? FILESYSTEM_IMPORTS : []),
    ...(grants.clocks ? CLOCK_IMPORTS : []),
    ...(grants.random ? RANDOM_IMPORTS : []),
  ];
}

/**
 * The WASI imports for one module instance (each call has its own open
 * files and output budget) and the import names its grants allow. Interfaces
 * not granted are left out of `imports` too, so a module that slipped past
 * the loader's check would still fail to instantiate.
 * Throws UsageError for an unknown grant or a `read` path that is not an
 * existing absolute directory.
 */
export function wasiImports(grants: Grants, options: WasiOptions = {}): WasiSandbox {
  const allowed = allowedImports(grants);
  const roots = grantRoots(grants.read ?? [], (path, why) =>
    new UsageError(`the read grant ${JSON.stringify(path)} ${why}; grant existing directories by absolute path.`));
  const fs = new FsState(roots);
  // Resources are passed as classes: jco's glue checks `instanceof` on what
  // the host returns and calls the methods (and [Symbol.dispose] on drop).
  const all: Record<string, object> = {
    'wasi:io/error': { Error: IoError },
    'wasi:io/poll': { Pollable, poll },
    'wasi:io/streams': { InputStream, OutputStream },
    ...cliImports(options.outputLimit ?? DEFAULT_OUTPUT_LIMIT, options.onOutput),
    'wasi:filesystem/types': { Descriptor, DirectoryEntryStream, filesystemErrorCode },
    'wasi:filesystem/preopens': { getDirectories: () => getDirectories(fs) },
    ...clocksImports(),
    ...randomImports(),
  };
  const imports: ImportObject = {};
  for (const name of allowed) imports[name] = all[name] as ImportObject[string];
  return { imports, allowed, close: () => fs.close() };
}

/** Every WASI import some grant allows: what `inspect` and `build` accept to say which grants a module needs. */
export const GRANTABLE_IMPORTS: readonly string[] = allowedImports({ read: ['/'], clocks: true, random: true });

/**
 * The stack-line grants a module with `imports` needs, in stack-line
 * spelling (`read=DIR`, `clocks`, `random`); [] when it needs none.
 */
export function grantsNeeded(imports: readonly string[]): string[] {
  const has = (list: readonly string[]) => imports.some((i) => list.includes(i));
  return [
    ...(has(FILESYSTEM_IMPORTS) ? ['read=DIR'] : []),
    ...(has(CLOCK_IMPORTS) ? ['clocks'] : []),
    ...(has(RANDOM_IMPORTS) ? ['random'] : []),
  ];
}
