/**
 * A component's index spaces, read section by section as the component
 * model defines them (`Explainer.md`, "Index spaces"): core modules, core
 * instances, core functions, tables and memories, types, imported
 * instances, and component functions. Only the constructs that a component
 * of the session-module world is made of are read (wit-component's output:
 * imported interface instances, core instantiations with `with` arguments,
 * instances made of exports, aliases, `canon lift` and `canon lower`, and
 * function exports); any other section or construct throws `Unrecognized`.
 */
import { COMPONENT_PREAMBLE, type CoreExtern, coreModuleShape, type CoreModuleShape, reader, type Reader, refuse, sections } from './binary.js';
import { coreSignature, defType, type Def, type FuncType, type InstanceExport, KEBAB, kebab, type ValType } from './types.js';

export interface CoreModule { start: number; end: number; shape: CoreModuleShape }

export type CoreItemSort = 'func' | 'table' | 'memory';
export interface CoreItem { sort: CoreItemSort; index: number }

export type CoreInstance =
  | { kind: 'instantiate'; module: number; args: Map<string, number> }
  | { kind: 'exports'; items: Map<string, CoreItem> };

/** A core function, table or memory: an export of a core instance, or (functions) a lowered component function. */
export type CoreDef =
  | { from: 'alias'; instance: number; name: string; type: CoreExtern }
  | { from: 'lower'; func: number; options: CanonOptions; type: CoreExtern };

export interface CanonOptions {
  memory?: number;
  realloc?: number;
  postReturn?: number;
}

export type ComponentFunc =
  | { from: 'import'; instance: number; name: string; type: FuncType }
  | { from: 'lift'; core: number; options: CanonOptions; type: FuncType }
  | { from: 'export'; func: number; type: FuncType };

export interface ImportedInstance { name: string; exports: Map<string, InstanceExport> }

export interface Model {
  modules: CoreModule[];
  coreInstances: CoreInstance[];
  core: Record<CoreItemSort, CoreDef[]>;
  types: Def[];
  instances: ImportedInstance[];
  funcs: ComponentFunc[];
  /** Type imports of the component itself (`import "status" (type (eq ...))`). */
  typeImports: Map<string, ValType>;
  /** Exported functions by name: their index in `funcs`. */
  exports: Map<string, number>;
}

const SECTION = { custom: 0, coreModule: 1, coreInstance: 2, alias: 6, type: 7, canon: 8, import: 10, export: 11 } as const;
const CORE_SORTS: Record<number, CoreItemSort> = { 0x00: 'func', 0x01: 'table', 0x02: 'memory' };
const CORE_INSTANCE_SORT = 0x12;
const SORT_FUNC = 0x01;
const SORT_TYPE = 0x03;

/** Reads `bytes` (a whole component) into its index spaces. */
export function readModel(bytes: Uint8Array): Model {
  const m: Model = {
    modules: [], coreInstances: [], core: { func: [], table: [], memory: [] }, types: [], instances: [], funcs: [],
    typeImports: new Map(), exports: new Map(),
  };
  const importNames = new Set<string>();
  for (const s of sections(bytes, 0, bytes.length, COMPONENT_PREAMBLE)) {
    const r = reader(bytes, s.start, s.end);
    switch (s.id) {
      case SECTION.custom:
        r.name();
        r.pos = r.end;
        break;
      case SECTION.coreModule:
        m.modules.push({ start: s.start, end: s.end, shape: coreModuleShape(bytes, s.start, s.end) });
        r.pos = r.end;
        break;
      case SECTION.coreInstance:
        r.vec(() => m.coreInstances.push(coreInstance(r, m)));
        break;
      case SECTION.alias:
        r.vec(() => alias(r, m));
        break;
      case SECTION.type:
        r.vec(() => m.types.push(defType(r, m.types, true)));
        break;
      case SECTION.canon:
        r.vec(() => canon(r, m));
        break;
      case SECTION.import:
        r.vec(() => {
          if (r.u8() !== 0x00) refuse('a versioned import name');
          const name = r.name();
          if (importNames.has(name)) refuse('an import name given twice');
          importNames.add(name);
          const desc = r.u8();
          if (desc === 0x05) {
            const def = m.types[r.u32()];
            if (!def || def.d !== 'instance') refuse('an instance import whose type is not an instance type');
            m.instances.push({ name, exports: def.exports });
          } else if (desc === 0x03) {
            if (r.u8() !== 0x00) refuse('an imported resource');
            if (!KEBAB.test(name)) refuse('a type import name that is not kebab-case');
            const def = m.types[r.u32()];
            if (!def || def.d !== 'val') refuse('a type import of a type that is not a value type');
            const type: ValType = { k: 'named', via: 'import', name, of: def.type };
            m.types.push({ d: 'val', type });
            m.typeImports.set(name, type);
          } else {
            refuse('an import that is neither an instance nor a type');
          }
        });
        break;
      case SECTION.export:
        r.vec(() => {
          if (r.u8() !== 0x00) refuse('a versioned export name');
          const name = kebab(r);
          if (m.exports.has(name)) refuse('an export name given twice');
          if (r.u8() !== SORT_FUNC) refuse('an export that is not a function');
          const index = r.u32();
          const f = m.funcs[index] ?? refuse('an export of an unknown function');
          if (r.u8() !== 0x00) refuse('an export with a type ascription');
          m.exports.set(name, m.funcs.length);
          m.funcs.push({ from: 'export', func: index, type: f.type });
        });
        break;
      default:
        refuse(`component section ${s.id}`);
    }
    r.expectEnd();
  }
  return m;
}

function coreInstance(r: Reader, m: Model): CoreInstance {
  const kind = r.u8();
  if (kind === 0x00) {
    const module = r.u32();
    if (module >= m.modules.length) refuse('instantiation of an unknown module');
    const args = new Map<string, number>();
    for (const [name, instance] of r.vec(() => {
      const name = r.name();
      if (r.u8() !== CORE_INSTANCE_SORT) refuse('an instantiation argument that is not an instance');
      return [name, r.u32()] as const;
    })) {
      if (args.has(name)) refuse('an instantiation argument given twice');
      if (instance >= m.coreInstances.length) refuse('an argument of an unknown instance');
      args.set(name, instance);
    }
    return { kind: 'instantiate', module, args };
  }
  if (kind === 0x01) {
    const items = new Map<string, CoreItem>();
    for (const [name, item] of r.vec(() => [r.name(), coreSortIndex(r, m)] as const)) {
      if (items.has(name)) refuse('an instance export given twice');
      items.set(name, item);
    }
    return { kind: 'exports', items };
  }
  return refuse('a core instance of an unknown kind');
}

function coreSortIndex(r: Reader, m: Model): CoreItem {
  const sort = CORE_SORTS[r.u8()] ?? refuse('a core item that is not a function, table or memory');
  const index = r.u32();
  if (index >= m.core[sort].length) refuse(`an unknown core ${sort}`);
  return { sort, index };
}

/** The type of export `name` of core instance `instance`, or undefined when it has none. */
export function coreExportType(m: Model, instance: number, name: string): CoreExtern | undefined {
  const inst = m.coreInstances[instance];
  if (inst.kind === 'instantiate') return m.modules[inst.module].shape.exports.get(name);
  const item = inst.items.get(name);
  return item && m.core[item.sort][item.index].type;
}

function alias(r: Reader, m: Model): void {
  const sort = r.u8();
  if (sort === 0x00) {
    const core = CORE_SORTS[r.u8()] ?? refuse('an alias of a core item that is not a function, table or memory');
    if (r.u8() !== 0x01) refuse('a core alias that is not of a core export');
    const instance = r.u32();
    if (instance >= m.coreInstances.length) refuse('an alias of an unknown core instance');
    const name = r.name();
    const type = coreExportType(m, instance, name);
    if (!type || type.kind !== core) refuse(`an alias of a core ${core} that the instance does not export`);
    m.core[core].push({ from: 'alias', instance, name, type });
    return;
  }
  if (sort !== SORT_FUNC && sort !== SORT_TYPE) refuse('an alias of an unknown sort');
  if (r.u8() !== 0x00) refuse('an alias that is not of an instance export');
  const instance = r.u32();
  const inst = m.instances[instance] ?? refuse('an alias of an unknown instance');
  const name = r.name();
  const e = inst.exports.get(name);
  if (sort === SORT_FUNC) {
    if (!e || e.sort !== 'func') refuse('an alias of a function the instance does not export');
    m.funcs.push({ from: 'import', instance, name, type: e.type });
  } else {
    if (!e || e.sort !== 'type') refuse('an alias of a type the instance does not export');
    m.types.push({ d: 'val', type: e.type });
  }
}

function canonOptions(r: Reader, m: Model): CanonOptions {
  const o: CanonOptions = {};
  let encoding = false;
  for (let n = r.u32(), i = 0; i < n; i++) {
    const opt = r.u8();
    if (opt === 0x00) {
      if (encoding) refuse('string encoding given twice');
      encoding = true;
    } else if (opt === 0x03) {
      if (o.memory !== undefined) refuse('memory given twice');
      o.memory = r.u32();
      if (o.memory >= m.core.memory.length) refuse('an unknown memory');
    } else if (opt === 0x04) {
      if (o.realloc !== undefined) refuse('realloc given twice');
      o.realloc = r.u32();
      if (o.realloc >= m.core.func.length) refuse('an unknown realloc');
    } else if (opt === 0x05) {
      if (o.postReturn !== undefined) refuse('post-return given twice');
      o.postReturn = r.u32();
      if (o.postReturn >= m.core.func.length) refuse('an unknown post-return');
    } else {
      refuse('a canonical option other than utf8, memory, realloc and post-return');
    }
  }
  return o;
}

function canon(r: Reader, m: Model): void {
  const kind = r.u8();
  if (r.u8() !== 0x00) refuse('an unknown canon sub-opcode');
  if (kind === 0x00) {
    const core = r.u32();
    if (core >= m.core.func.length) refuse('a lift of an unknown core function');
    const options = canonOptions(r, m);
    const def = m.types[r.u32()];
    if (!def || def.d !== 'func') refuse('a lift to a type that is not a function type');
    m.funcs.push({ from: 'lift', core, options, type: def.type });
    return;
  }
  if (kind === 0x01) {
    const func = r.u32();
    const f = m.funcs[func] ?? refuse('a lower of an unknown function');
    const options = canonOptions(r, m);
    const { params, results } = coreSignature(f.type, 'lower');
    m.core.func.push({ from: 'lower', func, options, type: { kind: 'func', type: { params, results } } });
    return;
  }
  refuse('a canon definition other than lift and lower');
}
