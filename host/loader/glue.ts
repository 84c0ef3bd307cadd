/**
 * Evaluating jco's generated glue: the JavaScript that instantiates a
 * component's core modules and lifts and lowers values across them.
 *
 * jco's glue is an ES module that imports nothing and exports `instantiate`
 * (later generators also an empty `_util`). Run as a strict-mode function in
 * a script of this context it is the same code at a fraction of the cost of
 * importing it from a data: URL (no base64, no ES module loader), and V8 can
 * hand back a code cache for it: the glue's functions are compiled lazily,
 * most on the first hook call, which a code cache made after that call saves
 * the next process. Both matter to `pamwasm exec`, which starts at every
 * login. Glue of any other shape is imported as a module.
 *
 * The script is evaluated once per component; each `instantiate()` call
 * builds its own closure (memories, resource tables, the core instances), so
 * instances share no state.
 */
import { Script } from 'node:vm';
import type { ImportObject, InstantiateCore, ModuleInstance } from './index.js';

export type Instantiate = (
  getCoreModule: (name: string) => WebAssembly.Module,
  imports: ImportObject,
  instantiateCore?: InstantiateCore,
) => ModuleInstance;

export interface Glue {
  instantiate: Instantiate;
  /** V8's code cache of the glue as far as it has run (script glue only). */
  codeCache?: () => Buffer;
  /** True when a code cache was given and V8 took it. */
  cacheUsed: boolean;
}

/** Whether `js` has exactly the shape of jco's glue that can run as a script. */
function isPlainGlue(js: string): boolean {
  const topLevel = js.match(/^[ \t]*(export|import)\b.*$/gm) ?? [];
  const util = /^export const _util = \{/m.test(js) ? 1 : 0;
  return topLevel.length === 1 + util && /^export function instantiate\(/m.test(js) && !/\bimport\s*[(.]/.test(js);
}

/**
 * Evaluates `js`. `cachedData` must be a code cache made from this very
 * text (V8 checks its version and flags, but of the source only the length:
 * the caller binds the cache to the text's hash).
 */
export async function evaluateGlue(js: string, source: string, cachedData?: Uint8Array): Promise<Glue> {
  if (isPlainGlue(js)) {
    const body = js.replace(/^export function instantiate\(/m, 'function instantiate(').replace(/^export const _util = /m, 'const _util = ');
    const script = new Script(`(function () {'use strict';\n${body}\nreturn instantiate;\n})`, {
      filename: `${source} (jco glue)`,
      cachedData: cachedData && Buffer.from(cachedData.buffer, cachedData.byteOffset, cachedData.byteLength),
    });
    const instantiate = (script.runInThisContext() as () => Instantiate)();
    return { instantiate, codeCache: () => script.createCachedData(), cacheUsed: cachedData !== undefined && script.cachedDataRejected === false };
  }
  const url = `data:text/javascript;base64,${Buffer.from(js).toString('base64')}`;
  const mod = (await import(url)) as { instantiate: Instantiate };
  return { instantiate: mod.instantiate, cacheUsed: false };
}
