/**
 * From a component's index spaces (model.ts) to an instantiation plan: the
 * core instantiations in order, each with the import object its module
 * asks for, the host functions each lowered import calls, and the core
 * functions behind each export, with their canonical options. A plan is
 * plain JSON, so the disk cache (cache.ts) can keep it instead of glue.
 *
 * A plan is made only for a component this file fully recognizes as one of
 * the session-module world; everything else throws `Unrecognized`:
 *  - the one world check (host/loader/world.ts) passes it with no grants:
 *    every import an interface of the reference world (same name, with
 *    version) whose functions and types equal the reference's, type imports
 *    equal the reference's, the hooks with the world's types;
 *  - every imported function is lowered exactly once and used by a core
 *    instance; the exports are exactly the world's, each a `canon lift`;
 *  - canonical options: UTF-8, and memory, realloc and post-return exactly
 *    where the function's types need them, each of the right core type;
 *  - every core module is instantiated exactly once, every import of it is
 *    given by an argument with a matching type, and every argument is used.
 */
import { PamwasmError } from '../../errors/index.js';
import { camel, unversioned } from '../names.js';
import { checkWorld } from '../world.js';
import { notRecognized, sameCoreFunc, type CoreExtern } from './binary.js';
import { faceOf, type Face } from './face.js';
import { coreExportType, readModel, type CanonOptions, type Model } from './model.js';
import { coreSignature, type FuncType, usesMemory } from './types.js';

/** A core value at instantiation: export `n` of the plan's step `i`, or lowered import `t`. */
export type CoreRef = { i: number; n: string } | { t: number };

export interface PlanStep {
  /** Index into `modules`. */
  module: number;
  /** The import object, sorted as jco writes it; null when the module imports nothing. */
  imports: [string, [string, CoreRef][]][] | null;
}

export interface PlanLowered {
  /** Interface as a key of the imports object (no version), and function name in WIT spelling. */
  iface: string;
  name: string;
  type: FuncType;
  memory: CoreRef | null;
  realloc: CoreRef | null;
}

export interface PlanExport {
  name: string;
  type: FuncType;
  core: CoreRef;
  memory: CoreRef | null;
  realloc: CoreRef | null;
  postReturn: CoreRef | null;
}

export interface Plan {
  format: 1;
  /** File names of the core modules, in module index order (jco's names). */
  modules: string[];
  steps: PlanStep[];
  /** Functions taken from the imports object at instantiation, per interface, in jco's order. */
  imports: [string, string[]][];
  lowered: PlanLowered[];
  exports: PlanExport[];
}

/** jco's file name of core module `i`. */
export const coreModuleName = (i: number) => `module.core${i === 0 ? '' : i + 1}.wasm`;
const REALLOC: CoreExtern = { kind: 'func', type: { params: ['i32', 'i32', 'i32', 'i32'], results: ['i32'] } };

export interface Recognized {
  plan: Plan;
  /** Each core module's bytes, in module index order. */
  cores: Uint8Array[];
}

/** The plan for `bytes`, or throws `Unrecognized`. */
export function recognize(bytes: Uint8Array, world: Face): Recognized {
  const m = readModel(bytes);
  checkFace(m, world);
  const steps: PlanStep[] = [];
  const stepOf = new Map<number, number>();
  const loweredOf = new Map<number, number>();
  const lowered: PlanLowered[] = [];
  const usedLowered = new Set<number>();

  const resolveCore = (sort: 'func' | 'table' | 'memory', index: number): CoreRef => {
    const def = m.core[sort][index];
    if (def.from === 'lower') {
      const t = loweredOf.get(index);
      return t === undefined ? notRecognized('a lowered function not yet planned') : { t };
    }
    return resolveExport(def.instance, def.name);
  };
  const resolveExport = (instance: number, name: string): CoreRef => {
    const inst = m.coreInstances[instance];
    if (inst.kind === 'instantiate') {
      const i = stepOf.get(instance);
      return i === undefined ? notRecognized('an export of an instance not instantiated') : { i, n: name };
    }
    const item = inst.items.get(name) ?? notRecognized('an instance without that export');
    return resolveCore(item.sort, item.index);
  };
  const direct = (ref: CoreRef): CoreRef => ('t' in ref ? notRecognized('a lowered function where a core export is needed') : ref);

  // Lowered imports: each imported function exactly once.
  const loweredFuncs = new Set<number>();
  m.core.func.forEach((def, index) => {
    if (def.from !== 'lower') return;
    const f = m.funcs[def.func];
    if (f.from !== 'import') notRecognized('a lower of a function that is not imported');
    if (loweredFuncs.has(def.func)) notRecognized('a function lowered twice');
    loweredFuncs.add(def.func);
    loweredOf.set(index, lowered.length);
    lowered.push({ iface: unversioned(m.instances[f.instance].name), name: f.name, type: f.type, memory: null, realloc: null });
  });
  const aliased = new Map<string, number>();
  for (const [i, f] of m.funcs.entries()) {
    if (f.from !== 'import') continue;
    const key = `${f.instance}\0${f.name}`;
    if (aliased.has(key)) notRecognized('an imported function aliased twice');
    aliased.set(key, i);
    if (!loweredFuncs.has(i)) notRecognized('an imported function that is not lowered');
  }
  m.instances.forEach((inst, i) => {
    for (const [name, e] of inst.exports) if (e.sort === 'func' && !aliased.has(`${i}\0${name}`)) notRecognized('an imported function never used');
  });

  // Core instantiations, in order.
  const instantiated = new Set<number>();
  m.coreInstances.forEach((inst, index) => {
    if (inst.kind !== 'instantiate') return;
    if (instantiated.has(inst.module)) notRecognized('a core module instantiated twice');
    instantiated.add(inst.module);
    const shape = m.modules[inst.module].shape;
    const byModule = new Map<string, Map<string, CoreRef>>();
    for (const imp of shape.imports) {
      const arg = inst.args.get(imp.module) ?? notRecognized(`no instantiation argument for import module "${imp.module}"`);
      const have = coreExportType(m, arg, imp.name) ?? notRecognized(`argument "${imp.module}" lacks "${imp.name}"`);
      if (!satisfiesImport(have, imp.type)) notRecognized(`argument "${imp.module}" gives "${imp.name}" of the wrong type`);
      const ref = resolveExport(arg, imp.name);
      if ('t' in ref) usedLowered.add(ref.t);
      if (!byModule.has(imp.module)) byModule.set(imp.module, new Map());
      byModule.get(imp.module)!.set(imp.name, ref);
    }
    for (const name of inst.args.keys()) if (!byModule.has(name)) notRecognized('an instantiation argument that the module does not import');
    const sorted = [...byModule].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([mod, names]): [string, [string, CoreRef][]] => [mod, [...names].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
    stepOf.set(index, steps.length);
    steps.push({ module: inst.module, imports: shape.imports.length ? sorted : null });
  });
  if (instantiated.size !== m.modules.length) notRecognized('a core module never instantiated');
  if (usedLowered.size !== lowered.length) notRecognized('a lowered function no instance uses');

  const options = (o: CanonOptions, f: FuncType, context: 'lift' | 'lower') => {
    const sig = coreSignature(f, context);
    const paramsUse = f.params.some(([, t]) => usesMemory(t));
    const resultUses = f.result !== null && usesMemory(f.result);
    const needsMemory = paramsUse || resultUses || sig.paramsInMemory || sig.resultInMemory;
    const needsRealloc = context === 'lift' ? paramsUse || sig.paramsInMemory : resultUses;
    if ((o.memory !== undefined) !== needsMemory) notRecognized('memory where not needed, or none where needed');
    if ((o.realloc !== undefined) !== needsRealloc) notRecognized('realloc where not needed, or none where needed');
    if (o.postReturn !== undefined && context !== 'lift') notRecognized('post-return on a lower');
    const memory = o.memory === undefined ? null : direct(resolveCore('memory', o.memory));
    let realloc: CoreRef | null = null;
    if (o.realloc !== undefined) {
      if (!satisfiesImport(m.core.func[o.realloc].type, REALLOC)) notRecognized('realloc of the wrong type');
      realloc = direct(resolveCore('func', o.realloc));
    }
    let postReturn: CoreRef | null = null;
    if (o.postReturn !== undefined) {
      if (!satisfiesImport(m.core.func[o.postReturn].type, { kind: 'func', type: { params: sig.results, results: [] } })) notRecognized('post-return of the wrong type');
      postReturn = direct(resolveCore('func', o.postReturn));
    }
    return { sig, memory, realloc, postReturn };
  };

  m.core.func.forEach((def, index) => {
    if (def.from !== 'lower') return;
    const l = lowered[loweredOf.get(index)!];
    const { memory, realloc } = options(def.options, l.type, 'lower');
    l.memory = memory;
    l.realloc = realloc;
  });

  const exports: PlanExport[] = [];
  for (const [name, index] of [...m.exports].sort(([a], [b]) => (camel(a) < camel(b) ? -1 : 1))) {
    const e = m.funcs[index];
    const f = e.from === 'export' ? m.funcs[e.func] : e;
    if (f.from !== 'lift') return notRecognized('an export that is not a lifted function');
    const { sig, memory, realloc, postReturn } = options(f.options, f.type, 'lift');
    if (!satisfiesImport(m.core.func[f.core].type, { kind: 'func', type: { params: sig.params, results: sig.results } })) notRecognized('a lifted core function of the wrong type');
    exports.push({ name, type: f.type, core: direct(resolveCore('func', f.core)), memory, realloc, postReturn });
  }
  if (m.funcs.some((f) => f.from === 'lift' && ![...m.exports.values()].some((i) => { const e = m.funcs[i]; return e.from === 'export' && m.funcs[e.func] === f; }))) {
    notRecognized('a lifted function that is not exported');
  }

  const byIface = new Map<string, string[]>();
  for (const l of lowered) byIface.set(l.iface, [...(byIface.get(l.iface) ?? []), camel(l.name)]);
  const imports = [...byIface].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([i, fns]): [string, string[]] => [i, fns.sort()]);
  return {
    plan: { format: 1, modules: m.modules.map((_, i) => coreModuleName(i)), steps, imports, lowered, exports },
    cores: m.modules.map((mod) => bytes.subarray(mod.start, mod.end)),
  };
}

/** Whether an export of type `have` satisfies an import of type `want`; globals never do here. */
function satisfiesImport(have: CoreExtern, want: CoreExtern): boolean {
  if (have.kind === 'func' || want.kind === 'func') return have.kind === 'func' && want.kind === 'func' && sameCoreFunc(have.type, want.type);
  if (have.kind === 'global' || want.kind === 'global' || have.kind !== want.kind) return false;
  if (have.kind === 'table' && want.kind === 'table' && have.elem !== want.elem) return false;
  const h = have.limits;
  const w = want.limits;
  return h.min >= w.min && (w.max === undefined || (h.max !== undefined && h.max <= w.max));
}

/**
 * The component's imports and exports against the world's, by the one world
 * check (host/loader/world.ts), with no grants; and exactly the world's
 * exports, which the plan lifts. What the check refuses is not recognized:
 * the jco path asks the check again and gives its error.
 */
function checkFace(m: Model, world: Face): void {
  try {
    checkWorld(faceOf(m), world, 'the component');
  } catch (e) {
    if (e instanceof PamwasmError) notRecognized(e.message);
    throw e;
  }
  if (m.exports.size !== world.funcs.size) notRecognized('exports other than the world\'s');
}
