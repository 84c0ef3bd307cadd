/**
 * A component's face: what it imports and exports, with the structural
 * types of each (types.ts), and nothing of how it is built inside. The one
 * world check (host/loader/world.ts) compares faces, for both load
 * paths: the fast path takes a component's face from its model (model.ts,
 * `faceOf`), and any other component's is read here (`readFace`), leniently
 * (Reader.lenient): core modules, nested components and the canonical
 * functions of resources are skipped, and types the plan does not know
 * (resources, variants, ...: WASI interfaces a grant allows) are read as
 * `other`, which equals no type of the world.
 */
import { COMPONENT_PREAMBLE, notRecognized, Reader, sections } from './binary.js';
import type { Model } from './model.js';
import { defType, type Def, type FuncType, type InstanceExport, type ValType } from './types.js';

export interface Face {
  /** Imported instances (interfaces) by name, with version, and what each exports. */
  instances: Map<string, Map<string, InstanceExport>>;
  /** Type imports of the component itself (the world's `use`). */
  typeImports: Map<string, ValType>;
  /** Names of any other import (a function, a resource, a component...). */
  otherImports: string[];
  /** Exported functions by name, with their types. */
  funcs: Map<string, FuncType>;
  /** Names of any other export (an instance, a type...). */
  otherExports: string[];
}

/** The face of a component the fast path has read into its index spaces. */
export function faceOf(m: Model): Face {
  return {
    instances: new Map(m.instances.map((i) => [i.name, i.exports])),
    typeImports: new Map(m.typeImports),
    otherImports: [],
    funcs: new Map([...m.exports].map(([n, f]) => [n, m.funcs[f].type])),
    otherExports: [],
  };
}

/** A face as JSON holds it: each map as its entries, in order. */
export interface FaceJson {
  instances: [string, [string, InstanceExport][]][];
  typeImports: [string, ValType][];
  otherImports: string[];
  funcs: [string, FuncType][];
  otherExports: string[];
}

export function faceToJson(f: Face): FaceJson {
  return {
    instances: [...f.instances].map(([n, e]) => [n, [...e]]),
    typeImports: [...f.typeImports],
    otherImports: [...f.otherImports],
    funcs: [...f.funcs],
    otherExports: [...f.otherExports],
  };
}

/** The face `j` holds; undefined when it is not shaped as `faceToJson` writes one. */
export function faceFromJson(j: unknown): Face | undefined {
  const d = j as Partial<FaceJson> | null;
  const entries = (a: unknown) => Array.isArray(a) && a.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string');
  const names = (a: unknown) => Array.isArray(a) && a.every((n) => typeof n === 'string');
  if (!d || typeof d !== 'object' || !entries(d.instances) || !entries(d.typeImports) || !entries(d.funcs) || !names(d.otherImports) || !names(d.otherExports)) return undefined;
  if (!d.instances!.every(([, e]) => entries(e))) return undefined;
  return {
    instances: new Map(d.instances!.map(([n, e]) => [n, new Map(e)])),
    typeImports: new Map(d.typeImports),
    otherImports: d.otherImports!,
    funcs: new Map(d.funcs),
    otherExports: d.otherExports!,
  };
}

const SECTION = { componentInstance: 5, alias: 6, type: 7, canon: 8, import: 10, export: 11 } as const;
/** Sections that add nothing to a face: custom, core module, core instance, core type, component. */
const SKIPPED = new Set([0, 1, 2, 3, 4]);
const SORT = { core: 0x00, func: 0x01, type: 0x03, instance: 0x05 } as const;
const other = (what: string): Def => ({ d: 'val', type: { k: 'other', what } });

/** Reads the face of any component (see the file comment); throws `Unrecognized` on an encoding it does not know. */
export function readFace(bytes: Uint8Array): Face {
  const face: Face = { instances: new Map(), typeImports: new Map(), otherImports: [], funcs: new Map(), otherExports: [] };
  const types: Def[] = [];
  const instances: (Map<string, InstanceExport> | undefined)[] = [];
  const funcs: (FuncType | undefined)[] = [];
  const names = new Set<string>();
  const sort = (r: Reader) => {
    const s = r.u8();
    if (s === SORT.core) r.u8();
    return s;
  };
  const name = (r: Reader, what: string) => {
    if (r.u8() !== 0x00) notRecognized(`a versioned ${what} name`);
    return r.name();
  };
  for (const s of sections(bytes, 0, bytes.length, COMPONENT_PREAMBLE)) {
    const r = new Reader(bytes, s.start, s.end);
    r.lenient = true;
    if (SKIPPED.has(s.id)) continue;
    switch (s.id) {
      case SECTION.componentInstance:
        r.vec(() => {
          const kind = r.u8();
          if (kind === 0x00) {
            r.u32();
            r.vec(() => { r.name(); sort(r); r.u32(); });
            instances.push(undefined);
          } else if (kind === 0x01) {
            const exports = new Map<string, InstanceExport>();
            r.vec(() => {
              const n = name(r, 'instance export');
              const k = sort(r);
              const i = r.u32();
              if (k === SORT.func && funcs[i]) exports.set(n, { sort: 'func', type: funcs[i]! });
            });
            instances.push(exports);
          } else {
            notRecognized('a component instance of an unknown kind');
          }
        });
        break;
      case SECTION.alias:
        r.vec(() => {
          const k = sort(r);
          const target = r.u8();
          if (target === 0x00) {
            const instance = r.u32();
            const e = instances[instance]?.get(r.name());
            if (k === SORT.func) funcs.push(e?.sort === 'func' ? e.type : undefined);
            else if (k === SORT.type) types.push(e?.sort === 'type' ? { d: 'val', type: e.type } : other('alias'));
            else if (k === SORT.instance) instances.push(undefined);
          } else if (target === 0x01) {
            r.u32();
            r.name();
          } else if (target === 0x02) {
            r.u32();
            r.u32();
            if (k === SORT.type) types.push(other('outer alias'));
            else if (k === SORT.func) funcs.push(undefined);
            else if (k === SORT.instance) instances.push(undefined);
          } else {
            notRecognized('an alias of an unknown kind');
          }
        });
        break;
      case SECTION.type:
        r.vec(() => types.push(defType(r, types, true)));
        break;
      case SECTION.canon:
        r.vec(() => canon(r, types, funcs));
        break;
      case SECTION.import:
        r.vec(() => {
          const n = name(r, 'import');
          if (names.has(n)) notRecognized('an import name given twice');
          names.add(n);
          const desc = r.u8();
          if (desc === 0x03) {
            const bound = r.u8();
            if (bound === 0x00) {
              // (type (eq <index>)): a type of the world, used by name.
              const def = types[r.u32()];
              const type: ValType = { k: 'named', via: 'import', name: n, of: def?.d === 'val' ? def.type : { k: 'other', what: def?.d ?? 'unknown' } };
              types.push({ d: 'val', type });
              face.typeImports.set(n, type);
              return;
            }
            if (bound !== 0x01) notRecognized('a type import of an unknown bound');
            types.push(other('resource'));
            face.otherImports.push(n);
            return;
          }
          if (desc === 0x00 && r.u8() !== 0x11) notRecognized('a core import that is not a module');
          const def = types[r.u32()];
          if (desc === 0x05) {
            const exports = def?.d === 'instance' ? def.exports : notRecognized('an instance import whose type is not an instance type');
            instances.push(exports);
            face.instances.set(n, exports);
            return;
          }
          if (desc === 0x01) funcs.push(def?.d === 'func' ? def.type : undefined);
          else if (desc !== 0x00 && desc !== 0x04) notRecognized('an import of an unknown kind');
          face.otherImports.push(n);
        });
        break;
      case SECTION.export:
        r.vec(() => {
          const n = name(r, 'export');
          const k = sort(r);
          const index = r.u32();
          if (r.u8() !== 0x00) notRecognized('an export with a type ascription');
          if (k === SORT.func) {
            const f = funcs[index];
            funcs.push(f);
            if (f && !face.funcs.has(n)) face.funcs.set(n, f);
            else face.otherExports.push(n);
          } else {
            if (k === SORT.type) types.push(types[index] ?? other('export'));
            else if (k === SORT.instance) instances.push(instances[index]);
            face.otherExports.push(n);
          }
        });
        break;
      default:
        notRecognized(`component section ${s.id}`);
    }
    r.expectEnd();
  }
  return face;
}

/** One `canon` definition: a lift adds a component function of its type; the rest make core functions. */
function canon(r: Reader, types: Def[], funcs: (FuncType | undefined)[]): void {
  const op = r.u8();
  if (op === 0x00 || op === 0x01) {
    if (r.u8() !== 0x00) notRecognized('an unknown canon sub-opcode');
    r.u32();
    r.vec(() => canonOption(r));
    if (op === 0x00) {
      const def = types[r.u32()];
      funcs.push(def?.d === 'func' ? def.type : undefined);
    }
  } else if (op >= 0x02 && op <= 0x04) {
    r.u32(); // resource.new, resource.drop, resource.rep of a type
  } else {
    notRecognized(`canon 0x${op.toString(16)}`);
  }
}

function canonOption(r: Reader): void {
  const o = r.u8();
  if (o === 0x03 || o === 0x04 || o === 0x05 || o === 0x07) r.u32();
  else if (o > 0x06) notRecognized(`canonical option 0x${o.toString(16)}`);
}
