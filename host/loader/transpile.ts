/**
 * Turns component bytes into jco's JavaScript glue plus the core modules it
 * instantiates, in memory. Sync instantiation is used: every call into a
 * module is a plain function call, with no promise per hook.
 *
 * The glue comes from jco 1.11.2's bindings generator (the package
 * `@bytecodealliance/jco-glue`, an npm alias pinned to that exact version),
 * not from jco-transpile, which the project keeps for wasm-tools. Later
 * generators emit, for every component, the component-model-async runtime
 * (tasks, waitables, a dozen classes) inside `instantiate()`, and a
 * `process.env.JCO_DEBUG` read on every call. Per module instance (docs/performance.md), jco-transpile 0.15's glue is 104 KB for pam_permit,
 * instantiates in 174 us and costs 6.3 us a close; 1.11.2's is 8 KB, 23 us
 * and 0.63 us. 1.12.0 already adds the per-call env read, so the alias must
 * stay pinned to 1.11.2 exactly (its `jco` command now takes
 * node_modules/.bin/jco; the project runs neither). The session-module world
 * is all synchronous, so nothing of the async runtime is missed; its
 * TypeScript declarations (world.ts reads them) print the same as
 * jco-transpile 0.15's for every guest and hostile module in the repo.
 *
 * The generator is given the component's skeleton (skeleton.ts: its core
 * modules without function bodies, which it would spend seconds validating
 * in a large guest) and the original core modules are put back in its
 * output. It is imported on first use: a process that finds every
 * component in the disk cache (cache.ts) never loads it.
 */
import { requireFeature } from '../deps/index.js';
import { MalformedModuleError } from '../errors/index.js';
import { skeletonOf, type Skeleton } from './skeleton.js';

export interface Transpiled {
  /** The base name jco gave the files (`<name>.js`, `<name>.d.ts`, `<name>.core.wasm`...). */
  readonly name: string;
  /** Text outputs: the glue JS and the TypeScript declarations, by file name. */
  readonly files: Map<string, string>;
  /** Core modules by file name, in the form `getCoreModule` asks for them. */
  readonly cores: Map<string, Uint8Array>;
  /** Imported interfaces as jco names them (`pamwasm:session/items`, `wasi:...`). */
  readonly imports: string[];
  /** Exported names with their kind. */
  readonly exports: [string, 'function' | 'instance'][];
}

/** The package that generates the glue: cache.ts keys entries on its name and version. */
export const GLUE_GENERATOR = '@bytecodealliance/jco-glue';

const NAME = 'module';
const decoder = new TextDecoder();

type Generated = { files: [string, Uint8Array][]; imports: string[]; exports: [string, 'function' | 'instance'][] };

export async function transpileComponent(bytes: Uint8Array, where = 'the component'): Promise<Transpiled> {
  // An optional peer dependency: components the fast path plans never need it.
  requireFeature('jco-glue');
  const { generate } = await import('@bytecodealliance/jco-glue/component');
  const run = async (b: Uint8Array): Promise<Generated> => generate(b, { name: NAME, instantiation: { tag: 'sync' } });
  let out: Generated | undefined;
  try {
    // Any doubt about the skeleton (bytes the walk cannot follow, a generator
    // that refuses it, a hollow module not found) falls back to the whole
    // component, whose answer is the one that counts.
    const skeleton = (() => { try { return skeletonOf(bytes); } catch { return undefined; } })();
    if (skeleton) out = await run(skeleton.bytes).then((o) => restore(o, skeleton), () => undefined);
    out ??= await run(bytes);
  } catch (e) {
    const reason = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    throw new MalformedModuleError(`${where} is not a valid component (${reason}); rebuild it from its source.`, { cause: e });
  }
  const files = new Map<string, string>();
  const cores = new Map<string, Uint8Array>();
  for (const [file, data] of out.files) {
    if (file.endsWith('.wasm')) cores.set(file, data);
    else files.set(file, decoder.decode(data));
  }
  return { name: NAME, files, cores, imports: out.imports, exports: out.exports };
}

/**
 * The generator's output with each hollow core module replaced by its
 * original; undefined unless every hollow module is found there verbatim
 * (then the caller generates from the original component).
 */
function restore(out: Generated, skeleton: Skeleton): Generated | undefined {
  const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
  const found = new Set<number>();
  const files = out.files.map(([file, data]): [string, Uint8Array] => {
    if (!file.endsWith('.wasm')) return [file, data];
    const i = skeleton.modules.findIndex((m) => same(data, m.hollow));
    if (i < 0) return [file, data];
    found.add(i);
    return [file, skeleton.modules[i].original.slice()];
  });
  return found.size === skeleton.modules.length ? { ...out, files } : undefined;
}
