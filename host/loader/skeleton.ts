/**
 * A skeleton of a component for the glue generator: the same component with
 * the function bodies of each of its own core modules replaced by
 * `unreachable`, their custom sections left out, and each such module marked
 * with its index.
 *
 * jco 1.11.2's generator validates every function body of every core module
 * before it writes a line of glue, and the glue depends on none of them
 * (it is made from the component's types, canonical options, imports and
 * exports, and the core modules' own imports and exports). On a 12 MB JS
 * guest that validation took about 4.4 s of the generator's 4.7 s. The
 * original bodies are validated before this runs: by V8, on every core
 * module of the component, before anything rewrites or compiles them
 * (validate.ts).
 *
 * The generator writes the core modules it was given out verbatim, next to
 * the ones it makes itself (shims and fixups); transpile.ts puts each
 * original back in place of its hollow copy, and generates from the
 * original component instead when a hollow copy is not found verbatim.
 */
import { PREAMBLE_SIZE, Reader, sectionHeaders, Writer } from '../wasm/index.js';

/** The component binary's core module section (component-model Binary.md, `section_1`). */
const CORE_MODULE_SECTION = 1;
/** Core module sections (core/binary/modules.rst). */
const CUSTOM_SECTION = 0;
const CODE_SECTION = 10;
/** A function body of no locals that traps: size 3, 0 local groups, `unreachable`, `end`. */
const HOLLOW_BODY = [3, 0, 0x00, 0x0b];
/** The custom section that keeps two structurally equal hollow modules apart. */
const MARK = 'pamwasm-skeleton';

export interface Skeleton {
  /** The component with hollow core modules. */
  bytes: Uint8Array;
  /** Each hollow core module with the original it stands for. */
  modules: { hollow: Uint8Array; original: Uint8Array }[];
}

/** Throws MalformedModuleError on bytes it cannot walk; the caller then uses the component as it is. */
export function skeletonOf(component: Uint8Array): Skeleton {
  const out = new Writer(64 * 1024);
  out.copy(component, 0, PREAMBLE_SIZE);
  const modules: Skeleton['modules'] = [];
  for (const s of sectionHeaders(new Reader(component, PREAMBLE_SIZE))) {
    if (s.id !== CORE_MODULE_SECTION) {
      out.copy(component, s.headerStart, s.end);
      continue;
    }
    const original = component.subarray(s.start, s.end);
    const hollow = hollowModule(original, modules.length);
    out.u8(CORE_MODULE_SECTION);
    out.u32(hollow.length);
    out.bytes(hollow);
    modules.push({ hollow, original });
  }
  return { bytes: out.result(), modules };
}

/**
 * `m` with every function body replaced by `unreachable`, its custom
 * sections left out, and a custom section naming `index`. The glue needs no
 * custom section of a core module, and the generator reads them all (a 60
 * MB one cost it 2 s and 400 MiB).
 */
function hollowModule(m: Uint8Array, index: number): Uint8Array {
  const out = new Writer(1024);
  out.copy(m, 0, PREAMBLE_SIZE);
  for (const s of sectionHeaders(new Reader(m, PREAMBLE_SIZE))) {
    if (s.id === CUSTOM_SECTION) continue;
    if (s.id !== CODE_SECTION) {
      out.copy(m, s.headerStart, s.end);
      continue;
    }
    const count = new Reader(m, s.start, s.end).u32();
    out.section(CODE_SECTION, () => {
      out.u32(count);
      for (let i = 0; i < count; i++) for (const b of HOLLOW_BODY) out.u8(b);
    });
  }
  out.section(CUSTOM_SECTION, () => {
    out.name(MARK);
    out.u32(index);
  });
  return out.result();
}
