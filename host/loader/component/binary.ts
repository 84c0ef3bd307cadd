/**
 * Reading the component binary format (component-model `Binary.md`) and the
 * parts of a core module that the component wires together (its types,
 * imports and exports), strictly: an encoding this reader does not know, a
 * LEB128 number that is too long, a name that is not UTF-8, a section that
 * does not end where its size says, all throw `Unrecognized`. The fast path
 * treats that as "not recognized" and leaves the component to jco's
 * generator, whose answer (accept, or which error) is the one that counts.
 *
 * Function bodies are never read here: V8 validates them when the loader
 * compiles each core module, on both paths.
 */

import { COMPONENT_PREAMBLE, expectPreamble, MODULE_PREAMBLE, Reader as WasmReader, sectionHeaders, type Strictness } from '../../wasm/index.js';

export { COMPONENT_PREAMBLE, MODULE_PREAMBLE };

/** Anything the reader does not recognize; never shown to a user (the jco path answers instead). */
export class Unrecognized extends Error {}

/** Not recognized: the fast path falls back to jco, whose answer counts (elsewhere, refuse means reject). */
export function notRecognized(why: string): never {
  throw new Unrecognized(why);
}

/** The fast path's policy: bytes it cannot follow, or a name that is not UTF-8, are "not recognized". */
export const COMPONENT_STRICTNESS: Strictness = Object.freeze({
  refuse: (message: string) => new Unrecognized(message),
  utf8Names: true,
});

/** The one WebAssembly reader (host/wasm/), with the fast path's policy and what a component's types need. */
export class Reader extends WasmReader {
  /**
   * Read types this folder does not plan (variants, resources...) as
   * `other` instead of giving up: the world check (face.ts) reads every
   * component's imports and exports, the fast path's plan only its own.
   */
  lenient = false;

  constructor(bytes: Uint8Array, pos: number, end: number) {
    super(bytes, pos, end, COMPONENT_STRICTNESS);
  }

  /** A signed LEB128 s33 (a type index), which must come out non-negative. */
  typeIndex(): number {
    const i = this.s33();
    if (i < 0) notRecognized('negative type index');
    return i;
  }
}

export function reader(bytes: Uint8Array, pos: number, end: number): Reader {
  return new Reader(bytes, pos, end);
}

export interface Section {
  id: number;
  /** Where the contents start and end in the whole binary. */
  start: number;
  end: number;
}

/** The sections after the 8-byte `preamble`; refuses any other preamble. */
export function sections(bytes: Uint8Array, start: number, end: number, preamble: readonly number[]): Section[] {
  const r = reader(bytes, start, end);
  expectPreamble(r, preamble);
  return sectionHeaders(r);
}

/** Core value types as text, as they appear in function types. */
const VALTYPES: Record<number, string> = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128', 0x70: 'funcref', 0x6f: 'externref' };
const REFTYPES: Record<number, string> = { 0x70: 'funcref', 0x6f: 'externref' };

export interface CoreFuncType { params: string[]; results: string[] }
export interface Limits { min: number; max?: number }
export type CoreExtern =
  | { kind: 'func'; type: CoreFuncType }
  | { kind: 'table'; elem: string; limits: Limits }
  | { kind: 'memory'; limits: Limits }
  | { kind: 'global'; type: string; mutable: boolean };

export interface CoreModuleShape {
  imports: { module: string; name: string; type: CoreExtern }[];
  exports: Map<string, CoreExtern>;
}

/**
 * Sections a core module may have for the fast path: custom, type, import,
 * function, table, memory, global, export, start, element, code, data, data
 * count. Anything newer (tags, ...) is left to jco.
 */
const KNOWN_MODULE_SECTIONS = new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
const ORDER: Record<number, number> = { 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 9: 9, 12: 10, 10: 11, 11: 12 };

function limits(r: Reader, memory: boolean): Limits {
  const flag = r.u8();
  // 0: min; 1: min and max. Shared (2, 3) and 64-bit (4+) memories are left to jco.
  if (flag > 1) notRecognized(memory ? 'shared or 64-bit memory' : 'unknown table limits');
  const min = r.u32();
  const max = flag === 1 ? r.u32() : undefined;
  if (max !== undefined && max < min) notRecognized('maximum below minimum');
  return { min, max };
}

function valtype(r: Reader): string {
  return VALTYPES[r.u8()] ?? notRecognized('unknown core value type');
}

function reftype(r: Reader): string {
  return REFTYPES[r.u8()] ?? notRecognized('unknown reference type');
}

/** The imports and exports of the core module in `bytes[start, end)`, with their types. */
export function coreModuleShape(bytes: Uint8Array, start: number, end: number): CoreModuleShape {
  const types: CoreFuncType[] = [];
  const funcs: CoreFuncType[] = []; // imported
  // The defined functions' type indices: a JS guest defines tens of
  // thousands, and only the exported ones are looked up.
  let defined = new Uint32Array(0);
  const tables: CoreExtern[] = [];
  const memories: CoreExtern[] = [];
  const globals: CoreExtern[] = [];
  const imports: CoreModuleShape['imports'] = [];
  const exports = new Map<string, CoreExtern>();
  let last = 0;
  let globalCount = 0;
  for (const s of sections(bytes, start, end, MODULE_PREAMBLE)) {
    if (!KNOWN_MODULE_SECTIONS.has(s.id)) notRecognized(`core module section ${s.id}`);
    const r = reader(bytes, s.start, s.end);
    if (s.id === 0) {
      r.name();
      continue;
    }
    if (ORDER[s.id] <= last) notRecognized('core module sections out of order');
    last = ORDER[s.id];
    switch (s.id) {
      case 1:
        types.push(...r.vec(() => {
          if (r.u8() !== 0x60) notRecognized('a core type that is not a function type');
          return { params: r.vec(() => valtype(r)), results: r.vec(() => valtype(r)) };
        }));
        break;
      case 2:
        imports.push(...r.vec(() => {
          const module = r.name();
          const name = r.name();
          const kind = r.u8();
          let type: CoreExtern;
          if (kind === 0) {
            type = { kind: 'func', type: types[r.u32()] ?? notRecognized('import of an unknown type') };
            funcs.push(type.type);
          } else if (kind === 1) {
            type = { kind: 'table', elem: reftype(r), limits: limits(r, false) };
            tables.push(type);
          } else if (kind === 2) {
            type = { kind: 'memory', limits: limits(r, true) };
            memories.push(type);
          } else if (kind === 3) {
            type = { kind: 'global', type: valtype(r), mutable: globalMutability(r) };
            globals.push(type);
          } else {
            return notRecognized('an import of an unknown kind');
          }
          return { module, name, type };
        }));
        break;
      case 3:
        defined = new Uint32Array(r.u32());
        for (let k = 0; k < defined.length; k++) {
          defined[k] = r.u32();
          if (defined[k] >= types.length) notRecognized('a function of an unknown type');
        }
        break;
      case 4:
        tables.push(...r.vec((): CoreExtern => ({ kind: 'table', elem: reftype(r), limits: limits(r, false) })));
        break;
      case 5:
        memories.push(...r.vec((): CoreExtern => ({ kind: 'memory', limits: limits(r, true) })));
        break;
      case 6:
        // Globals are counted, not typed: the fast path never passes one between instances.
        globalCount = r.u32();
        r.pos = r.end;
        break;
      case 7:
        for (const [name, e] of r.vec(() => [r.name(), exported(r)] as const)) {
          if (exports.has(name)) notRecognized('a core export name given twice');
          exports.set(name, e);
        }
        break;
      default:
        r.pos = r.end;
    }
    r.expectEnd();
  }
  function exported(r: Reader): CoreExtern {
    const kind = r.u8();
    const i = r.u32();
    if (kind === 0) {
      const type = i < funcs.length ? funcs[i] : i - funcs.length < defined.length ? types[defined[i - funcs.length]] : undefined;
      return { kind: 'func', type: type ?? notRecognized('export of an unknown function') };
    }
    if (kind === 1) return tables[i] ?? notRecognized('export of an unknown table');
    if (kind === 2) return memories[i] ?? notRecognized('export of an unknown memory');
    if (kind === 3) {
      if (i >= globals.length + globalCount) notRecognized('export of an unknown global');
      return globals[i] ?? { kind: 'global', type: '?', mutable: true };
    }
    return notRecognized('an export of an unknown kind');
  }
  return { imports, exports };
}

function globalMutability(r: Reader): boolean {
  const m = r.u8();
  if (m > 1) notRecognized('unknown global mutability');
  return m === 1;
}

export function sameCoreFunc(a: CoreFuncType, b: CoreFuncType): boolean {
  const same = (x: string[], y: string[]) => x.length === y.length && x.every((v, i) => v === y[i]);
  return same(a.params, b.params) && same(a.results, b.results);
}
