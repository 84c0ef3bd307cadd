/**
 * Section-level decoding for the metering rewriter: the section list, and the
 * rewrite of each section that holds a function index or a memory limit.
 * Encodings follow core/binary/modules.rst and types.rst (Wasm 3.0).
 */
import { MemoryLimitError, PamwasmError } from '../errors/index.js';
import { hex, malformed, Reader, unsupported, type Writer } from './meter-binary.js';
import { flushWalk, skipValType, walkInstructions, type Rewrite, type Walk } from './meter-instructions.js';

export const SECTION = {
  custom: 0, type: 1, import: 2, function: 3, table: 4, memory: 5, global: 6,
  export: 7, start: 8, element: 9, code: 10, data: 11, dataCount: 12, tag: 13,
} as const;

/** Position of each known section id in the required order (the tag section sits between memory and global, data count before code). */
const ORDER = [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 12, 13, 11, 6];

export function sectionOrder(id: number): number {
  return ORDER[id];
}

export interface Section {
  id: number;
  /** Offset of the id byte. */
  headerStart: number;
  /** Contents, after the size field (for a custom section, after its name). */
  start: number;
  end: number;
  name?: string;
}

export function readSections(bytes: Uint8Array): Section[] {
  const r = new Reader(bytes, 8);
  const sections: Section[] = [];
  let last = 0;
  while (r.pos < bytes.length) {
    const headerStart = r.pos;
    const id = r.u8();
    const size = r.u32();
    const start = r.pos;
    if (size > bytes.length - start) throw malformed(`section ${id} at offset ${headerStart} runs past the end of the module`);
    const end = start + size;
    if (id > 13) throw malformed(`unknown section id ${id} at offset ${headerStart}`);
    if (id === SECTION.custom) {
      const inner = new Reader(bytes, start, end);
      const name = inner.name();
      sections.push({ id, headerStart, start: inner.pos, end, name });
    } else {
      // Known sections appear at most once, in order; the rewrite relies on it
      // (imports are counted before the sections that use the counts).
      if (sectionOrder(id) <= last) throw malformed(`section ${id} at offset ${headerStart} is out of order or repeated`);
      last = sectionOrder(id);
      sections.push({ id, headerStart, start, end });
    }
    r.pos = end;
  }
  return sections;
}

/**
 * Custom sections that describe code offsets or function indices the rewrite
 * changes and that cannot be fixed cheaply: DWARF and source maps (byte
 * offsets into the code section), branch hints and other code metadata, and
 * object-file linking data. Stale, they would only mislead a debugger.
 */
export function droppedCustom(name: string): boolean {
  return name.startsWith('.debug_') || name.startsWith('metadata.code.') || name.startsWith('reloc.')
    || name === 'sourceMappingURL' || name === 'external_debug_info' || name === 'linking';
}

/** Rewrites one constant expression at `r.pos` through to its `end`. */
function rewriteExpr(bytes: Uint8Array, r: Reader, rw: Rewrite): void {
  const w: Walk = { buf: bytes, pos: r.pos, end: r.end, copied: r.pos };
  walkInstructions(w, rw, true);
  flushWalk(w, rw.out, w.pos);
  r.pos = w.pos;
}

/** Skips limits (types.rst): flags, min, max if bit 0; a page size exponent if bit 3 (custom-page-sizes). */
function skipLimits(r: Reader): number {
  const flags = r.u8();
  if (flags > 0x0f) throw unsupported(`unknown limits flags ${hex(flags)} at offset ${r.pos - 1}`);
  r.skipLeb();
  if (flags & 0x01) r.skipLeb();
  if (flags & 0x08) r.u32();
  return flags;
}

export interface TypeScan {
  /** Entries in the section's vector (a rec group is one entry). */
  entries: number;
  /** Types defined: the next type index. */
  count: number;
  /** Index of a plain `(func)` type to reuse for the import, or -1. */
  emptyFunc: number;
  bodyStart: number;
}

/**
 * Counts the types: with GC a rec group (0x4E) is one entry holding several
 * types, so the new type's index is not simply the entry count.
 */
export function scanTypes(bytes: Uint8Array, s: Section): TypeScan {
  const r = new Reader(bytes, s.start, s.end);
  const entries = r.u32();
  const bodyStart = r.pos;
  let count = 0;
  let emptyFunc = -1;
  for (let i = 0; i < entries; i++) {
    if (bytes[r.pos] === 0x4e) {
      r.pos++;
      const n = r.u32();
      for (let j = 0; j < n; j++) skipSubType(r);
      count += n;
    } else {
      // A final func type alone in its rec group, written in the short form,
      // is the canonical [] -> [] that the import can use.
      if (emptyFunc < 0 && bytes[r.pos] === 0x60 && bytes[r.pos + 1] === 0 && bytes[r.pos + 2] === 0) emptyFunc = count;
      skipSubType(r);
      count += 1;
    }
  }
  if (r.pos !== s.end) throw malformed(`type section has trailing bytes at offset ${r.pos}`);
  return { entries, count, emptyFunc, bodyStart };
}

function skipSubType(r: Reader): void {
  const b = r.buf[r.pos];
  if (b === 0x50 || b === 0x4f) { // sub / sub final: supertypes, then the composite type
    r.pos++;
    for (let n = r.u32(); n > 0; n--) r.u32();
  }
  const kind = r.u8();
  switch (kind) {
    case 0x60: // func: params, results
      for (let k = 0; k < 2; k++) for (let n = r.u32(); n > 0; n--) r.pos = skipValType(r.buf, r.pos, r.end);
      break;
    case 0x5f: // struct: fields
      for (let n = r.u32(); n > 0; n--) skipField(r);
      break;
    case 0x5e: // array: one field
      skipField(r);
      break;
    default:
      throw unsupported(`unknown type form ${hex(kind)} at offset ${r.pos - 1}`);
  }
}

/** A field: storage type (a value type, or packed i8 0x78 / i16 0x77, both one byte) and mutability. */
function skipField(r: Reader): void {
  r.pos = skipValType(r.buf, r.pos, r.end);
  r.u8();
}

export interface ImportScan {
  count: number;
  funcs: number;
  globals: number;
  /** Imported memories. */
  memories: number;
  /** Imported globals that are mutable. */
  mutableGlobals: number;
  /** Whether any import already names the sandbox's own module. */
  fromSandbox: boolean;
  bodyStart: number;
}

export function scanImports(bytes: Uint8Array, s: Section, sandboxModule: string): ImportScan {
  const r = new Reader(bytes, s.start, s.end);
  const count = r.u32();
  const bodyStart = r.pos;
  let funcs = 0;
  let globals = 0;
  let memories = 0;
  let mutableGlobals = 0;
  let fromSandbox = false;
  for (let i = 0; i < count; i++) {
    if (r.name() === sandboxModule) fromSandbox = true;
    r.bytes(); // name
    const kind = r.u8();
    switch (kind) {
      case 0x00: r.u32(); funcs++; break; // func: type index
      case 0x01: r.pos = skipValType(bytes, r.pos, r.end); skipLimits(r); break; // table
      case 0x02: skipLimits(r); memories++; break; // memory
      case 0x03: r.pos = skipValType(bytes, r.pos, r.end); if (r.u8() & 0x01) mutableGlobals++; globals++; break; // global
      case 0x04: r.u8(); r.u32(); break; // tag: attribute, type index
      default: throw unsupported(`unknown import kind ${hex(kind)} at offset ${r.pos - 1}`);
    }
  }
  if (r.pos !== s.end) throw malformed(`import section has trailing bytes at offset ${r.pos}`);
  return { count, funcs, globals, memories, mutableGlobals, fromSandbox, bodyStart };
}

/** Tables: `tabletype`, or `0x40 0x00 tabletype expr` with an initializer (function-references). */
export function rewriteTables(bytes: Uint8Array, s: Section, rw: Rewrite): void {
  const r = new Reader(bytes, s.start, s.end);
  const { out } = rw;
  const count = r.u32();
  out.u32(count);
  for (let i = 0; i < count; i++) {
    const entry = r.pos;
    const init = bytes[r.pos] === 0x40;
    if (init) r.skip(2);
    r.pos = skipValType(bytes, r.pos, r.end);
    skipLimits(r);
    out.copy(bytes, entry, r.pos);
    if (init) rewriteExpr(bytes, r, rw);
  }
}

/**
 * Memory limits (types.rst "Limits"): flags bit 0 = has max, bit 1 = shared,
 * bit 2 = 64-bit indices, bit 3 = custom page size. The cap is in 64 KiB
 * pages of a 32-bit memory, so the last two are refused rather than guessed.
 */
export function rewriteMemories(bytes: Uint8Array, s: Section, out: Writer, cap: number): void {
  const r = new Reader(bytes, s.start, s.end);
  const count = r.u32();
  out.u32(count);
  for (let i = 0; i < count; i++) {
    const flags = r.u8();
    if (flags & 0x04) throw unsupported(`memory ${i} is a memory64; pamwasm can only cap 32-bit memories.`);
    if (flags & ~0x03) throw unsupported(`memory ${i} has limits flags ${hex(flags)} (custom page size?); pamwasm can only cap 64 KiB pages.`);
    const min = r.u32();
    const max = flags & 0x01 ? r.u32() : Infinity;
    checkCap(i, min, cap);
    out.u8(flags | 0x01);
    out.u32(min);
    out.u32(Math.min(max, cap));
  }
}

/**
 * The limits of a memory section's only memory, capped at `cap` pages, when
 * it is one the host can supply as an import: exactly one memory, 32-bit, not
 * shared, 64 KiB pages. Undefined otherwise (the section is then kept, and
 * capped by rewriteMemories).
 */
export function singleMemory(bytes: Uint8Array, s: Section, cap: number): { min: number; max: number } | undefined {
  const r = new Reader(bytes, s.start, s.end);
  if (r.u32() !== 1) return undefined;
  const flags = r.u8();
  if (flags & ~0x01) return undefined;
  const min = r.u32();
  const max = flags & 0x01 ? r.u32() : Infinity;
  if (r.pos !== s.end) return undefined;
  checkCap(0, min, cap);
  return { min, max: Math.min(max, cap) };
}

/** Refuses memory `i` when it starts above the cap. */
function checkCap(i: number, min: number, cap: number): void {
  if (min > cap) {
    // Said in KiB, as a stack line's memory= is written: pages and memory
    // indexes are WebAssembly's words, not the reader's.
    const which = i === 0 ? 'the module\'s memory' : `the module's memory number ${i + 1}`;
    throw new MemoryLimitError(`${which} starts at ${min * 64} KiB, over the memory limit of ${cap * 64} KiB; raise memory= on its stack line or shrink the module's initial memory.`);
  }
}

/** Value types JS can read and write through an exported global. */
const NUMERIC = new Set([0x7f, 0x7e, 0x7d, 0x7c]); // i32 i64 f32 f64

export interface GlobalScan {
  /** Defined globals before the appended fuel global. */
  count: number;
  /** Defined indices (within the section) of the mutable globals. */
  mutable: number[];
  /** Whether every mutable one holds a number (not a vector or a reference). */
  numeric: boolean;
}

/** Globals: type then initializer (which may hold `ref.func`); the fuel global is appended. */
export function rewriteGlobals(bytes: Uint8Array, s: Section, rw: Rewrite, append: (out: Writer) => void): GlobalScan {
  const r = new Reader(bytes, s.start, s.end);
  const { out } = rw;
  const count = r.u32();
  out.u32(count + 1);
  const mutable: number[] = [];
  let numeric = true;
  for (let i = 0; i < count; i++) {
    const entry = r.pos;
    const type = bytes[r.pos];
    r.pos = skipValType(bytes, r.pos, r.end);
    if (r.u8() & 0x01) {
      mutable.push(i);
      if (!NUMERIC.has(type)) numeric = false;
    }
    out.copy(bytes, entry, r.pos);
    rewriteExpr(bytes, r, rw);
  }
  append(out);
  return { count, mutable, numeric };
}

/** The exports, renumbered, with `appended` more entries that `append` writes. */
export function rewriteExports(bytes: Uint8Array, s: Section, out: Writer, importedFuncs: number, reserved: string, appended: number, append: () => void): void {
  const r = new Reader(bytes, s.start, s.end);
  const count = r.u32();
  out.u32(count + appended);
  for (let i = 0; i < count; i++) {
    const entry = r.pos;
    const name = r.name();
    if (name === reserved) throw unsupported(`the module already exports "${reserved}": it was metered before, or it is trying to pass for metered.`);
    const kind = r.u8();
    const idxAt = r.pos;
    const idx = r.u32();
    out.copy(bytes, entry, idxAt);
    out.u32(kind === 0x00 && idx >= importedFuncs ? idx + 1 : idx);
  }
  append();
}

/**
 * Element segments (modules.rst "Element Section"): the 3-bit flags say
 * passive/declarative (bit 0), explicit table index or declarative (bit 1),
 * and expressions instead of function indices (bit 2).
 */
export function rewriteElements(bytes: Uint8Array, s: Section, rw: Rewrite): void {
  const r = new Reader(bytes, s.start, s.end);
  const { out, shiftFrom } = rw;
  const count = r.u32();
  out.u32(count);
  for (let i = 0; i < count; i++) {
    const flags = r.u32();
    if (flags > 7) throw unsupported(`unknown element segment flags ${flags} at offset ${r.pos - 1}`);
    out.u32(flags);
    if ((flags & 0x01) === 0) { // active: [table index] offset
      if (flags & 0x02) out.u32(r.u32());
      rewriteExpr(bytes, r, rw);
    }
    if (flags & 0x03) { // an element kind byte (0x00 = funcref) or, with expressions, a reference type
      const at = r.pos;
      if (flags & 0x04) r.pos = skipValType(bytes, r.pos, r.end);
      else r.u8();
      out.copy(bytes, at, r.pos);
    }
    const n = r.u32();
    out.u32(n);
    if (flags & 0x04) {
      for (let j = 0; j < n; j++) rewriteExpr(bytes, r, rw);
    } else {
      for (let j = 0; j < n; j++) {
        const idx = r.u32();
        out.u32(idx >= shiftFrom ? idx + 1 : idx);
      }
    }
  }
  if (r.pos !== s.end) throw malformed(`element section has trailing bytes at offset ${r.pos}`);
}

/**
 * The name section (appendix/custom.rst): subsection 1 maps function indices
 * to names and 2 maps them to local names, so both are renumbered. Label
 * names (3, extended-name-section) are dropped: the inserted `if` blocks shift
 * every label index after them. Other subsections name types, tables,
 * memories, globals, elements, data and tags, which keep their indices.
 */
export function rewriteNames(bytes: Uint8Array, s: Section, out: Writer, importedFuncs: number): void {
  const r = new Reader(bytes, s.start, s.end);
  const shift = (idx: number) => (idx >= importedFuncs ? idx + 1 : idx);
  while (r.pos < s.end) {
    const head = r.pos;
    const id = r.u8();
    const size = r.u32();
    const end = r.pos + size;
    if (end > s.end) throw malformed('name subsection runs past its section');
    if (id === 1 || id === 2) {
      out.u8(id);
      const start = out.pos;
      const sub = new Reader(bytes, r.pos, end);
      const n = sub.u32();
      out.u32(n);
      for (let i = 0; i < n; i++) {
        out.u32(shift(sub.u32()));
        const from = sub.pos;
        if (id === 1) {
          sub.bytes();
        } else {
          for (let k = sub.u32(); k > 0; k--) { sub.u32(); sub.bytes(); }
        }
        out.copy(bytes, from, sub.pos);
      }
      if (sub.pos !== end) throw malformed('name subsection has trailing bytes');
      out.prefixSize(start);
    } else if (id !== 3) {
      out.copy(bytes, head, end);
    }
    r.pos = end;
  }
}
