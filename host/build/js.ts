/**
 * Builds PAM session modules written in JS or TS into components of the
 * `session-module` world: esbuild bundles the module folder into one ES
 * module, then componentize-js snapshots it into a SpiderMonkey component
 * (about 12 MB) that imports nothing but the world's interfaces.
 *
 * @example
 *   const bytes = await buildJsModule('guest-modules/pam_setenv', 'guest-modules/dist/pam_setenv.wasm',
 *     { onProgress: (m) => console.error(m) });
 *   await buildJsModules('guest-modules/dist');   // every JS guest, through the cache
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BuildFailure, Message, Metafile, Plugin } from 'esbuild';
import { missingDependency, requireFeature } from '../deps/index.js';
import { BuildError } from '../errors/index.js';
import { packageRoot, witSource, WIT_PACKAGE, WIT_VERSION, WORLD_IMPORTS, WORLD_NAME } from '../wit/index.js';
import { GUEST_DIST_DIR, GUEST_MODULES_DIR, guestFolders } from './guests.js';
import { hookGuard } from './js-guard.js';
import { typeCheckModule } from './js-typecheck.js';
import { writeGuestTypes } from './js-types.js';

export interface JsBuildOptions {
  /** Called with a short line at each step and every few seconds while componentizing. */
  onProgress?: (msg: string) => void;
  /**
   * Folder of built components keyed by what went into them; when set, a
   * module whose bundle, WIT and componentize-js version are unchanged is
   * copied from there instead of rebuilt. No cache by default.
   */
  cacheDir?: string;
  /** Stops a componentize step that runs longer (default 300 s): the module's top-level code runs then. */
  timeoutMs?: number;
}

/** One module built by `buildJsModules`. */
export interface JsModuleBuild {
  name: string;
  dir: string;
  outFile: string;
  bytes: number;
  cached: boolean;
  ms: number;
}

/** Guest sources and built components (host/build/guests.ts), for the callers of this module. */
export { GUEST_DIST_DIR, GUEST_MODULES_DIR };

/** The JS/TS SDK's entry, which modules import as `pamwasm/sdk` (the package's export of it). */
export const JS_SDK_ENTRY = join(packageRoot(), 'guest-modules', 'sdk', 'js', 'index.ts');

/** The component cache of this installation. */
export const JS_CACHE_DIR = join(packageRoot(), '.cache', 'js-guests');

/**
 * Every WASI feature of the engine is disabled, so the component imports the
 * world's interfaces and nothing else: no stdio, clocks, randomness or
 * network for the host to grant or stub.
 */
const COMPONENTIZE_OPTIONS = {
  worldName: WORLD_NAME,
  disableFeatures: ['stdio', 'random', 'clocks', 'http', 'fetch-event'],
} as const;

const PROGRESS_EVERY_MS = 5_000;
const DEFAULT_TIMEOUT_MS = 300_000;

/**
 * Builds the JS/TS module in `dir` into a component, writes it to `outFile`
 * and returns its bytes. The entry is package.json `main` when there is one,
 * else `index.ts`, else `index.js`. Throws BuildError with one sentence saying
 * what failed, where, and how to fix it.
 */
export async function buildJsModule(dir: string, outFile: string, opts: JsBuildOptions = {}): Promise<Uint8Array> {
  return (await build(dir, outFile, opts)).component;
}

/**
 * Builds every JS guest under guest-modules/ (a folder with an entry and no
 * `.c` files) into `outDir/<folder>.wasm`, through the cache in
 * `.cache/js-guests/` unless `opts.cacheDir` names another. Also refreshes
 * the SDK's generated `session.d.ts`.
 */
export async function buildJsModules(outDir: string = GUEST_DIST_DIR, opts: JsBuildOptions = {}): Promise<JsModuleBuild[]> {
  const progress = opts.onProgress ?? (() => {});
  try {
    if (await writeGuestTypes()) progress('sdk/js: session.d.ts regenerated from wit/');
  } catch (e) {
    // A read-only installation can still build; the declarations only help editors.
    progress(`sdk/js: cannot refresh session.d.ts (${(e as Error).message})`);
  }
  const results: JsModuleBuild[] = [];
  for (const dir of jsGuestFolders()) {
    const name = basename(dir);
    const outFile = join(outDir, `${name}.wasm`);
    const started = performance.now();
    const { component, cached } = await build(dir, outFile, { ...opts, cacheDir: opts.cacheDir ?? JS_CACHE_DIR });
    results.push({ name, dir, outFile, bytes: component.length, cached, ms: Math.round(performance.now() - started) });
  }
  return results;
}

/** The JS guest module folders under `root`: an entry file and no C sources. */
export function jsGuestFolders(root: string = GUEST_MODULES_DIR): string[] {
  return guestFolders(root).filter((dir) => !readdirSync(dir).some((f) => f.endsWith('.c')) && findEntry(dir) !== undefined);
}

/** The module's entry file: package.json `main`, else index.ts, else index.js. */
export function findEntry(dir: string): string | undefined {
  const pkgFile = join(dir, 'package.json');
  if (existsSync(pkgFile)) {
    let main: unknown;
    try {
      main = JSON.parse(readFileSync(pkgFile, 'utf8')).main;
    } catch (e) {
      throw new BuildError(`${pkgFile} is not valid JSON (${(e as Error).message}); fix it or remove it.`, { cause: e });
    }
    if (typeof main === 'string') return resolve(dir, main);
  }
  return ['index.ts', 'index.js'].map((f) => join(dir, f)).find((f) => existsSync(f));
}

async function build(dir: string, outFile: string, opts: JsBuildOptions): Promise<{ component: Uint8Array; cached: boolean }> {
  const name = basename(resolve(dir));
  const progress = (msg: string) => opts.onProgress?.(`${name}: ${msg}`);
  const started = performance.now();
  const seconds = () => ((performance.now() - started) / 1000).toFixed(1);

  const entry = findEntry(dir);
  if (!entry) {
    throw new BuildError(`${dir} has no module entry: add index.ts or index.js, or a package.json whose "main" names the entry file.`);
  }
  if (!existsSync(entry)) {
    throw new BuildError(`${dir}/package.json names the entry ${entry}, which does not exist; fix its "main" field.`);
  }

  // Before any work: every builder package that is missing, in one install line.
  requireFeature('js-build');
  if (entry.endsWith('.ts')) {
    progress('type-checking');
    await typeCheckModule(entry, progress);
  }
  progress(`bundling ${entry}`);
  const source = await bundle(entry);

  const cacheFile = opts.cacheDir ? join(opts.cacheDir, `${name}-${cacheKey(source).slice(0, 32)}.wasm`) : undefined;
  if (cacheFile && existsSync(cacheFile)) {
    const component = new Uint8Array(await readFile(cacheFile));
    await writeOut(outFile, component);
    progress(`unchanged, copied the cached component to ${outFile} (${seconds()} s)`);
    return { component, cached: true };
  }

  progress('componentizing (this takes 5-15 s)');
  const ticker = setInterval(() => progress(`componentizing... ${Math.round(Number(seconds()))} s`), PROGRESS_EVERY_MS);
  let component: Uint8Array;
  try {
    component = await componentizeInChild(dir, source, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  } finally {
    clearInterval(ticker);
  }

  await writeOut(outFile, component);
  if (cacheFile) await storeInCache(cacheFile, name, component);
  progress(`wrote ${outFile} (${(component.length / 1e6).toFixed(1)} MB, ${seconds()} s)`);
  return { component, cached: false };
}

/** Bundles the entry, behind the hook guard, into one ES module; the host's interfaces stay imports. */
async function bundle(entry: string): Promise<string> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch (e) {
    throw missingDependency('js-build', ['esbuild'], e);
  }
  const options = {
    bundle: true,
    format: 'esm' as const,
    // A guest runs in SpiderMonkey without Node or browser APIs.
    platform: 'neutral' as const,
    mainFields: ['module', 'main'],
    target: 'es2022',
    write: false as const,
    metafile: true as const,
    logLevel: 'silent' as const,
    legalComments: 'none' as const,
    plugins: [sessionImports()],
  };
  let result: { outputFiles: { text: string }[]; metafile: Metafile };
  try {
    // The module alone first: its own exports, and errors at its own lines.
    const own = await esbuild.build({ ...options, entryPoints: [entry] });
    const output = Object.values(own.metafile.outputs)[0];
    const missing = ['openSession', 'closeSession'].filter((x) => !output?.exports.includes(x));
    if (missing.length > 0) {
      throw new BuildError(
        `${entry} does not export ${missing.join(' or ')}: export both hooks as functions (flags, argv) => status (see guest-modules/sdk/js/README.md).`,
      );
    }
    result = await esbuild.build({ ...options, stdin: { contents: hookGuard(entry), resolveDir: dirname(entry), sourcefile: 'pamwasm-hook-guard.js', loader: 'js' } });
  } catch (e) {
    if (e instanceof BuildError) throw e;
    throw bundleError(entry, e);
  }
  return result.outputFiles[0].text;
}

/**
 * Resolves `pamwasm/sdk` to this installation's SDK, and
 * `pamwasm:session/<interface>` (with or without the version) to
 * the versioned name, the only one componentize-js resolves for the world's
 * imports, and keeps it external. Anything else under `pamwasm:` is refused
 * with a hint.
 */
function sessionImports(): Plugin {
  const available = WORLD_IMPORTS.join(', ');
  return {
    name: 'pamwasm-session',
    setup(b) {
      // The SDK of the host that builds the module, wherever the module's folder is.
      b.onResolve({ filter: /^pamwasm\/sdk$/ }, () => ({ path: JS_SDK_ENTRY }));
      b.onResolve({ filter: /^pamwasm:/ }, (args) => {
        const m = /^pamwasm:session\/([a-z][a-z0-9-]*)(?:@(.+))?$/.exec(args.path);
        const refuse = (text: string) => ({ errors: [{ text }] });
        if (!m) return refuse(`"${args.path}" is not a host interface; the host provides ${available}`);
        const [, iface, version] = m;
        if (version !== undefined && version !== WIT_VERSION) {
          return refuse(`"${args.path}" asks for version ${version}, but this host provides ${WIT_PACKAGE}@${WIT_VERSION}`);
        }
        if (iface === 'types') {
          return refuse(`"${args.path}" holds only types; import them with \`import type\``);
        }
        if (!WORLD_IMPORTS.includes(`${WIT_PACKAGE}/${iface}`)) {
          return refuse(`"${args.path}" is not a host interface; the host provides ${available}`);
        }
        return { path: `${WIT_PACKAGE}/${iface}@${WIT_VERSION}`, external: true };
      });
    },
  };
}

function bundleError(entry: string, e: unknown): BuildError {
  const first: Message | undefined = (e as Partial<BuildFailure>)?.errors?.[0];
  if (!first) return new BuildError(`bundling ${entry} failed: ${(e as Error)?.message ?? String(e)}; check the module's source.`, { cause: e });
  const where = first.location ? `${first.location.file}:${first.location.line}:${first.location.column + 1}` : entry;
  // The plugin's messages already say how to fix the import.
  const fix = first.pluginName ? ''
    : /Could not resolve/.test(first.text)
      ? '; a guest can import only relative files, bundleable npm packages and pamwasm:session/* (no Node or WASI modules)'
      : '; fix the source there';
  return new BuildError(`cannot bundle ${entry}: ${where}: ${first.text}${fix}.`, { cause: e });
}

/**
 * componentize-js's splicer and its wizer step block their thread for
 * several seconds, and wizer writes to the process's stdout. In a child
 * process the caller's event loop (progress, spinners) keeps running, the
 * output can be captured, a runaway build can be killed with its wizer
 * (own process group), and the splicer's preview2-shim state stays out of
 * the host process.
 *
 * The WIT goes in as a string (`witWorld`): with a path the splicer would
 * read it through the preview2-shim, which starts with no preopens.
 */
async function componentizeInChild(dir: string, source: string, timeoutMs: number): Promise<Uint8Array> {
  const work = await mkdtemp(join(tmpdir(), 'pamwasm-js-'));
  try {
    const sourcePath = join(work, 'module.js');
    const out = join(work, 'component.wasm');
    const job = join(work, 'job.json');
    await writeFile(sourcePath, source);
    const options = { ...COMPONENTIZE_OPTIONS, disableFeatures: [...COMPONENTIZE_OPTIONS.disableFeatures], sourcePath, witWorld: witSource() };
    const hooks = join(work, 'resolve-hooks.mjs');
    await writeFile(hooks, RESOLVE_HOOKS);
    // The shim resolves from here (this package's place in the app's tree) when not from componentize-js.
    await writeFile(job, JSON.stringify({ url: componentizeUrl(), options, out, hooks: pathToFileURL(hooks).href, shimParent: import.meta.url }));
    const { code, output, timedOut } = await runChild(['--input-type=module', '-e', CHILD_SOURCE, job], timeoutMs);
    if (timedOut) {
      throw new BuildError(
        `componentizing ${dir} took longer than ${Math.round(timeoutMs / 1000)} s and was stopped; the module's top-level code runs at build time, so look there for an endless loop.`,
      );
    }
    const notFound = /Cannot find (?:package|module) '((?:@[^/']+\/)?[^/'.][^/']*)/.exec(output);
    if (code !== 0 && notFound) {
      // A package componentize-js imports, not the module's code, is missing.
      throw missingDependency('js-build', [notFound[1]], new Error(output));
    }
    if (code !== 0) {
      throw new BuildError(
        `componentize-js could not build ${dir}: ${summarize(output)}; fix the module's top-level code, which runs at build time where host imports cannot be called.`,
        { cause: new Error(output) },
      );
    }
    return new Uint8Array(await readFile(out));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The lines of componentize-js/wizer output that say what went wrong, without backtraces. */
function summarize(output: string): string {
  const noise = /^(Failed to initialize component|Error: the `componentize.wizer` function trapped|Caused by:|\d+: error while executing|\d+: 0x[0-9a-f]+ - )/;
  const lines = output.split('\n').map((l) => l.trim()).filter((l) => l && !noise.test(l));
  return lines.slice(0, 2).map((l) => l.replace(/^\d+: /, '')).join(': ').slice(0, 500) || 'no output';
}

/**
 * Module resolution hooks for the child: componentize-js imports
 * `@bytecodealliance/preview2-shim` without declaring it, so in an app's
 * tree npm may put the shim where componentize-js cannot see it (nested
 * under jco). A shim import that does not resolve from its importer is
 * resolved from this package's place (`shimParent`) instead.
 */
const RESOLVE_HOOKS = `
let shimParent;
export function initialize(data) { shimParent = data.shimParent; }
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (e) {
    if (!specifier.startsWith('@bytecodealliance/preview2-shim')) throw e;
    return next(specifier, { ...context, parentURL: shimParent });
  }
}
`;

/** Runs in the child: `node --input-type=module -e CHILD_SOURCE job.json`. */
const CHILD_SOURCE = `
import { readFileSync, writeFileSync } from 'node:fs';
import { register } from 'node:module';
const { url, options, out, hooks, shimParent } = JSON.parse(readFileSync(process.argv[1], 'utf8'));
register(hooks, { data: { shimParent } });
const { componentize } = await import(url);
try {
  writeFileSync(out, (await componentize(options)).component);
} catch (e) {
  process.stderr.write(String((e && e.message) || e) + '\\n');
  process.exitCode = 1;
}
`;

function runChild(args: string[], timeoutMs: number): Promise<{ code: number | null; output: string; timedOut: boolean }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (output += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (output += s));
    // The negative pid is the child's process group: node and the wizer it spawned.
    const killGroup = () => {
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { child.kill('SIGKILL'); }
    };
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; killGroup(); }, timeoutMs);
    // Its own group also keeps it out of the caller's Ctrl-C, so stop it when the caller exits.
    process.once('exit', killGroup);
    const done = () => { clearTimeout(timer); process.off('exit', killGroup); };
    child.once('error', (e) => {
      done();
      reject(new BuildError(`cannot start ${process.execPath} to componentize: ${e.message}; check the Node installation.`, { cause: e }));
    });
    child.once('close', (code) => {
      done();
      resolveRun({ code, output, timedOut });
    });
  });
}

function componentizeUrl(): string {
  try {
    return import.meta.resolve('@bytecodealliance/componentize-js');
  } catch (e) {
    throw missingDependency('js-build', ['@bytecodealliance/componentize-js'], e);
  }
}

let componentizeVersion: string | undefined;

/** What decides the component's bytes: the bundle, the WIT, the tool and its options. */
function cacheKey(source: string): string {
  componentizeVersion ??= JSON.parse(
    readFileSync(join(dirname(fileURLToPath(componentizeUrl())), '..', 'package.json'), 'utf8'),
  ).version as string;
  return createHash('sha256')
    .update(JSON.stringify([componentizeVersion, COMPONENTIZE_OPTIONS, witSource(), source]))
    .digest('hex');
}

/** Writes through a temp file and a rename, so a reader never sees half a module. */
async function writeOut(outFile: string, component: Uint8Array): Promise<void> {
  await mkdir(dirname(outFile), { recursive: true });
  const tmp = `${outFile}.${process.pid}.tmp`;
  await writeFile(tmp, component);
  await rename(tmp, outFile);
}

/** Keeps one cached component per module name, written atomically. */
async function storeInCache(cacheFile: string, name: string, component: Uint8Array): Promise<void> {
  const dir = dirname(cacheFile);
  await writeOut(cacheFile, component);
  const mine = new RegExp(`^${name.replace(/[^\w]/g, '\\$&')}-[0-9a-f]{32}\\.wasm$`);
  const stale = (await readdir(dir)).filter((f) => mine.test(f) && join(dir, f) !== cacheFile);
  await Promise.all(stale.map((f) => unlink(join(dir, f)).catch(() => {})));
}
