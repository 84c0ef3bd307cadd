/**
 * Components of the session world crafted from a hand-written core module in
 * the WebAssembly text format, for the hostile corpus: a compiler never
 * emits what a hostile module is made of (a loop that writes one global past
 * the last, a table grown to ten million entries, bytes after a section's
 * end), so these modules are written by hand.
 *
 * A folder `guest-modules/hostile/<name>/` with `<name>.wat` is built here:
 *  - `<name>.wat` is the core module, written against the world's canonical
 *    ABI (imports such as `"pamwasm:session/log@0.1.0" "syslog"`, exports
 *    `open-session`, `close-session`, `cabi_realloc`, `memory`);
 *  - when the folder also has `shape.wat`, the component is made from that
 *    (valid) module, and its core module is then replaced, byte for byte,
 *    by the encoding of `<name>.wat`. That is how a module the component
 *    tooling would refuse (an invalid one, a shared memory) reaches the
 *    loader inside a well-formed component. `<name>.wat` must import and
 *    export what `shape.wat` does;
 *  - when the folder also has `extra.wat`, that core module is added to the
 *    component with a core instance of its own (no imports), which no
 *    canonical option uses: the place a shared memory or a start function
 *    can hide from the world's checks;
 *  - when the folder also has `<name>.patch`, its byte substitutions are
 *    made in the encoded core module: for an instruction the text parser no
 *    longer reads (legacy exception handling's `try` / `catch_all`, which
 *    Node 20's V8 runs and `try_table` it does not), written in the text as a
 *    stand-in of the same length. Each line is `<hex> => <hex>` (same
 *    length; `;;` starts a comment); every occurrence is replaced, and a
 *    pattern found nowhere is an error.
 *
 * `wasm-tools parse` encodes the text without validating it, so an index
 * past the end of its space is encoded as written. Builds are deterministic:
 * the same text gives the same bytes.
 *
 * @example
 *   const bytes = await craftComponent(readFileSync('loop_global/loop_global.wat', 'utf8'));
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { requireFeature } from '../deps/index.js';
import { BuildError } from '../errors/index.js';
import { COMPONENT_PREAMBLE, Reader } from '../wasm/index.js';
import { witSource, WORLD_NAME } from '../wit/index.js';

/** The component-model section that holds a core module. */
const CORE_MODULE_SECTION = 1;
const CORE_INSTANCE_SECTION = 2;

/** What a crafted module is made of besides its core module's text (see the file comment). */
export interface CraftParts {
  /** A valid module with the same imports and exports, to make the component from. */
  shape?: string;
  /** A core module added with a core instance of its own, instantiated after the others. */
  extra?: string;
  /** Same-length byte substitutions made in the encoded core module. */
  patch?: string;
}

/** The component for the core module `wat`, made of `parts` as the file comment says. */
export async function craftComponent(wat: string, parts: CraftParts = {}, where = 'the crafted module'): Promise<Uint8Array> {
  const { shape: shapeWat, extra: extraWat, patch } = parts;
  // An optional peer dependency, loaded only when a module is crafted.
  requireFeature('c-build');
  const { componentEmbed, componentNew, parse } = await import('@bytecodealliance/jco-transpile/wasm-tools');
  const encode = async (text: string, file: string) => {
    try {
      return await parse(text);
    } catch (e) {
      throw new BuildError(`${file} is not valid WebAssembly text (${firstLine(e)}); fix it and build again.`, { cause: e });
    }
  };
  const core = patch === undefined ? await encode(wat, where) : patchBytes(await encode(wat, where), patch, `${where} (patch)`);
  const shape = shapeWat === undefined ? core : await encode(shapeWat, `${where} (shape.wat)`);
  let component: Uint8Array;
  try {
    const embedded = await componentEmbed({ binary: shape, witSource: witSource(), world: WORLD_NAME });
    component = await componentNew(embedded);
  } catch (e) {
    const which = shapeWat === undefined ? where : `${where} (shape.wat)`;
    throw new BuildError(`${which} does not make a component of the session world (${firstLine(e)}); ` +
      'fix its imports and exports, or give the folder a valid shape.wat with the same ones.', { cause: e });
  }
  if (shapeWat !== undefined) component = replaceCoreModule(component, core);
  return extraWat === undefined ? component : addCoreInstance(component, await encode(extraWat, `${where} (extra.wat)`));
}

/** Builds the crafted module in `dir` (see the file comment). */
export async function buildCraftedModule(dir: string): Promise<Uint8Array> {
  const name = basename(dir);
  const file = join(dir, `${name}.wat`);
  const optional = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : undefined);
  return craftComponent(readFileSync(file, 'utf8'), { shape: optional('shape.wat'), extra: optional('extra.wat'), patch: optional(`${name}.patch`) }, file);
}

/** Whether `dir` holds a crafted module (`<name>.wat`). */
export function isCraftedFolder(dir: string): boolean {
  return existsSync(join(dir, `${basename(dir)}.wat`));
}

/** `bytes` with the substitutions of a `.patch` text made (see the file comment). */
function patchBytes(bytes: Uint8Array, patch: string, where: string): Uint8Array {
  let hex = Buffer.from(bytes).toString('hex');
  for (const [n, raw] of patch.split('\n').entries()) {
    const line = raw.replace(/;;.*/, '').trim();
    if (!line) continue;
    const m = /^((?:[0-9a-f]{2} ?)+)=>((?: ?[0-9a-f]{2})+)$/i.exec(line);
    const [find, put] = m ? [m[1], m[2]].map((h) => h.replace(/ /g, '').toLowerCase()) : [];
    if (!find || find.length !== put.length) throw new BuildError(`${where}:${n + 1}: write \`<hex> => <hex>\`, both of the same length.`);
    // Whole bytes only: a match at an odd hex offset straddles two bytes.
    const parts = hex.split(find);
    let at = 0;
    let found = 0;
    hex = parts.reduce((out, part, i) => {
      if (i === 0) { at = part.length; return part; }
      const whole = at % 2 === 0;
      at += find.length + part.length;
      if (whole) found++;
      return out + (whole ? put : find) + part;
    });
    if (found === 0) throw new BuildError(`${where}:${n + 1}: ${find} is not in the encoded module.`);
  }
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/** `component` with its first core module section's contents replaced by `core`. */
function replaceCoreModule(component: Uint8Array, core: Uint8Array): Uint8Array {
  const r = new Reader(component, COMPONENT_PREAMBLE.length, component.length);
  while (!r.done) {
    const header = r.pos;
    const id = r.u8();
    const size = r.u32();
    const contents = r.pos;
    r.take(size);
    if (id !== CORE_MODULE_SECTION) continue;
    const sizeBytes = uleb(core.length);
    const out = new Uint8Array(header + 1 + sizeBytes.length + core.length + (component.length - r.pos));
    out.set(component.subarray(0, header + 1), 0);
    out.set(sizeBytes, header + 1);
    out.set(core, header + 1 + sizeBytes.length);
    out.set(component.subarray(contents + size), header + 1 + sizeBytes.length + core.length);
    return out;
  }
  throw new BuildError('the shape component has no core module to replace.');
}

/**
 * `component` with `core` appended as one more core module section, and a
 * core instance section that instantiates it with no arguments (component
 * model Binary.md: `0x01 module`, `0x02 vec(core:instance)`, instance
 * `0x00 moduleidx vec(arg)`). Its index is the number of core module
 * sections before it: the components built here alias no core modules.
 */
function addCoreInstance(component: Uint8Array, core: Uint8Array): Uint8Array {
  const r = new Reader(component, COMPONENT_PREAMBLE.length, component.length);
  let modules = 0;
  while (!r.done) {
    const id = r.u8();
    r.take(r.u32());
    if (id === CORE_MODULE_SECTION) modules++;
  }
  const instance = [0x01, 0x00, ...uleb(modules), 0x00];
  return Uint8Array.from([
    ...component,
    CORE_MODULE_SECTION, ...uleb(core.length), ...core,
    CORE_INSTANCE_SECTION, ...uleb(instance.length), ...instance,
  ]);
}

function uleb(n: number): Uint8Array {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return Uint8Array.from(out);
}

const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];
