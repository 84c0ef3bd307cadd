/**
 * Making an instance from a plan (plan.ts), in the order jco's glue does:
 * ask `getCoreModule` for every core module, take each imported function
 * from the imports object (unversioned interface name, camelCase function
 * name), then instantiate the core modules one after the other, each
 * through `instantiateCore` (the sandbox's hook that meters it and caps its
 * memory: it sees every core instance, as with the glue), with the import
 * object its module asks for; a module that imports nothing gets the hook's
 * one-argument call. Each instance has its own core instances, memories and
 * canonical options: instances share no state.
 */
import type { ImportObject, InstantiateCore, ModuleInstance } from '../index.js';
import { camel } from '../names.js';
import { compileLift, compileLower, type Cx } from './canon.js';
import type { CoreRef, Plan } from './plan.js';

export type Instantiator = (
  getCoreModule: (name: string) => WebAssembly.Module,
  imports: ImportObject,
  instantiateCore?: InstantiateCore,
) => ModuleInstance;

const defaultInstantiateCore: InstantiateCore = (module, importObject) => new WebAssembly.Instance(module, importObject);

type Exports = WebAssembly.Exports;
type CoreFn = (...args: number[]) => number;

/** Compiles the plan's lifts and lowers once; the result instantiates it any number of times. */
export function instantiator(plan: Plan): Instantiator {
  const lowers = plan.lowered.map((l) => compileLower(l.type, l.name));
  const lifts = plan.exports.map((e) => compileLift(e.type));
  // Each function taken from the imports object has a slot, in the order
  // they are taken; a lowered import calls the last slot of its name (none:
  // undefined, which fails as the glue does when called).
  const slotOf = new Map<string, number>();
  let slots = 0;
  for (const [iface, fns] of plan.imports) for (const fn of fns) slotOf.set(`${iface}\0${fn}`, slots++);
  const loweredSlots = plan.lowered.map((l) => slotOf.get(`${l.iface}\0${camel(l.name)}`) ?? -1);
  const exportNames = plan.exports.map((e) => camel(e.name));
  return (getCoreModule, imports, instantiateCore = defaultInstantiateCore) => {
    const modules = plan.modules.map((name) => getCoreModule(name));
    const host: unknown[] = new Array(slots);
    let slot = 0;
    for (const [iface, fns] of plan.imports) {
      const obj = (imports as Record<string, Record<string, unknown> | null | undefined>)[iface];
      if (obj === undefined || obj === null) {
        throw new TypeError(`Cannot destructure property '${fns[0]}' of 'imports.${iface}' as it is ${obj}.`);
      }
      for (const fn of fns) host[slot++] = obj[fn];
    }
    const done: Exports[] = [];
    const pending: [CoreRef, (value: unknown) => void][] = [];
    const later = (ref: CoreRef | null, set: (value: unknown) => void) => {
      if (ref && 'i' in ref) pending.push([ref, set]);
    };
    const trampolines = plan.lowered.map((l, t) => {
      const cx: Cx = { memory: undefined, realloc: undefined };
      later(l.memory, (v) => { cx.memory = v as WebAssembly.Memory; });
      later(l.realloc, (v) => { cx.realloc = v as CoreFn; });
      const at = loweredSlots[t];
      return lowers[t](cx, at < 0 ? undefined : host[at]);
    });
    const value = (ref: CoreRef): unknown => ('t' in ref ? trampolines[ref.t] : done[ref.i][ref.n]);
    plan.steps.forEach((step, i) => {
      const module = modules[step.module];
      let instance: WebAssembly.Instance;
      if (step.imports === null) {
        instance = (instantiateCore as (m: WebAssembly.Module) => WebAssembly.Instance)(module);
      } else {
        const importObject: Record<string, Record<string, unknown>> = {};
        for (const [mod, names] of step.imports) {
          const ns: Record<string, unknown> = {};
          for (const [name, ref] of names) ns[name] = value(ref);
          importObject[mod] = ns;
        }
        instance = instantiateCore(module, importObject as WebAssembly.Imports);
      }
      done.push(instance.exports);
      for (const [ref, set] of pending) if ('i' in ref && ref.i === i) set(value(ref));
    });
    const out: Record<string, (...args: unknown[]) => unknown> = {};
    plan.exports.forEach((e, k) => {
      const cx: Cx = {
        memory: e.memory ? (value(e.memory) as WebAssembly.Memory) : undefined,
        realloc: e.realloc ? (value(e.realloc) as CoreFn) : undefined,
      };
      out[exportNames[k]] = lifts[k](cx, value(e.core) as CoreFn, e.postReturn ? (value(e.postReturn) as (r: number) => void) : undefined);
    });
    return out as unknown as ModuleInstance;
  };
}
