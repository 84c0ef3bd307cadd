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
 *    can hide from the world's checks.
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
import { BuildError } from '../errors/index.js';
import { componentEmbed, componentNew, parse } from '@bytecodealliance/jco-transpile/wasm-tools';
import { COMPONENT_PREAMBLE, Reader } from '../loader/component/binary.js';
import { witSource, WORLD_NAME } from '../wit/index.js';

/** The component-model section that holds a core module. */
const CORE_MODULE_SECTION = 1;
const CORE_INSTANCE_SECTION = 2;

/**
 * The component for the core module `wat` (with the imports and exports of
 * `shapeWat`, when given; with `extraWat` added as a core module of its own,
 * instantiated after the others).
 */
export async function craftComponent(wat: string, shapeWat?: string, where = 'the crafted module', extraWat?: string): Promise<Uint8Array> {
  const encode = async (text: string, file: string) => {
    try {
      return await parse(text);
    } catch (e) {
      throw new BuildError(`${file} is not valid WebAssembly text (${firstLine(e)}); fix it and build again.`, { cause: e });
    }
  };
  const core = await encode(wat, where);
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
  const shapeFile = join(dir, 'shape.wat');
  const extraFile = join(dir, 'extra.wat');
  const shape = existsSync(shapeFile) ? readFileSync(shapeFile, 'utf8') : undefined;
  const extra = existsSync(extraFile) ? readFileSync(extraFile, 'utf8') : undefined;
  return craftComponent(readFileSync(file, 'utf8'), shape, file, extra);
}

/** Whether `dir` holds a crafted module (`<name>.wat`). */
export function isCraftedFolder(dir: string): boolean {
  return existsSync(join(dir, `${basename(dir)}.wat`));
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
