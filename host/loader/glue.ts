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
 *
 * Before it runs, every place where the glue reads a string or a list out of
 * guest memory for a host function is rewritten to read it through
 * `guestBytes` (lift.ts), given the host function that its trampoline calls:
 * so a guest argument is bounded by that function's limit before it is
 * decoded, as on the fast path. Glue with a read of guest memory that is not
 * rewritten, or that cannot take the reader, is refused.
 */
import { Script } from 'node:vm';
import { MalformedModuleError } from '../errors/index.js';
import type { ImportObject, InstantiateCore, ModuleInstance } from './index.js';
import { guestBytes } from './lift.js';

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

/** The glue's reads of guest memory for a host function: a string, and a list of bytes. */
const STRING_LIFT = /utf8Decoder\.decode\(new Uint8Array\((memory\d+)\.buffer, (ptr\d+), (len\d+)\)\)/g;
const BYTES_LIFT = /new Uint8Array\((memory\d+)\.buffer\.slice\((ptr\d+), \2 \+ (len\d+) \* 1\)\)/g;
/** An array over guest memory left after the rewrite: only a lowering's write (`.set(src)`) may remain. */
const MEMORY_ARRAY = /new Uint8Array\(memory\d+\.buffer[^;\n]*/g;
const LOWER_WRITE = /^new Uint8Array\(memory\d+\.buffer, ptr\d+, len\d+ \* 1\)\)\.set\(src\d+\)$/;
const TRAMPOLINE = /^ *function trampoline\d+\(/m;
/** The parameter through which the rewritten glue receives `guestBytes`. */
const READER = '$guestBytes';

/**
 * `js` with each read of a string or byte list out of guest memory going
 * through `READER`, given the host function its trampoline calls (one of
 * the names the glue takes from `imports`). Throws on a read it cannot
 * rewrite.
 */
export function boundGlueReads(js: string, source: string): string {
  const hostNames = new Set<string>();
  for (const m of js.matchAll(/^ *const \{ ([\w, ]+) \} = imports\['[^']+'\];$/gm)) for (const n of m[1].split(', ')) hostNames.add(n);
  // A plain call of one of them (not a method such as `console.error(`).
  const calls = new RegExp(`(?<![\\w.$])(${[...hostNames].join('|') || '(?!)'})\\(`);
  // Trampolines one by one: the text before the first is the prelude.
  const parts = js.split(/(?=^ *function trampoline\d+\()/m);
  const out = parts.map((part) => {
    if (!TRAMPOLINE.test(part)) return part;
    const host = calls.exec(part.replace(TRAMPOLINE, ''))?.[1] ?? 'undefined';
    return part
      .replace(STRING_LIFT, (_m, mem, ptr, len) => `utf8Decoder.decode(${READER}(${mem}, ${ptr}, ${len}, ${host}))`)
      .replace(BYTES_LIFT, (_m, mem, ptr, len) => `${READER}(${mem}, ${ptr}, ${len}, ${host}).slice()`);
  }).join('');
  const unknown = [...out.matchAll(MEMORY_ARRAY)].find((m) => !LOWER_WRITE.test(m[0]));
  if (unknown) {
    throw new MalformedModuleError(`${source}: jco's glue reads guest memory in a way the sandbox cannot bound (\`${unknown[0]}\`); it is refused.`);
  }
  return out;
}

/**
 * Evaluates `js`. `cachedData` must be a code cache made from this very
 * text (V8 checks its version and flags, but of the source only the length:
 * the caller binds the cache to the text's hash).
 */
export async function evaluateGlue(js: string, source: string, cachedData?: Uint8Array): Promise<Glue> {
  const bounded = boundGlueReads(js, source);
  if (isPlainGlue(bounded)) {
    const body = bounded.replace(/^export function instantiate\(/m, 'function instantiate(').replace(/^export const _util = /m, 'const _util = ');
    const script = new Script(`(function (${READER}) {'use strict';\n${body}\nreturn instantiate;\n})`, {
      filename: `${source} (jco glue)`,
      cachedData: cachedData && Buffer.from(cachedData.buffer, cachedData.byteOffset, cachedData.byteLength),
    });
    const instantiate = (script.runInThisContext() as (reader: typeof guestBytes) => Instantiate)(guestBytes);
    return { instantiate, codeCache: () => script.createCachedData(), cacheUsed: cachedData !== undefined && script.cachedDataRejected === false };
  }
  if (bounded.includes(READER)) {
    throw new MalformedModuleError(`${source}: jco's glue is not of the shape that can be given the sandbox's reader of guest memory; it is refused.`);
  }
  const url = `data:text/javascript;base64,${Buffer.from(js).toString('base64')}`;
  const mod = (await import(url)) as { instantiate: Instantiate };
  return { instantiate: mod.instantiate, cacheUsed: false };
}
