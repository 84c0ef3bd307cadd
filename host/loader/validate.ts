/**
 * The first judgement of a component's code, before anything rewrites or
 * compiles it, on both load paths: every core module it holds is validated
 * by the engine's own validator (V8, with this process's features), then
 * checked against what the sandbox refuses whatever the engine accepts
 * (host/sandbox/instrument/core-check.ts: threads, duplicate imports, resource caps),
 * and the core instances it makes are counted against their cap, as are
 * its component-level definitions (COMPONENT_CAPS: the fast path's reader
 * and jco's glue generator both build an object for each). A
 * component that nests components is refused: a nested component's core
 * instances are made each time it is instantiated, so the cap could not be
 * held by counting the text, and a session module has no use for nesting.
 *
 * Why first: the meter appends a global, a type and an import, so an index
 * one past the end of a space in an invalid module would, once metered,
 * name what the meter added (a loop writing one global past the last would
 * refill its own fuel). And the jco path generates its glue from a skeleton
 * whose function bodies were hollowed out (skeleton.ts), so it never sees
 * the originals' code either.
 *
 * Every core module is validated at once, on this thread, before anything
 * else looks at it, large or small: `WebAssembly.validate` of a JS guest's
 * 12 MB module costs about 30 ms, whereas an asynchronous compile of it on
 * V8's threads (to overlap validation with the meter) does all of Liftoff's
 * work too, and on two cores it slowed the meter (and V8's optimizing of
 * the meter's own code) by more than it saved (measured with the bench's
 * cold loads).
 *
 * A load whose prepared output comes from the disk cache skips this: an
 * entry is only written after these checks passed, and is keyed on this
 * code (cache.ts).
 *
 * @example
 *   const cores = checkComponentCores(bytes, 'pam_x.wasm', { metered: true });
 */
import { MalformedModuleError, ResourceLimitError, UnsupportedWasmError } from '../errors/index.js';
import { checkCoreModule, CORE_CAPS, type CoreCaps } from '../sandbox/index.js';
import { Reader } from '../wasm/index.js';

const PREAMBLE = 8;
/** Component-model Binary.md section ids. */
const CUSTOM = 0;
const CORE_MODULE = 1;
const CORE_INSTANCE = 2;
const COMPONENT = 4;

/** The component-level sections that are a vector of definitions, by id, as a refusal names their entries. */
const DEFINITIONS: Readonly<Record<number, string>> = {
  2: 'core instance definitions', 3: 'core type definitions', 5: 'instance definitions', 6: 'aliases',
  7: 'type definitions', 8: 'canonical functions', 10: 'imports', 11: 'exports',
};

/**
 * Caps on a component's own definitions, over all its sections of a kind:
 * the world's components have at most about a hundred of any kind and a
 * few kilobytes of them in all (7.5 KB for the largest here, a WASI
 * adapter). Past V8's and the format's own limits, a million type
 * definitions cost the fast path's reader 0.3-0.6 s and up to 390 MiB.
 */
export const COMPONENT_CAPS = Object.freeze({
  /** Definitions of one kind (DEFINITIONS): types, aliases, instances... */
  definitions: 10_000,
  /** Bytes of every section but core modules and custom sections. */
  bytes: 1 << 20,
});

export interface ComponentCores {
  /** Every core module, in the order they appear. */
  modules: Uint8Array[];
  /** Core instances the component's text makes (`instantiate` entries). */
  instances: number;
  /** Components defined inside it (component sections). */
  nested: number;
  /** Definitions of each kind, by section id (DEFINITIONS). */
  definitions: Map<number, number>;
  /** Bytes of the sections that are neither core modules nor custom sections. */
  ownBytes: number;
}

/** Lists the core modules and counts the core instances; throws MalformedModuleError on bytes it cannot walk. */
export function componentCores(component: Uint8Array): ComponentCores {
  const out: ComponentCores = { modules: [], instances: 0, nested: 0, definitions: new Map(), ownBytes: 0 };
  const r = new Reader(component, PREAMBLE);
  while (r.pos < component.length) {
    const id = r.u8();
    const contents = r.bytes();
    if (id === CORE_MODULE) out.modules.push(contents);
    else if (id === COMPONENT) out.nested++;
    else if (id !== CUSTOM) out.ownBytes += contents.length;
    if (id === CORE_INSTANCE) out.instances += instantiations(contents);
    if (DEFINITIONS[id]) out.definitions.set(id, (out.definitions.get(id) ?? 0) + new Reader(contents).u32());
  }
  return out;
}

/** The `instantiate` entries (0x00) of a core instance section; `from exports` (0x01) makes no instance. */
function instantiations(section: Uint8Array): number {
  const r = new Reader(section);
  let made = 0;
  for (let n = r.u32(); n > 0; n--) {
    const kind = r.u8();
    if (kind === 0x00) {
      made++;
      r.u32(); // module index
      for (let a = r.u32(); a > 0; a--) { r.name(); r.u8(); r.u32(); } // name, 0x12 instance, index
    } else if (kind === 0x01) {
      for (let e = r.u32(); e > 0; e--) { r.name(); r.u8(); r.u32(); } // name, sort, index
    } else {
      throw new MalformedModuleError(`a core instance of unknown kind 0x${kind.toString(16)}`);
    }
  }
  return made;
}

/**
 * V8's verdict on one core module: nothing when valid, otherwise
 * MalformedModuleError with V8's own reason (compiling says why; validate
 * only says no).
 */
export function validateCore(bytes: Uint8Array, where: string): void {
  if (WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>)) return;
  let refusal = new Error('refused without a reason');
  try {
    new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  } catch (e) {
    refusal = e as Error;
  }
  throw v8Refusal(where, refusal);
}

export interface CheckCoresOptions {
  /** Whether the cores will be metered: the meter's walk then finds atomic wait/notify itself. */
  metered: boolean;
  caps?: Readonly<CoreCaps>;
}

/**
 * Validates and checks every core module of `component` (see the file
 * comment), and gives them back: V8's refusal of any of them comes before
 * the sandbox's own refusals, since a module V8 refuses is malformed,
 * whatever else is wrong with it.
 */
export function checkComponentCores(component: Uint8Array, source: string, options: CheckCoresOptions): Uint8Array[] {
  const caps = options.caps ?? CORE_CAPS;
  let found: ComponentCores;
  try {
    found = componentCores(component);
  } catch (e) {
    throw new MalformedModuleError(`${source} is not a valid component (${(e as Error).message}); rebuild it from its source.`, { cause: e });
  }
  if (found.nested > 0) {
    throw new UnsupportedWasmError(`${source} nests ${found.nested} component${found.nested > 1 ? 's' : ''} inside it, which the sandbox does not run (their core instances are made once per instantiation, past what its cap can count); build the module as one component.`);
  }
  if (found.ownBytes > COMPONENT_CAPS.bytes) {
    throw new ResourceLimitError(`${source} has ${found.ownBytes} bytes of component-level definitions (types, aliases, instances, imports, exports), over the sandbox's cap of ${COMPONENT_CAPS.bytes}; a session module has a few kilobytes.`);
  }
  for (const [id, n] of found.definitions) {
    if (n > COMPONENT_CAPS.definitions) {
      throw new ResourceLimitError(`${source} has ${n} component-level ${DEFINITIONS[id]}, over the sandbox's cap of ${COMPONENT_CAPS.definitions}; a session module has a few dozen.`);
    }
  }
  if (found.instances > caps.coreInstances) {
    throw new ResourceLimitError(`${source} makes ${found.instances} core instances, over the sandbox's cap of ${caps.coreInstances}; a session module needs a few.`);
  }
  found.modules.forEach((core, i) => validateCore(core, `${source} core module ${i}`));
  found.modules.forEach((core, i) => checkCoreModule(core, { where: `${source} core module ${i}`, caps: options.caps, scanCode: !options.metered }));
  return found.modules;
}

function v8Refusal(where: string, e: Error): MalformedModuleError {
  const reason = e.message.replace(/^WebAssembly\.(Module|compile)\(\): /, '');
  return new MalformedModuleError(`${where} is not valid WebAssembly (V8: ${reason}); rebuild it from its source with a toolchain that emits valid modules.`);
}

/** One core module: V8 first, then the sandbox's own refusals. */
export function checkCore(core: Uint8Array, where: string, options: CheckCoresOptions): void {
  validateCore(core, where);
  checkCoreModule(core, { where, caps: options.caps, scanCode: !options.metered });
}
