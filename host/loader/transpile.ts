/**
 * Turns component bytes into jco's JavaScript glue plus the core modules it
 * instantiates, in memory. Sync instantiation is used: every call into a
 * module is a plain function call, with no promise per hook.
 *
 * jco-transpile is imported on first use: a process that finds every
 * component in the disk cache (cache.ts) never loads it.
 */
import { MalformedModuleError } from '../errors/index.js';

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

const NAME = 'module';
const decoder = new TextDecoder();

export async function transpileComponent(bytes: Uint8Array, where = 'the component'): Promise<Transpiled> {
  const { transpileBytes } = await import('@bytecodealliance/jco-transpile');
  let out;
  try {
    out = await transpileBytes(bytes, { name: NAME, instantiation: { tag: 'sync' } });
  } catch (e) {
    const reason = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    throw new MalformedModuleError(`${where} is not a valid component (${reason}); rebuild it from its source.`, { cause: e });
  }
  const files = new Map<string, string>();
  const cores = new Map<string, Uint8Array>();
  for (const [file, data] of Object.entries(out.files)) {
    if (file.endsWith('.wasm')) cores.set(file, data);
    else files.set(file, decoder.decode(data));
  }
  return { name: NAME, files, cores, imports: out.imports, exports: out.exports };
}
