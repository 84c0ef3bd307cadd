/**
 * What the sandbox refuses in a core module whatever the engine would
 * accept, checked on every original core module of a component before it is
 * metered or compiled, on both load paths:
 *  - threads: a shared memory (defined or imported) and the atomic
 *    wait/notify instructions. A session module has no use for them, and
 *    `memory.atomic.wait32` with an infinite timeout on a shared memory
 *    blocks the calling thread where no fuel check and no timer can reach it;
 *  - struct and array types (GC): their objects live on the engine's
 *    garbage-collected heap, outside the linear memory the `memory=` limit
 *    caps, so a loop of `array.new` could grow the host process until it
 *    dies. Without such a type no instruction can allocate one. Session
 *    modules (C, Rust, JS through StarlingMonkey) use linear memory only;
 *  - a (module, name) pair imported twice: the component model's validator
 *    (the jco path) refuses it, so the fast path must too;
 *  - instance resources over the caps below (`CORE_CAPS`): the number of
 *    tables, memories and globals, the declared size of each table and of
 *    all of them together, and data and element segment sizes. Table
 *    maximums are then rewritten to the caps by the meter, as memory
 *    maximums are, so `table.grow` fails past them at run time.
 *  - counts that cost time and memory before any limit of a call applies
 *    (`CORE_CAPS` again): types, functions, imports, exports and element
 *    segments. They are paid when the module is loaded (V8's validation, the
 *    meter, the jco path's glue generator) and, for exports and element
 *    segments, on every instantiation; V8's own limits are far above what
 *    a session module needs.
 *
 * It decodes with the meter's own reader and walker (one reader per format)
 * and is as strict: bytes it cannot follow are malformed, never skipped.
 *
 * @example
 *   checkCoreModule(core, { where: 'pam_x.wasm core module 0', scanCode: !metered });
 */
import { MalformedModuleError, PamwasmError, ResourceLimitError, UnsupportedWasmError } from '../../errors/index.js';
import { hex, Reader } from '../../wasm/index.js';
import { skipValType, walkFrom, walkInstructions, type Rewrite } from './instructions.js';
import { memoryLimits, NO_OUT, readSections, scanTypes, SECTION, skipConstExpr, tableLimits } from './spaces.js';

/** Caps on the resources one core instance may declare (docs/sandbox.md lists them). */
export interface CoreCaps {
  /** Tables a core module defines or imports. */
  tables: number;
  /** Elements of one table (its initial size; the meter caps its maximum). */
  tableElements: number;
  /** Elements of all of a core module's tables together. */
  tableElementsTotal: number;
  /** Memories a core module defines or imports. */
  memories: number;
  /** Globals a core module defines or imports. */
  globals: number;
  /** Core instances one instance of a component makes. */
  coreInstances: number;
  /** Bytes of all of a core module's data segments. */
  dataBytes: number;
  /** Entries of one element segment. */
  elementSegment: number;
  /** Element segments, and their entries in all. */
  elementSegments: number;
  elementEntries: number;
  /** Types (each member of a recursion group counts), functions (imported and defined), imports and exports. */
  types: number;
  functions: number;
  imports: number;
  exports: number;
}

export const CORE_CAPS: Readonly<CoreCaps> = Object.freeze({
  tables: 8,
  tableElements: 100_000,
  tableElementsTotal: 200_000,
  memories: 1,
  globals: 10_000,
  coreInstances: 16,
  dataBytes: 64 * 1024 * 1024,
  elementSegment: 100_000,
  // Counts that cost time and memory when the module is loaded, before any
  // limit of a call applies, and again on every instantiation for exports
  // and element segments: V8's own limits (a million functions and types,
  // 100,000 exports, ten million element segments) let a 60 MiB module stall
  // the jco path's glue generator for minutes or hold a GiB of RSS. A 12 MB
  // JavaScript guest has 12,680 functions, 140 types, 23 imports and exports
  // and one element segment.
  elementSegments: 10_000,
  elementEntries: 200_000,
  types: 10_000,
  functions: 50_000,
  imports: 10_000,
  exports: 10_000,
});

export interface CheckOptions {
  /** Names the module in messages, e.g. `pam_x.wasm core module 0`. */
  where: string;
  caps?: Readonly<CoreCaps>;
  /**
   * Walk the function bodies for atomic wait/notify. The meter's own walk
   * refuses them, so a load that meters the module can skip this walk.
   */
  scanCode: boolean;
}

/** Throws UnsupportedWasmError, ResourceLimitError or MalformedModuleError; see the file comment. */
export function checkCoreModule(bytes: Uint8Array, options: CheckOptions): void {
  try {
    checkSections(bytes, options);
  } catch (e) {
    // The meter's readers name no module: this says which.
    if (e instanceof PamwasmError && !e.message.startsWith(options.where)) e.message = `${options.where}: ${e.message}`;
    throw e;
  }
}

function checkSections(bytes: Uint8Array, options: CheckOptions): void {
  const caps = options.caps ?? CORE_CAPS;
  const { where } = options;
  const sections = readSections(bytes);
  const count = { tables: 0, memories: 0, globals: 0, elements: 0, importedFuncs: 0 };
  const limit = (what: string, n: number, cap: number, fix: string) => overCap(where, what, n, cap, fix);
  for (const s of sections) {
    const r = new Reader(bytes, s.start, s.end);
    switch (s.id) {
      case SECTION.type: {
        const scan = scanTypes(bytes, s);
        limit('types', scan.count, caps.types, 'use fewer function types');
        const gc = scan.firstAggregate;
        if (gc >= 0) {
          throw new UnsupportedWasmError(`${where} defines type ${gc} as a struct or array (GC): such objects live outside the module's memory limit, so session modules may not use them; build the module without wasm GC (linear memory only).`);
        }
        continue;
      }
      case SECTION.import:
        count.importedFuncs = checkImports(r, where, count, caps);
        break;
      case SECTION.function:
        limit('functions', count.importedFuncs + r.u32(), caps.functions, 'split it, or link less code into it');
        continue;
      case SECTION.export:
        limit('exports', r.u32(), caps.exports, 'export fewer names');
        continue;
      case SECTION.table:
        for (let i = r.u32(); i > 0; i--) {
          const init = bytes[r.pos] === 0x40; // 0x40 0x00 tabletype expr (function-references)
          if (init) r.skip(2);
          skipValType(r);
          const { min } = tableLimits(r, count.tables);
          limit(`elements in table ${count.tables}`, min, caps.tableElements, 'shrink the table');
          count.elements += min;
          count.tables++;
          if (init) skipExpr(r);
        }
        break;
      case SECTION.memory:
        for (let i = r.u32(); i > 0; i--) {
          memoryLimits(r, count.memories);
          count.memories++;
        }
        break;
      case SECTION.global:
        for (let i = r.u32(); i > 0; i--) {
          skipValType(r);
          r.u8();
          skipExpr(r);
          count.globals++;
        }
        break;
      case SECTION.element:
        checkElements(r, caps, where);
        break;
      case SECTION.data: {
        let total = 0;
        for (let i = r.u32(); i > 0; i--) {
          const flags = r.u32();
          if (flags > 2) throw new MalformedModuleError(`${where} has a data segment with unknown flags ${flags}.`);
          if (flags === 2) r.u32();
          if (flags !== 1) skipExpr(r);
          total += r.bytes().length;
        }
        limit('bytes of data segments', total, caps.dataBytes, 'make the module\'s initial data smaller');
        break;
      }
      case SECTION.code:
        if (options.scanCode) scanCode(r, where, count.importedFuncs);
        continue;
      default:
        continue;
    }
    if (r.pos !== s.end) throw new MalformedModuleError(`${where}: section ${s.id} has trailing bytes at offset ${r.pos}.`);
  }
  limit('tables', count.tables, caps.tables, 'use fewer tables');
  limit('table elements in all', count.elements, caps.tableElementsTotal, 'shrink its tables');
  limit('memories', count.memories, caps.memories, 'use one memory');
  limit('globals', count.globals, caps.globals, 'use fewer globals');
}

/** The imports: counts tables, memories and globals into `count`, refuses duplicates and shared memories; returns the imported functions. */
function checkImports(r: Reader, where: string, count: { tables: number; memories: number; globals: number }, caps: Readonly<CoreCaps>): number {
  const seen = new Set<string>();
  let funcs = 0;
  const n = r.u32();
  overCap(where, 'imports', n, caps.imports, 'import fewer names');
  for (let i = n; i > 0; i--) {
    const module = r.name();
    const name = r.name();
    const key = `${module}\0${name}`;
    if (seen.has(key)) {
      throw new MalformedModuleError(`${where} imports "${module}" "${name}" twice, which a component cannot wire; import each name once.`);
    }
    seen.add(key);
    const kind = r.u8();
    switch (kind) {
      case 0x00: r.u32(); funcs++; break;
      case 0x01: skipValType(r); tableLimits(r, count.tables); count.tables++; break;
      case 0x02: memoryLimits(r, count.memories); count.memories++; break;
      case 0x03: skipValType(r); r.u8(); count.globals++; break;
      case 0x04: r.u8(); r.u32(); break;
      default: throw new MalformedModuleError(`${where} has an import of unknown kind ${hex(kind)} at offset ${r.pos - 1}.`);
    }
  }
  return funcs;
}

/** Element segments: their count, the entries of each and of all of them, against `caps`. */
function checkElements(r: Reader, caps: Readonly<CoreCaps>, where: string): void {
  const over = (what: string, n: number, cap: number, fix: string) => overCap(where, what, n, cap, fix);
  const n = r.u32();
  over('element segments', n, caps.elementSegments, 'initialize its tables with fewer segments');
  let total = 0;
  for (let i = 0; i < n; i++) {
    const flags = r.u32();
    if (flags > 7) throw new MalformedModuleError(`unknown element segment flags ${flags} at offset ${r.pos - 1}`);
    if ((flags & 0x01) === 0) {
      if (flags & 0x02) r.u32();
      skipExpr(r);
    }
    if (flags & 0x03) {
      if (flags & 0x04) skipValType(r);
      else r.u8();
    }
    const entries = r.u32();
    over(`entries in element segment ${i}`, entries, caps.elementSegment, 'split the table\'s initialization');
    total += entries;
    over('element segment entries in all', total, caps.elementEntries, 'initialize its tables with fewer entries');
    for (let j = 0; j < entries; j++) {
      if (flags & 0x04) skipExpr(r);
      else r.u32();
    }
  }
}

/** Throws ResourceLimitError when `n` of `what` is over `cap`, saying how to `fix` it. */
function overCap(where: string, what: string, n: number, cap: number, fix: string): void {
  if (n > cap) throw new ResourceLimitError(`${where} has ${n} ${what}, over the sandbox's cap of ${cap}; ${fix}.`);
}

/** A walk that copies nothing and inserts nothing: the walker only decodes. */
const NO_REWRITE: Rewrite = { out: NO_OUT, shiftFrom: Infinity };

function skipExpr(r: Reader): void {
  skipConstExpr(r, NO_REWRITE);
}

/** Walks every function body; the walker refuses atomic wait/notify, named here with the function index. */
function scanCode(r: Reader, where: string, importedFuncs: number): void {
  const { buf } = r;
  const n = r.u32();
  for (let i = 0; i < n; i++) {
    const size = r.u32();
    const end = r.pos + size;
    if (end > r.end) throw new MalformedModuleError(`${where}: function body ${i} runs past the code section.`);
    const body = new Reader(buf, r.pos, end);
    for (let groups = body.u32(); groups > 0; groups--) {
      body.u32();
      skipValType(body);
    }
    try {
      walkInstructions(walkFrom(body), NO_REWRITE, false);
    } catch (e) {
      if (e instanceof UnsupportedWasmError || e instanceof MalformedModuleError) e.message = `${where} function ${importedFuncs + i}: ${e.message}`;
      throw e;
    }
    r.pos = end;
  }
}
