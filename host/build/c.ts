/**
 * Builds PAM session modules written in C into components of the
 * `session-module` world: clang compiles the module's `*.c` against
 * wasi-libc and links them with the C SDK (guest-modules/sdk/c, compiled
 * once per process with the same flags), wasm-ld makes a core module that
 * imports only the world's interfaces, and wasm-tools embeds the WIT and
 * wraps it as a component.
 *
 * A module folder may hold a `build.json` (see {@link CModuleConfig}) for a
 * build off that path: only the hostile corpus needs one, to make components
 * that import WASI or target another world, which the host must refuse.
 *
 * Builds are reproducible: the same sources and toolchain give the same
 * bytes, wherever the folder is (no debug info, source paths mapped,
 * sources in sorted order).
 *
 * @example
 *   const bytes = await buildCModule('guest-modules/pam_echo', 'guest-modules/dist/pam_echo.wasm',
 *     { onProgress: (m) => console.error(m) });
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { missingDependency, requireFeature, resolvable } from '../deps/index.js';
import { BuildError } from '../errors/index.js';
import { functionNames } from '../loader/core-names.js';
import { packageRoot, witSource, WORLD_NAME } from '../wit/index.js';
import { checkCoreImports, checkHooks } from './c-checks.js';
import { GUEST_MODULES_DIR, guestFolders } from './guests.js';

export interface CBuildOptions {
  /** Called with a short line at each step. */
  onProgress?: (msg: string) => void;
  /**
   * Preprocessor definitions (`NAME` or `NAME=value`), passed as `-DNAME`
   * when compiling the module's sources and the SDK: a second variant of a
   * module without a second folder.
   */
  defines?: string[];
  /**
   * Build a module whose hooks are missing or mistyped instead of refusing
   * it: only for tests of what the host does with such a component (its line
   * fails closed with PAM_MODULE_UNKNOWN). Default false.
   */
  allowHookProblems?: boolean;
}

/**
 * A module folder's `build.json`. Every field is optional; an absent file
 * means the SDK's usual build.
 *
 *   { "wasi": true }                      guest-modules/hostile/wasi_fs
 *   { "wit": "legacy.wit", "world": "legacy-module" }   guest-modules/hostile/wrong_world
 */
export interface CModuleConfig {
  /**
   * Link wasi-libc's system calls for real (fopen, clock_gettime, ...): the
   * SDK is compiled with -DPAMWASM_WASI (its stdio stubs stay out), and the
   * core module's WASI preview1 imports are adapted to WASI 0.2 interfaces
   * with jco's preview1 reactor adapter. The component imports `wasi:*`.
   */
  wasi?: boolean;
  /**
   * A WIT file in the folder whose text is appended to the session package
   * (`wit/`): more worlds in `pamwasm:session`, and other packages written
   * inline as `package ns:name@x.y.z { ... }`. The core module may import
   * from those packages too.
   */
  wit?: string;
  /** The world to embed against. Default `session-module`. */
  world?: string;
}

/** Name of the per-folder build settings file. */
export const BUILD_CONFIG = 'build.json';

/** jco's WASI preview1 to 0.2 adapter for libraries (no `_start`), in its package's lib/. */
const PREVIEW1_REACTOR_ADAPTER = 'wasi_snapshot_preview1.reactor.wasm';

/**
 * The adapter file from jco as this package resolves it: the development
 * tree's jco (which the committed WASI modules are built with), else the
 * jco-glue an app installs; undefined when neither is installed.
 */
export function preview1ReactorAdapter(): string | undefined {
  for (const pkg of ['@bytecodealliance/jco', '@bytecodealliance/jco-glue']) {
    if (!resolvable(`${pkg}/component`)) continue;
    // Up from an entry file to the package's folder: its exports map offers no path to lib/.
    let dir = dirname(fileURLToPath(import.meta.resolve(`${pkg}/component`)));
    while (!dir.endsWith(join('node_modules', pkg)) && dirname(dir) !== dir) dir = dirname(dir);
    const file = join(dir, 'lib', PREVIEW1_REACTOR_ADAPTER);
    if (existsSync(file)) return file;
  }
  return undefined;
}

/** The C SDK: public headers in `include/`, the glue in `src/`. */
export const C_SDK_DIR = join(packageRoot(), 'guest-modules', 'sdk', 'c');

const INSTALL_HINT = 'install the toolchain with `apt-get install -y clang lld wasi-libc`';

/**
 * Where wasi-libc lives: `<prefix>/include/wasm32-wasi` and
 * `<prefix>/lib/wasm32-wasi`. Debian's package uses /usr; a wasi-sdk
 * sysroot (share/wasi-sysroot) has the same shape. Override with
 * PAMWASM_WASI_LIBC.
 */
const wasiLibcPrefix = () => process.env.PAMWASM_WASI_LIBC || '/usr';

/** The compiler; override with PAMWASM_CLANG (e.g. clang-16). */
const clang = () => process.env.PAMWASM_CLANG || 'clang';

/** The C guest module folders under `root` (those holding `*.c` files), sorted. */
export function cGuestFolders(root: string = GUEST_MODULES_DIR): string[] {
  return guestFolders(root).filter((dir) => cSources(dir).length > 0);
}

/**
 * Builds the C module in `dir` into a component, writes it to `outFile` and
 * returns its bytes. Throws BuildError with one sentence saying what failed
 * and how to fix it (compiler output follows it when the source is at fault).
 */
export async function buildCModule(dir: string, outFile: string, opts: CBuildOptions = {}): Promise<Uint8Array> {
  const moduleDir = resolve(dir);
  const name = basename(moduleDir);
  const progress = (msg: string) => opts.onProgress?.(`${name}: ${msg}`);
  const started = performance.now();

  if (!existsSync(moduleDir)) throw new BuildError(`${dir} does not exist; give the folder of a C guest module.`);
  const sources = cSources(moduleDir);
  if (sources.length === 0) throw new BuildError(`${dir} has no .c files; a C guest module is a folder of C sources.`);
  // Before compiling: a missing wasm-tools is said at once, not after clang.
  requireFeature('c-build');
  const config = readModuleConfig(moduleDir);
  const extraWit = config.wit ? readConfigFile(moduleDir, config.wit) : '';
  const toolchain = await findToolchain();
  const defines = opts.defines ?? [];

  const work = await mkdtemp(join(tmpdir(), 'pamwasm-c-'));
  try {
    const coreFile = join(work, 'core.wasm');
    progress(`compiling ${sources.length} C file${sources.length === 1 ? '' : 's'} with the SDK`);
    const warnings = await compileAndLink(moduleDir, sources, coreFile, toolchain, config, defines);
    if (warnings) progress(`compiler warnings:\n${warnings}`);
    const core = new Uint8Array(await readFile(coreFile));
    const names = functionNames(core);
    checkCoreImports(name, core, names, config, extraWit);
    if (!opts.allowHookProblems) checkHooks(name, moduleDir, sources, names);

    const world = config.world ?? WORLD_NAME;
    progress(`making the ${world} component${config.wasi ? ' with the WASI preview1 adapter' : ''}`);
    // Outside the try: a missing adapter is a missing package, not a disagreement with wit/.
    const adapters: [string, Uint8Array][] | undefined = config.wasi
      ? [['wasi_snapshot_preview1', await readAdapter()]]
      : undefined;
    let component: Uint8Array;
    try {
      const { componentEmbed, componentNew } = await wasmTools();
      const embedded = await componentEmbed({ binary: core, witSource: `${witSource()}\n${extraWit}`, world });
      component = await componentNew(embedded, adapters);
    } catch (e) {
      if (e instanceof BuildError) throw e;
      throw new BuildError(
        config.wit
          ? `wasm-tools could not make a ${world} component of ${dir} (${errorText(e)}); check ${config.wit} and the module's imports against it.`
          : `wasm-tools could not make a ${world} component of ${dir} (${errorText(e)}); the SDK glue and wit/ disagree, rebuild with a matching SDK.`,
        { cause: e },
      );
    }

    await mkdir(dirname(resolve(outFile)), { recursive: true });
    await writeFile(outFile, component);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    progress(`wrote ${outFile} (${(component.length / 1024).toFixed(1)} KB, ${seconds} s)`);
    return component;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * jco-transpile's wasm-tools, an optional peer dependency: imported only
 * when a C module is built, so that loading the package needs none of it.
 */
async function wasmTools(): Promise<typeof import('@bytecodealliance/jco-transpile/wasm-tools')> {
  requireFeature('c-build');
  return import('@bytecodealliance/jco-transpile/wasm-tools');
}

function cSources(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.c')).sort();
}

/** The folder's build.json, checked; `{}` when there is none. */
export function readModuleConfig(dir: string): CModuleConfig {
  const file = join(dir, BUILD_CONFIG);
  if (!existsSync(file)) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new BuildError(`${file} is not valid JSON (${errorText(e)}); write an object such as {"wasi": true}.`, { cause: e });
  }
  const known = { wasi: 'boolean', wit: 'string', world: 'string' } as const;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new BuildError(`${file} must hold a JSON object with any of ${Object.keys(known).join(', ')}.`);
  }
  for (const [key, value] of Object.entries(raw)) {
    const want = known[key as keyof typeof known];
    if (!want) throw new BuildError(`${file} has an unknown setting "${key}": the settings are ${Object.keys(known).join(', ')}.`);
    if (typeof value !== want) throw new BuildError(`${file}: "${key}" must be a ${want}.`);
  }
  const config = raw as CModuleConfig;
  if (config.world && !config.wit && config.world !== WORLD_NAME) {
    throw new BuildError(`${file} names world "${config.world}" but no "wit" file declaring it; add "wit": "<file>.wit".`);
  }
  return config;
}

function readConfigFile(dir: string, name: string): string {
  const file = join(dir, name);
  if (name.includes('/') || !existsSync(file)) {
    throw new BuildError(`${join(dir, BUILD_CONFIG)} names "${name}", which is not a file in ${dir}.`);
  }
  return readFileSync(file, 'utf8');
}

async function readAdapter(): Promise<Uint8Array> {
  const file = preview1ReactorAdapter();
  if (!file) throw missingDependency('c-wasi-build', ['@bytecodealliance/jco-glue']);
  return new Uint8Array(await readFile(file));
}

interface Toolchain {
  clang: string;
  /** clang's own headers (stddef.h, stdarg.h, ...). */
  resourceInclude: string;
  wasiInclude: string;
  wasiLib: string;
}

/** Toolchain lookups by clang and wasi-libc prefix; a failed lookup is dropped, so a fixed setup is found. */
const toolchains = new Map<string, Promise<Toolchain>>();

/** The toolchain the environment names, looked up once per process. */
function findToolchain(): Promise<Toolchain> {
  const compiler = clang();
  const prefix = wasiLibcPrefix();
  const key = JSON.stringify([compiler, prefix]);
  let found = toolchains.get(key);
  if (!found) {
    found = lookUpToolchain(compiler, prefix);
    toolchains.set(key, found);
    found.catch(() => toolchains.delete(key));
  }
  return found;
}

async function lookUpToolchain(compiler: string, prefix: string): Promise<Toolchain> {
  let resourceDir: string;
  try {
    resourceDir = (await run(compiler, ['-print-resource-dir'])).stdout.trim();
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new BuildError(
      missing
        ? `${compiler} was not found, and C guest modules need it: ${INSTALL_HINT}.`
        : `${compiler} -print-resource-dir failed (${errorText(e)}); check the clang installation, or ${INSTALL_HINT}.`,
      { cause: e },
    );
  }
  const wasiInclude = join(prefix, 'include', 'wasm32-wasi');
  const wasiLib = join(prefix, 'lib', 'wasm32-wasi');
  if (!existsSync(join(wasiInclude, 'stdlib.h')) || !existsSync(join(wasiLib, 'libc.a'))) {
    throw new BuildError(
      `wasi-libc was not found under ${prefix} (no ${wasiLib}/libc.a), and C guest modules need it: ${INSTALL_HINT}, or set PAMWASM_WASI_LIBC to its prefix.`,
    );
  }
  return { clang: compiler, resourceInclude: join(resourceDir, 'include'), wasiInclude, wasiLib };
}

/**
 * The flags every C source is compiled with. Why each flag:
 *  -nostdinc + explicit -isystem: only clang's and wasi-libc's headers, never
 *    the build machine's /usr/include (glibc's <syslog.h> would be found there);
 *  -I sdk/include first: the SDK's <security/*.h> and <syslog.h>;
 *  -D_GNU_SOURCE: Linux-PAM modules are built that way (vasprintf, ...);
 *  -DPAMWASM_WASI (build.json "wasi"): the SDK leaves wasi-libc's stdio alone;
 *  -g0, -ffile-prefix-map, relative module paths: no path of this machine in
 *    the output, so the bytes do not depend on where the folder is.
 */
function compileFlags(tc: Toolchain, wasi: boolean, defines: string[]): string[] {
  return [
    '--target=wasm32-wasi', '-O2', '-std=gnu11', '-D_GNU_SOURCE', '-g0',
    ...(wasi ? ['-DPAMWASM_WASI'] : []),
    ...defines.map((d) => `-D${d}`),
    '-Wall', '-Werror=implicit-function-declaration',
    '-nostdinc',
    '-isystem', tc.resourceInclude,
    '-I', join(C_SDK_DIR, 'include'),
    '-isystem', tc.wasiInclude,
  ];
}

/**
 * The link flags. Why each flag:
 *  -nostartfiles --no-entry: a library of exports, no _start/main; the glue
 *    runs static constructors itself;
 *  -nodefaultlibs -lc: wasi-libc without compiler-rt, which Debian ships
 *    separately and nothing here needs;
 *  --strip-debug: wasi-libc's archive carries DWARF; the name section stays
 *    so traps show function names;
 *  --stack-first: the 64 KiB C stack sits at the bottom of memory, below the
 *    data, so a runaway recursion goes below address 0 and traps at once,
 *    instead of growing down over the module's globals and heap.
 */
function linkFlags(tc: Toolchain): string[] {
  return [
    '-nostartfiles', '-nodefaultlibs',
    '-Wl,--no-entry', '-Wl,--strip-debug', '-Wl,--stack-first', '-Wl,-z,stack-size=65536',
    `-L${tc.wasiLib}`,
  ];
}

/** The SDK compiled to objects, by file name in its sources' sorted order, and what the compiler warned. */
interface SdkObjects {
  objects: Map<string, Uint8Array>;
  warnings: string;
}

/** SDK objects by toolchain and compile flags; a failed compile is dropped. */
const sdkBuilds = new Map<string, Promise<SdkObjects>>();

/**
 * The SDK's sources compiled once per process for each toolchain and set of
 * flags (the `wasi` variant, the defines), with the flags a module's own
 * sources get: linking these objects gives the same bytes as compiling the
 * SDK's sources along with every module. They are kept in memory, not in a
 * folder, so nothing is left behind however the process ends.
 */
function sdkObjects(tc: Toolchain, wasi: boolean, defines: string[]): Promise<SdkObjects> {
  const flags = [...compileFlags(tc, wasi, defines), `-ffile-prefix-map=${C_SDK_DIR}=sdk/c`];
  const key = JSON.stringify([tc.clang, flags]);
  let built = sdkBuilds.get(key);
  if (!built) {
    built = compileSdk(tc, flags);
    sdkBuilds.set(key, built);
    built.catch(() => sdkBuilds.delete(key));
  }
  return built;
}

async function compileSdk(tc: Toolchain, flags: string[]): Promise<SdkObjects> {
  const srcDir = join(C_SDK_DIR, 'src');
  const work = await mkdtemp(join(tmpdir(), 'pamwasm-c-sdk-'));
  try {
    const compiled = await Promise.allSettled(cSources(srcDir).map(async (file): Promise<[string, Uint8Array, string]> => {
      const object = `${basename(file, '.c')}.o`;
      try {
        const { stderr } = await run(tc.clang, [...flags, '-c', '-o', join(work, object), join(srcDir, file)], srcDir);
        return [object, new Uint8Array(await readFile(join(work, object))), stderr.trim()];
      } catch (e) {
        const stderr = String((e as { stderr?: string }).stderr ?? '').trim();
        throw new BuildError(`cannot compile the C SDK in ${C_SDK_DIR}: fix the source (compiler output below).\n${stderr || errorText(e)}`, { cause: e });
      }
    }));
    const objects = new Map<string, Uint8Array>();
    const warnings: string[] = [];
    for (const r of compiled) {
      if (r.status === 'rejected') throw r.reason;
      const [object, bytes, warned] = r.value;
      objects.set(object, bytes);
      if (warned) warnings.push(warned);
    }
    return { objects, warnings: warnings.join('\n') };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * One clang run compiles the module's sources and links them with the SDK's
 * objects (written next to `coreFile`); returns the compiler's warnings (the
 * SDK's first).
 */
async function compileAndLink(
  moduleDir: string, sources: string[], coreFile: string, tc: Toolchain, config: CModuleConfig, defines: string[],
): Promise<string> {
  const sdk = await sdkObjects(tc, config.wasi === true, defines);
  const sdkDir = join(dirname(coreFile), 'sdk');
  await mkdir(sdkDir);
  const sdkFiles = await Promise.all([...sdk.objects].map(async ([name, bytes]) => {
    await writeFile(join(sdkDir, name), bytes);
    return join(sdkDir, name);
  }));
  const args = [
    ...compileFlags(tc, config.wasi === true, defines),
    `-ffile-prefix-map=${moduleDir}=.`,
    `-ffile-prefix-map=${C_SDK_DIR}=sdk/c`,
    ...linkFlags(tc),
    '-o', coreFile,
    ...sources, ...sdkFiles,
    '-lc',
  ];
  try {
    const warnings = (await run(tc.clang, args, moduleDir)).stderr.trim();
    return [sdk.warnings, warnings].filter(Boolean).join('\n');
  } catch (e) {
    const stderr = String((e as { stderr?: string }).stderr ?? '').trim();
    if (/wasm-ld.*(not found|doesn't exist|No such file)/i.test(stderr)) {
      throw new BuildError(`wasm-ld (lld) was not found, and linking C guest modules needs it: ${INSTALL_HINT}.`, { cause: e });
    }
    const undefinedSymbols = [...stderr.matchAll(/undefined symbol: (\S+)/g)].map((m) => m[1]);
    const hint = undefinedSymbols.length > 0
      ? `${[...new Set(undefinedSymbols)].join(', ')} ${undefinedSymbols.length === 1 ? 'is' : 'are'} not provided by the SDK or wasi-libc; remove the call${undefinedSymbols.length === 1 ? '' : 's'}`
      : 'fix the source';
    throw new BuildError(`cannot build the C module in ${moduleDir}: ${hint} (compiler output below).\n${stderr || errorText(e)}`, { cause: e });
  }
}

/**
 * clang runs `wasm-opt` after linking a wasm target whenever it finds one on
 * PATH, and npm scripts put node_modules/.bin (where binaryen's wasm-opt
 * lives) first on PATH: the same build would then give other bytes under
 * `npm run` than from a shell. Builds are reproducible only without it.
 */
function toolchainEnv(): NodeJS.ProcessEnv {
  const path = (process.env.PATH ?? '').split(delimiter).filter((p) => p && !/node_modules[\\/]\.bin$/.test(p));
  return { ...process.env, PATH: path.join(delimiter) };
}

function run(cmd: string, args: string[], cwd?: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    execFile(cmd, args, { cwd, env: toolchainEnv(), maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stdout, stderr }));
      else resolveRun({ stdout, stderr });
    });
  });
}

function errorText(e: unknown): string {
  return (e as Error)?.message ?? String(e);
}
