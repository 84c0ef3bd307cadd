/**
 * In-thread time and memory limits for guest code, by rewriting each core
 * WebAssembly module before it is compiled.
 *
 * Why a rewrite: a worker round trip costs about 50 us and `vm` timeouts about
 * 85 us a call (measured on Node 20), while a whole sandboxed hook call has a
 * budget of about 40 us. A fuel counter inside the module costs a few
 * instructions per function entry and loop iteration and nothing per call.
 *
 * What the rewrite adds (core/binary/modules.rst for every encoding):
 *  - a defined mutable i32 global, exported as `pamwasm:fuel`;
 *  - an imported function `pamwasm:sandbox` `out-of-fuel` of type [] -> [],
 *    the last function import, so every defined function's index moves up by
 *    one (calls, `ref.func`, element segments, exports, start and the name
 *    section are renumbered);
 *  - at every function entry and every loop header, a charge for the
 *    instructions that entry or iteration runs, and before every bulk memory
 *    or table instruction a charge for its length (fuel.ts):
 *      fuel -= cost;
 *      if (fuel < 0) { out-of-fuel(); if (fuel < 0) unreachable; }
 *    Any unbounded execution repeats a loop or a call, so it runs the check.
 *    In a function with a loop the counter is a local, kept equal to the
 *    global at calls, returns and the out-of-fuel call.
 *
 * The host's part: set `fuel` to a slice before each call into the guest.
 * When a slice runs out, out-of-fuel either refills it (time left: the guest
 * goes on) or returns without refilling (deadline passed: the guest traps
 * with `unreachable`). Stop by not refilling, not by throwing: a JS exception
 * thrown from an import can be caught by the guest's own `catch_all` (legacy
 * exception handling or try_table) and the loop resumes, whereas a trap
 * cannot be caught by Wasm code (exception-handling proposal: traps are not
 * exceptions) and unwinds to the host, which knows from its own state that
 * the trap was its timeout. A guest cannot reach the global: no index it was
 * compiled against refers to it.
 *
 * The rewrite is one copy of the module through passes that each own their
 * part of it, so that a 12 MB module is decoded once (each body by one walk
 * that counts and records, then copied: replay.ts):
 *  - fuel (fuel-pass.ts), always;
 *  - the memory cap (memory-cap.ts), with `maxMemoryPages`;
 *  - the pooled-memory import (pooled-memory.ts), with `poolMemory`;
 *  - the park exports (park.ts), with `parkExports`.
 *
 * @example
 *   const { bytes, metered } = meterCoreModule(core, { maxMemoryPages: 256 });
 *   const module = new WebAssembly.Module(bytes);
 *   let fuel: WebAssembly.Global | undefined;
 *   let deadline = 0, timedOut = false;
 *   const imports = { 'pamwasm:sandbox': { 'out-of-fuel': () => {
 *     if (fuel && performance.now() < deadline) fuel.value = 10_000;
 *     else timedOut = true; // the guest traps when this returns
 *   } } };
 *   const instance = new WebAssembly.Instance(module, imports);
 *   if (metered) fuel = instance.exports['pamwasm:fuel'] as WebAssembly.Global;
 *   // per call: deadline = performance.now() + ms; timedOut = false; fuel.value = 10_000; call...
 *   // a RuntimeError with timedOut set is the timeout, any other a guest trap
 */
import { malformed, MODULE_PREAMBLE, Reader, unsupported, Writer } from '../../wasm/index.js';
import {
  SECTION, sectionOrder, type Section, readSections, droppedCustom, moduleSpaces, checkIndex,
  rewriteTables, rewriteGlobals, rewriteExports, rewriteElements, rewriteNames,
  type GlobalScan, type ModuleSpaces, type TableCaps,
} from './sections.js';
import type { Rewrite } from './instructions.js';
import { FUEL_EXPORT, rewriteCode, writeFuelExport, writeFuelGlobal, writeOutOfFuelImport } from './fuel-pass.js';
import { rewriteMemories } from './memory-cap.js';
import { frameTypes } from './frame.js';
import { singleMemory, writeMemoryImport } from './pooled-memory.js';
import { parkable, writeGlobalExport, writeStateSection } from './park.js';

export { FUEL_EXPORT, OUT_OF_FUEL } from './fuel-pass.js';
export { pooledMemoryLimits } from './pooled-memory.js';
export { GLOBAL_EXPORT_PREFIX, STATE_SECTION } from './park.js';

export interface MeterOptions {
  /**
   * Cap on every defined memory, in 64 KiB pages. Default: no cap (the
   * module's own maximum, if any, stays). A module whose initial size is over
   * the cap is refused.
   */
  maxMemoryPages?: number;
  /**
   * The fuel global's initial value. Default 0: the first check calls
   * out-of-fuel. A start function runs inside instantiation, before the host
   * holds the exported global and can refill it, so a module with a start
   * function needs enough initial fuel for it, or it traps on instantiation.
   */
  initialFuel?: number;
  /**
   * Make the module's memory an import the host supplies (`pamwasm:sandbox`
   * `memory:<min>:<max>`, see `pooledMemoryLimits`), with the same limits
   * (capped), so that instances can be made on recycled, zeroed memories
   * instead of fresh ones (limits.ts). Only a module that defines exactly one
   * plain 32-bit memory and imports none is changed; others keep theirs.
   * Needs `maxMemoryPages`. Default false.
   */
  poolMemory?: boolean;
  /**
   * Export every mutable global the module defines (as
   * `pamwasm:global:<index>`), and add a custom section `pamwasm:state` (one
   * byte, see `STATE_SECTION`) that says whether the pooled memory and those
   * globals are all the state its code can change, so that an idle instance
   * can be parked as a copy of them and made again later (limits.ts). A
   * module that keeps a memory of its own (not pooled) is never parkable.
   * Default false.
   */
  parkExports?: boolean;
  /**
   * Caps on the module's own tables, in elements: a table that starts above
   * them is refused (`ERR_PAMWASM_RESOURCE_LIMIT`), and each maximum is lowered so
   * that `table.grow` fails past them. Default: no cap.
   */
  tableCaps?: TableCaps;
}

export interface MeterResult {
  bytes: Uint8Array;
  /** With `parkExports`: whether the pooled memory and the exported globals are all the module's changeable state. */
  parkable?: boolean;
  /**
   * True when the fuel global and the out-of-fuel import were added. False for
   * a module that defines no function (nothing can run in it): then it needs
   * no `pamwasm:sandbox` import and exports no `pamwasm:fuel`.
   */
  metered: boolean;
}

export const SANDBOX_MODULE = 'pamwasm:sandbox';

/**
 * Rewrites a core module's bytes so that running it consumes fuel (see the
 * file comment), and caps its memories. Throws `MalformedModuleError` on bytes
 * that are not a well-formed core module, and a `PamwasmError` with code
 * `ERR_PAMWASM_UNSUPPORTED_WASM` on a feature it cannot meter safely (an unknown
 * opcode, memory64 or custom page sizes under a cap), or `ERR_PAMWASM_MEMORY_LIMIT`
 * when a memory starts above the cap.
 */
export function meterCoreModule(input: Uint8Array, options: MeterOptions = {}): MeterResult {
  // A plain Uint8Array over the same memory, never a Node Buffer (a subclass):
  // every read of the rewrite then sees one kind of array, and each span it
  // copies takes the engine's own `subarray`, not Buffer's slower one.
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const cap = options.maxMemoryPages;
  if (cap !== undefined && !(Number.isInteger(cap) && cap >= 0 && cap <= 65536)) {
    throw new RangeError(`maxMemoryPages must be an integer from 0 to 65536, not ${cap}`);
  }
  const initialFuel = options.initialFuel ?? 0;
  if (!(Number.isInteger(initialFuel) && initialFuel >= 0 && initialFuel <= 0x7fffffff)) {
    throw new RangeError(`initialFuel must be an integer from 0 to 2^31-1, not ${initialFuel}`);
  }
  const fuelGlobal = (w: Writer) => writeFuelGlobal(w, initialFuel);
  for (let i = 0; i < 8; i++) {
    if (bytes[i] !== MODULE_PREAMBLE[i]) throw malformed('not a core WebAssembly module (bad magic number or version)');
  }
  const sections = readSections(bytes);
  // Every index space is counted, and the sections copied as they are
  // checked, before anything is written: the rewrite never repairs.
  const spaces = moduleSpaces(bytes, sections, SANDBOX_MODULE);
  const code = sections.find((s) => s.id === SECTION.code);
  const hasCode = code !== undefined && new Reader(bytes, code.start, code.end).u32() > 0;

  // Room for what the rewrite adds (about 15-20% on compiled C and JS
  // guests): growing a 12 MB buffer would copy it, and so would `result()`.
  const out = new Writer(Math.ceil(bytes.length * 1.25) + 1024);
  out.bytes(Uint8Array.from(MODULE_PREAMBLE));

  if (!hasCode) {
    // Nothing can run: only the caps apply, and the same checks.
    const asIs: Rewrite = { out, shiftFrom: Infinity, spaces };
    for (const s of sections) {
      if (s.id === SECTION.memory) out.section(s.id, () => rewriteMemories(bytes, s, out, cap));
      else if (s.id === SECTION.table) out.section(s.id, () => rewriteTables(bytes, s, asIs, options.tableCaps));
      else if (s.id === SECTION.global) out.section(s.id, () => rewriteGlobals(bytes, s, asIs));
      else if (s.id === SECTION.export) out.section(s.id, () => rewriteExports(bytes, s, out, Infinity, FUEL_EXPORT, 0, () => {}, spaces));
      else if (s.id === SECTION.element) out.section(s.id, () => rewriteElements(bytes, s, asIs));
      else if (s.id === SECTION.start) out.section(s.id, () => out.u32(startIndex(bytes, s, spaces)));
      else out.copy(bytes, s.headerStart, s.end);
    }
    if (!options.parkExports) return { bytes: out.finish(), metered: false };
    // Without code, only instantiation writes its state: nothing to park
    // unless it holds a memory or a mutable global others could change.
    const global = sections.find((s) => s.id === SECTION.global);
    const imports = sections.find((s) => s.id === SECTION.import);
    const still = !sections.some((s) => s.id === SECTION.memory)
      && (!global || new Reader(bytes, global.start, global.end).u32() === 0)
      && (!imports || spaces.imports!.mutableGlobals === 0);
    writeStateSection(out, still);
    return { bytes: out.finish(), metered: false, parkable: still };
  }

  const memorySection = sections.find((s) => s.id === SECTION.memory);
  const imported = spaces.imports;
  const memory = options.poolMemory && cap !== undefined && memorySection && !imported?.memories
    ? singleMemory(bytes, memorySection, cap)
    : undefined;
  const writeSandboxImports = (w: Writer) => {
    writeOutOfFuelImport(w, SANDBOX_MODULE, typeIndex);
    if (memory) writeMemoryImport(w, SANDBOX_MODULE, memory);
  };
  const sandboxImports = memory ? 2 : 1;
  const exportState = Boolean(options.parkExports);
  const state = { beyondMemory: false };
  let globals: GlobalScan = { count: 0, mutable: [], numeric: true };
  const writeExports = () => {
    writeFuelExport(out, importedGlobals + globals.count);
    if (exportState) for (const i of globals.mutable) writeGlobalExport(out, importedGlobals + i);
  };
  const exportCount = () => 1 + (exportState ? globals.mutable.length : 0);

  // Facts gathered on the way, in section order (each is known before a later
  // section needs it: imports before globals before exports and code).
  let typeIndex = -1; // of [] -> []
  let importedFuncs = 0;
  let importedGlobals = 0;
  let seenCode = false;
  // Constant expressions (global, table and element initializers) get the
  // function renumbering but no fuel checks: they cannot loop.
  const shifted = (): Rewrite => ({ out, shiftFrom: importedFuncs, spaces });

  // Sections the rewrite must have, synthesized where the module lacks them,
  // at their place in the spec's section order (modules.rst "Modules").
  const needed = [SECTION.type, SECTION.import, SECTION.global, SECTION.export];
  const present = new Set(sections.map((s) => s.id));
  const synthesize = (id: number) => {
    switch (id) {
      case SECTION.type:
        out.section(id, () => { out.u32(1); out.u8(0x60); out.u32(0); out.u32(0); });
        typeIndex = 0;
        break;
      case SECTION.import:
        out.section(id, () => { out.u32(sandboxImports); writeSandboxImports(out); });
        break;
      case SECTION.global:
        out.section(id, () => { out.u32(1); fuelGlobal(out); });
        break;
      case SECTION.export:
        out.section(id, () => { out.u32(exportCount()); writeExports(); });
        break;
    }
  };
  const catchUp = (order: number) => {
    while (needed.length > 0 && sectionOrder(needed[0]) < order) {
      const id = needed.shift()!;
      if (!present.has(id)) synthesize(id);
    }
  };

  for (const s of sections) {
    if (s.id === SECTION.custom) {
      if (s.name === 'name') {
        // The spec puts it after the data section; one found earlier would be
        // renumbered before the imports are known, so it is dropped. A
        // malformed one is dropped too: engines ignore its errors as well.
        const mark = out.pos;
        try {
          if (!seenCode) throw malformed('name section before the code');
          out.section(0, () => { out.name('name'); rewriteNames(bytes, s, out, importedFuncs); });
        } catch {
          out.pos = mark;
        }
      } else if (!droppedCustom(s.name!)) {
        out.copy(bytes, s.headerStart, s.end);
      }
      continue;
    }
    catchUp(sectionOrder(s.id));
    if (needed[0] === s.id) needed.shift();
    switch (s.id) {
      case SECTION.type: {
        // Scanned once, by moduleSpaces.
        const t = spaces.typeScan!;
        typeIndex = t.emptyFunc >= 0 ? t.emptyFunc : t.count;
        out.section(s.id, () => {
          out.u32(t.entries + (t.emptyFunc >= 0 ? 0 : 1));
          out.copy(bytes, t.bodyStart, s.end);
          if (t.emptyFunc < 0) { out.u8(0x60); out.u32(0); out.u32(0); }
        });
        break;
      }
      case SECTION.import: {
        const im = imported!;
        importedFuncs = im.funcs;
        importedGlobals = im.globals;
        out.section(s.id, () => {
          out.u32(im.count + sandboxImports);
          out.copy(bytes, im.bodyStart, s.end);
          writeSandboxImports(out);
        });
        break;
      }
      case SECTION.table:
        out.section(s.id, () => rewriteTables(bytes, s, shifted(), options.tableCaps));
        break;
      case SECTION.memory:
        if (memory) break; // now the last import: same index 0
        out.section(s.id, () => rewriteMemories(bytes, s, out, cap));
        break;
      case SECTION.global:
        out.section(s.id, () => { globals = rewriteGlobals(bytes, s, shifted(), fuelGlobal); });
        break;
      case SECTION.export:
        out.section(s.id, () => rewriteExports(bytes, s, out, importedFuncs, FUEL_EXPORT, exportCount(), writeExports, spaces));
        break;
      case SECTION.start: {
        const idx = startIndex(bytes, s, spaces);
        out.section(s.id, () => out.u32(idx >= importedFuncs ? idx + 1 : idx));
        break;
      }
      case SECTION.element:
        out.section(s.id, () => rewriteElements(bytes, s, shifted()));
        break;
      case SECTION.code:
        seenCode = true;
        out.section(s.id, () => rewriteCode(bytes, s, out, importedFuncs, importedGlobals + globals.count, frameTypes(spaces), state, spaces));
        break;
      default: // function, tag, data count, data: no function indices inside
        out.copy(bytes, s.headerStart, s.end);
    }
  }
  catchUp(Infinity);
  if (imported?.fromSandbox) throw unsupported(`the module already imports from \`${SANDBOX_MODULE}\`, the name the sandbox reserves for itself.`);
  if (!exportState) return { bytes: out.finish(), metered: true };
  const canPark = parkable({
    beyondMemory: state.beyondMemory, numericGlobals: globals.numeric, importedMutableGlobals: imported?.mutableGlobals ?? 0,
    importedMemories: imported?.memories ?? 0, definesMemory: memorySection !== undefined, memoryPooled: memory !== undefined,
  });
  writeStateSection(out, canPark);
  return { bytes: out.finish(), metered: true, parkable: canPark };
}

/** The start section's function index, in range, with nothing after it. */
function startIndex(bytes: Uint8Array, s: Section, spaces: ModuleSpaces): number {
  const r = new Reader(bytes, s.start, s.end);
  const idx = r.u32();
  checkIndex('function', idx, spaces.funcs, s.start);
  if (r.pos !== s.end) throw malformed(`start section has trailing bytes at offset ${r.pos}`);
  return idx;
}

