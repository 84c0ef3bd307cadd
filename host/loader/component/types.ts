/**
 * Component-level types as plain data: read from a component's type
 * sections, compared with the reference world's by their JSON text, and
 * flattened to core signatures as the canonical ABI does
 * (component-model `CanonicalABI.md`: `flatten_functype`, `alignment`).
 *
 * Only the kinds the session-module world uses are read (primitives,
 * record, list, flags, enum, option, result); variants, tuples, resources,
 * streams and the rest are refused, so a world that grows one of them makes
 * every component take the jco path until this file learns it.
 *
 * A type that a name is given to (an import of a type, or an export in an
 * instance type) is wrapped in a `named` node that records how: two
 * components whose types are built the same way from the same WIT give the
 * same tree, and anything built another way compares as different.
 */
import { type Reader, refuse, typeIndex } from './binary.js';

export type Prim = 'bool' | 's8' | 'u8' | 's16' | 'u16' | 's32' | 'u32' | 's64' | 'u64' | 'f32' | 'f64' | 'char' | 'string';

export type ValType =
  | { k: 'prim'; t: Prim }
  | { k: 'record'; fields: [string, ValType][] }
  | { k: 'list'; of: ValType }
  | { k: 'flags'; names: string[] }
  | { k: 'enum'; cases: string[] }
  | { k: 'option'; of: ValType }
  | { k: 'result'; ok: ValType | null; err: ValType | null }
  | { k: 'named'; via: 'import' | 'export'; name: string; of: ValType };

export interface FuncType { params: [string, ValType][]; result: ValType | null }

export type InstanceExport = { sort: 'func'; type: FuncType } | { sort: 'type'; type: ValType };

/** An entry of a type index space. */
export type Def =
  | { d: 'val'; type: ValType }
  | { d: 'func'; type: FuncType }
  | { d: 'instance'; exports: Map<string, InstanceExport> };

const PRIMS: Record<number, Prim> = {
  0x7f: 'bool', 0x7e: 's8', 0x7d: 'u8', 0x7c: 's16', 0x7b: 'u16', 0x7a: 's32', 0x79: 'u32',
  0x78: 's64', 0x77: 'u64', 0x76: 'f32', 0x75: 'f64', 0x74: 'char', 0x73: 'string',
};
/** Bytes that are primitive value types in a `valtype` position (0x64 is error-context). */
const isPrimByte = (b: number) => (b >= 0x73 && b <= 0x7f) || b === 0x64;

/**
 * Names as wasmparser wants labels, but only the lowercase form: words of
 * lowercase letters and digits, each starting with a letter, joined by `-`.
 */
export const KEBAB = /^[a-z][a-z0-9]*(-[a-z][a-z0-9]*)*$/;

export function kebab(r: Reader): string {
  const n = r.name();
  if (!KEBAB.test(n)) refuse(`"${n}" is not a lowercase kebab-case name`);
  return n;
}

function distinct(names: string[]): string[] {
  if (new Set(names).size !== names.length) refuse('a name given twice');
  return names;
}

/** `valtype`: a primitive or the index of a defined value type in `types`. */
export function valType(r: Reader, types: Def[]): ValType {
  const b = r.peek();
  if (isPrimByte(b)) {
    r.u8();
    return { k: 'prim', t: PRIMS[b] ?? refuse('error-context') };
  }
  const def = types[typeIndex(r)];
  if (!def || def.d !== 'val') return refuse('a value type index that is not a value type');
  return def.type;
}

/** `defvaltype` after its first byte `b`. */
function defValType(r: Reader, b: number, types: Def[]): ValType {
  if (PRIMS[b]) return { k: 'prim', t: PRIMS[b] };
  switch (b) {
    case 0x72: {
      const fields = r.vec(() => [kebab(r), valType(r, types)] as [string, ValType]);
      if (!fields.length) refuse('a record without fields');
      distinct(fields.map(([n]) => n));
      return { k: 'record', fields };
    }
    case 0x70:
      return { k: 'list', of: valType(r, types) };
    case 0x6e: {
      const names = distinct(r.vec(() => kebab(r)));
      if (!names.length || names.length > 32) refuse('flags of no or more than 32 names');
      return { k: 'flags', names };
    }
    case 0x6d: {
      const cases = distinct(r.vec(() => kebab(r)));
      if (!cases.length) refuse('an enum without cases');
      return { k: 'enum', cases };
    }
    case 0x6b:
      return { k: 'option', of: valType(r, types) };
    case 0x6a:
      return { k: 'result', ok: optionalValType(r, types), err: optionalValType(r, types) };
    default:
      return refuse(`value type 0x${b.toString(16)}`);
  }
}

function optionalValType(r: Reader, types: Def[]): ValType | null {
  const b = r.u8();
  if (b === 0) return null;
  if (b !== 1) refuse('bad optional value type');
  return valType(r, types);
}

function funcType(r: Reader, types: Def[]): FuncType {
  const params = r.vec(() => [kebab(r), valType(r, types)] as [string, ValType]);
  distinct(params.map(([n]) => n));
  const form = r.u8();
  if (form === 0) return { params, result: valType(r, types) };
  if (form !== 1 || r.u8() !== 0) refuse('named results');
  return { params, result: null };
}

/**
 * `deftype` in a component (`outer` set) or an instance type (`outer` the
 * enclosing component's types). Instance types only inside a component.
 */
export function defType(r: Reader, types: Def[], inComponent: boolean): Def {
  const b = r.u8();
  if (b === 0x40) return { d: 'func', type: funcType(r, types) };
  if (b === 0x42 && inComponent) return { d: 'instance', exports: instanceType(r, types) };
  return { d: 'val', type: defValType(r, b, types) };
}

/** `instancetype` declarations: local types, outer aliases of the component's types, and exports. */
function instanceType(r: Reader, outer: Def[]): Map<string, InstanceExport> {
  const types: Def[] = [];
  const exports = new Map<string, InstanceExport>();
  for (let n = r.u32(), i = 0; i < n; i++) {
    const kind = r.u8();
    if (kind === 0x01) {
      types.push(defType(r, types, false));
    } else if (kind === 0x02) {
      // alias outer 1 <idx> (type): the enclosing component's type.
      if (r.u8() !== 0x03 || r.u8() !== 0x02 || r.u32() !== 1) refuse('an alias in an instance type other than an outer type');
      types.push(outer[r.u32()] ?? refuse('an outer alias out of range'));
    } else if (kind === 0x04) {
      if (r.u8() !== 0x00) refuse('a versioned export name');
      const name = kebab(r);
      if (exports.has(name)) refuse('an instance type export given twice');
      const desc = r.u8();
      if (desc === 0x01) {
        const def = types[r.u32()];
        if (!def || def.d !== 'func') refuse('a func export whose type is not a function type');
        exports.set(name, { sort: 'func', type: def.type });
      } else if (desc === 0x03) {
        if (r.u8() !== 0x00) refuse('a resource type');
        const def = types[r.u32()];
        if (!def || def.d !== 'val') refuse('a type export of a type that is not a value type');
        const type: ValType = { k: 'named', via: 'export', name, of: def.type };
        types.push({ d: 'val', type });
        exports.set(name, { sort: 'type', type });
      } else {
        refuse('an instance type export that is neither a function nor a type');
      }
    } else {
      refuse('an instance type declaration of an unknown kind');
    }
  }
  return exports;
}

/** The type under its names. */
export function unwrap(t: ValType): ValType {
  while (t.k === 'named') t = t.of;
  return t;
}

/** The outermost name given to `t`, if any. */
export function nameOf(t: ValType): string | undefined {
  return t.k === 'named' ? t.name : undefined;
}

/** Comparable text of a type: equal text, equal type, built the same way. */
export function typeKey(t: ValType | FuncType | InstanceExport): string {
  return JSON.stringify(t);
}

// --- the canonical ABI's flattening, alignments and payload offsets ---

const MAX_FLAT_PARAMS = 16;
const MAX_FLAT_RESULTS = 1;

function discriminantSize(n: number): number {
  return n <= 0x100 ? 1 : n <= 0x10000 ? 2 : 4;
}

export function flatten(t: ValType): string[] {
  const u = unwrap(t);
  switch (u.k) {
    case 'prim':
      return u.t === 's64' || u.t === 'u64' ? ['i64'] : u.t === 'f32' ? ['f32'] : u.t === 'f64' ? ['f64'] : u.t === 'string' ? ['i32', 'i32'] : ['i32'];
    case 'list':
      return ['i32', 'i32'];
    case 'record':
      return u.fields.flatMap(([, f]) => flatten(f));
    case 'flags':
      return Array.from({ length: Math.ceil(u.names.length / 32) }, () => 'i32');
    case 'enum':
      return ['i32'];
    case 'option':
      return ['i32', ...flatten(u.of)];
    case 'result':
      return ['i32', ...joinCases([u.ok, u.err])];
    default:
      return refuse('flatten');
  }
}

function joinCases(cases: (ValType | null)[]): string[] {
  const out: string[] = [];
  for (const c of cases) {
    if (!c) continue;
    flatten(c).forEach((ft, i) => {
      if (i >= out.length) out.push(ft);
      else if (out[i] !== ft) out[i] = (out[i] === 'i32' && ft === 'f32') || (out[i] === 'f32' && ft === 'i32') ? 'i32' : 'i64';
    });
  }
  return out;
}

export function alignment(t: ValType): number {
  const u = unwrap(t);
  switch (u.k) {
    case 'prim':
      return { bool: 1, s8: 1, u8: 1, s16: 2, u16: 2, s32: 4, u32: 4, s64: 8, u64: 8, f32: 4, f64: 8, char: 4, string: 4 }[u.t];
    case 'list':
      return 4;
    case 'record':
      return Math.max(...u.fields.map(([, f]) => alignment(f)));
    case 'flags':
      return u.names.length <= 8 ? 1 : u.names.length <= 16 ? 2 : 4;
    case 'enum':
      return discriminantSize(u.cases.length);
    case 'option':
      return Math.max(1, alignment(u.of));
    case 'result':
      return Math.max(1, ...[u.ok, u.err].map((c) => (c ? alignment(c) : 1)));
    default:
      return refuse('alignment');
  }
}

const alignTo = (n: number, a: number) => Math.ceil(n / a) * a;

/** Where the payload of an option or result starts, after its discriminant. */
export function payloadOffset(t: ValType): number {
  const u = unwrap(t);
  if (u.k !== 'option' && u.k !== 'result') return refuse('payload of a type that has none');
  const cases = u.k === 'option' ? [u.of] : [u.ok, u.err];
  return alignTo(1, Math.max(1, ...cases.map((c) => (c ? alignment(c) : 1))));
}

/** Whether values of `t` live in linear memory (strings, lists) somewhere inside. */
export function usesMemory(t: ValType): boolean {
  const u = unwrap(t);
  switch (u.k) {
    case 'prim':
      return u.t === 'string';
    case 'list':
      return true;
    case 'record':
      return u.fields.some(([, f]) => usesMemory(f));
    case 'option':
      return usesMemory(u.of);
    case 'result':
      return [u.ok, u.err].some((c) => c !== null && usesMemory(c));
    default:
      return false;
  }
}

export interface CoreSignature {
  params: string[];
  results: string[];
  /** Params passed through memory (more than 16 flat values). */
  paramsInMemory: boolean;
  /** The result goes through memory (more than 1 flat value). */
  resultInMemory: boolean;
}

/** `flatten_functype`: the core signature of `f` lifted from (`lift`) or lowered into (`lower`) a core function. */
export function coreSignature(f: FuncType, context: 'lift' | 'lower'): CoreSignature {
  let params = f.params.flatMap(([, t]) => flatten(t));
  let results = f.result ? flatten(f.result) : [];
  const paramsInMemory = params.length > MAX_FLAT_PARAMS;
  const resultInMemory = results.length > MAX_FLAT_RESULTS;
  if (paramsInMemory) params = ['i32'];
  if (resultInMemory) {
    if (context === 'lift') results = ['i32'];
    else {
      params = [...params, 'i32'];
      results = [];
    }
  }
  return { params, results, paramsInMemory, resultInMemory };
}
