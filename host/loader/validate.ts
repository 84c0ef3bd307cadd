/**
 * The first judgement of a component's code, before anything rewrites or
 * compiles it, on both load paths: every core module it holds is validated
 * by the engine's own validator (V8, with this process's features), then
 * checked against what the sandbox refuses whatever the engine accepts
 * (host/sandbox/instrument/core-check.ts: threads, duplicate imports, resource caps),
 * and the core instances it makes are counted against their cap.
 *
 * Why first: the meter appends a global, a type and an import, so an index
 * one past the end of a space in an invalid module would, once metered,
 * name what the meter added (a loop writing one global past the last would
 * refill its own fuel). And the jco path generates its glue from a skeleton
 * whose function bodies were hollowed out (skeleton.ts), so it never sees
 * the originals' code either.
 *
 * A large core module (a JS guest's is 12 MB) is validated by V8 on its own
 * threads while the meter rewrites it on this one; the meter's output is
 * used only once V8 has said yes, and V8's refusal comes before any other.
 *
 * A load whose prepared output comes from the disk cache skips this: an
 * entry is only written after these checks passed, and is keyed on this
 * code (cache.ts).
 *
 * @example
 *   const cores = checkComponentCores(bytes, 'pam_x.wasm', { metered: true });
 */
import { MalformedModuleError, ResourceLimitError } from '../errors/index.js';
import { checkCoreModule, CORE_CAPS, type CoreCaps } from '../sandbox/index.js';
import { Reader } from '../wasm/index.js';

const PREAMBLE = 8;
/** Component-model Binary.md section ids. */
const CORE_MODULE = 1;
const CORE_INSTANCE = 2;
const COMPONENT = 4;

export interface ComponentCores {
  /** Every core module, nested components' included, in the order they appear. */
  modules: Uint8Array[];
  /** Core instances the component's text makes (`instantiate` entries), nested components' included. */
  instances: number;
}

/** Lists the core modules and counts the core instances; throws MalformedModuleError on bytes it cannot walk. */
export function componentCores(component: Uint8Array, out: ComponentCores = { modules: [], instances: 0 }): ComponentCores {
  const r = new Reader(component, PREAMBLE);
  while (r.pos < component.length) {
    const id = r.u8();
    const contents = r.bytes();
    if (id === CORE_MODULE) out.modules.push(contents);
    else if (id === COMPONENT) componentCores(contents, out);
    else if (id === CORE_INSTANCE) out.instances += instantiations(contents);
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
 * A core module this large is validated by V8 on its own threads (an
 * asynchronous compile, whose result is dropped) while the meter rewrites
 * it on this one; smaller ones are validated at once.
 */
const VALIDATE_ASYNC_FROM = 1024 * 1024;

export interface CheckedCores {
  /** The core modules, nested components' included. */
  modules: Uint8Array[];
  /**
   * V8's verdict on the large ones: undefined when valid, else the
   * MalformedModuleError to throw. It never rejects. Nothing made from the
   * modules may be used before it is known, and it comes before any other
   * refusal (see `withVerdict`).
   */
  verdict: Promise<MalformedModuleError | undefined>;
  /** The sandbox's own refusal, to be thrown unless `verdict` holds V8's. */
  refusal?: Error;
}

/** Validates and checks every core module of `component` (see the file comment). */
export function checkComponentCores(component: Uint8Array, source: string, options: CheckCoresOptions): CheckedCores {
  const caps = options.caps ?? CORE_CAPS;
  let found: ComponentCores;
  try {
    found = componentCores(component);
  } catch (e) {
    throw new MalformedModuleError(`${source} is not a valid component (${(e as Error).message}); rebuild it from its source.`, { cause: e });
  }
  if (found.instances > caps.coreInstances) {
    throw new ResourceLimitError(`${source} makes ${found.instances} core instances, over the sandbox's cap of ${caps.coreInstances}; a session module needs a few.`);
  }
  const pending: Promise<MalformedModuleError | undefined>[] = [];
  found.modules.forEach((core, i) => {
    const where = `${source} core module ${i}`;
    if (core.length < VALIDATE_ASYNC_FROM) validateCore(core, where);
    else pending.push(WebAssembly.compile(core as Uint8Array<ArrayBuffer>).then(() => undefined, (e: Error) => v8Refusal(where, e)));
  });
  const verdict = Promise.all(pending).then((errors) => errors.find((e) => e !== undefined));
  // The sandbox's own refusals wait for V8's: a module V8 refuses is malformed, whatever else is wrong with it.
  try {
    found.modules.forEach((core, i) => checkCoreModule(core, { where: `${source} core module ${i}`, caps: options.caps, scanCode: !options.metered }));
  } catch (e) {
    return { modules: found.modules, verdict, refusal: e as Error };
  }
  return { modules: found.modules, verdict };
}

/** Runs `work`; V8's refusal in `verdict`, when there is one, is thrown instead of whatever `work` throws or returns. */
export async function withVerdict<T>(verdict: Promise<Error | undefined>, work: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await work();
  } catch (e) {
    throw (await verdict) ?? e;
  }
  const refused = await verdict;
  if (refused) throw refused;
  return result;
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
