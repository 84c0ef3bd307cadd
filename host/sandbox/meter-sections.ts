/**
 * Section-level decoding for the metering rewriter: the section list, and the
 * rewrite of each section that holds a function index or a memory limit.
 * Encodings follow core/binary/modules.rst and types.rst (Wasm 3.0).
 */
import { MemoryLimitError, PamwasmError, ResourceLimitError } from '../errors/index.js';
import { hex, malformed, Reader, unsupported, Writer } from './meter-binary.js';
import { flushWalk, skipValType, walkInstructions, type IndexSpaces, type Rewrite, type Walk } from './meter-instructions.js';

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
  /** Imported tables. */
  tables: number;
  /** Whether any import already names the sandbox's own module. */
  fromSandbox: boolean;
  bodyStart: number;
}

/** The imports, counted by kind; with `types`, a function import's type index past it is refused. */
export function scanImports(bytes: Uint8Array, s: Section, sandboxModule: string, types = Infinity): ImportScan {
  const r = new Reader(bytes, s.start, s.end);
  const count = r.u32();
  const bodyStart = r.pos;
  let funcs = 0;
  let globals = 0;
  let memories = 0;
  let mutableGlobals = 0;
  let tables = 0;
  let fromSandbox = false;
  for (let i = 0; i < count; i++) {
    if (r.name() === sandboxModule) fromSandbox = true;
    r.bytes(); // name
    const kind = r.u8();
    switch (kind) {
      case 0x00: checkIndex('type', r.u32(), types, r.pos); funcs++; break; // func: type index
      case 0x01: r.pos = skipValType(bytes, r.pos, r.end); tableLimits(r, tables); tables++; break; // table
      case 0x02: memoryLimits(r, memories); memories++; break; // memory
      case 0x03: r.pos = skipValType(bytes, r.pos, r.end); if (r.u8() & 0x01) mutableGlobals++; globals++; break; // global
      case 0x04: tagType(r, types); break; // tag: attribute, type index
      default: throw unsupported(`unknown import kind ${hex(kind)} at offset ${r.pos - 1}`);
    }
  }
  noTrailing(r, 'import');
  return { count, funcs, globals, memories, mutableGlobals, tables, fromSandbox, bodyStart };
}

/** Refuses an index at or past the end of its space: the rewrite must never give it a meaning. */
export function checkIndex(what: string, idx: number, size: number, at: number): void {
  if (idx >= size) throw malformed(`${what} index ${idx} near offset ${at} is past the end of its space (${size}).`);
}

/** Refuses bytes left in a section after its last entry (they are never cut off). */
function noTrailing(r: Reader, section: string): void {
  if (r.pos !== r.end) throw malformed(`${section} section has trailing bytes at offset ${r.pos}`);
}

/** A tag type: attribute 0 (exception), then a function type index. */
function tagType(r: Reader, types: number): void {
  const attribute = r.u8();
  if (attribute !== 0) throw malformed(`tag attribute ${hex(attribute)} at offset ${r.pos - 1}`);
  checkIndex('type', r.u32(), types, r.pos);
}

/** A module's index spaces, counted once before the rewrite (imports and definitions). */
export interface ModuleSpaces extends IndexSpaces {
  imports?: ImportScan;
}

/**
 * Counts every index space and checks the sections that the rewrite copies
 * as they are (function, tag, data count, data): each index in range, no
 * trailing bytes, the function and code sections of the same length.
 */
export function moduleSpaces(bytes: Uint8Array, sections: Section[], sandboxModule: string): ModuleSpaces {
  const by = new Map(sections.filter((s) => s.id !== SECTION.custom).map((s) => [s.id, s]));
  const head = (id: number) => {
    const s = by.get(id);
    return s ? new Reader(bytes, s.start, s.end) : undefined;
  };
  const typeSection = by.get(SECTION.type);
  const types = typeSection ? scanTypes(bytes, typeSection).count : 0;
  const importSection = by.get(SECTION.import);
  const imports = importSection ? scanImports(bytes, importSection, sandboxModule, types) : undefined;
  const sp = {
    types,
    funcs: imports?.funcs ?? 0,
    globals: (imports?.globals ?? 0) + (head(SECTION.global)?.u32() ?? 0),
    tables: (imports?.tables ?? 0) + (head(SECTION.table)?.u32() ?? 0),
    memories: (imports?.memories ?? 0) + (head(SECTION.memory)?.u32() ?? 0),
    elements: head(SECTION.element)?.u32() ?? 0,
    data: head(SECTION.data)?.u32() ?? 0,
    imports,
  };
  const fn = head(SECTION.function);
  let defined = 0;
  if (fn) {
    defined = fn.u32();
    for (let i = 0; i < defined; i++) checkIndex('type', fn.u32(), types, fn.pos);
    noTrailing(fn, 'function');
  }
  sp.funcs += defined;
  const code = head(SECTION.code);
  const bodies = code?.u32() ?? 0;
  if (bodies !== defined) throw malformed(`the function section declares ${defined} functions but the code section has ${bodies} bodies`);
  const tags = head(SECTION.tag);
  if (tags) {
    for (let n = tags.u32(); n > 0; n--) tagType(tags, types);
    noTrailing(tags, 'tag');
  }
  const dataCount = head(SECTION.dataCount);
  if (dataCount) {
    const n = dataCount.u32();
    noTrailing(dataCount, 'data count');
    if (n !== sp.data) throw malformed(`the data count section says ${n} segments, the data section has ${sp.data}`);
  }
  const data = head(SECTION.data);
  if (data) checkData(data, sp);
  return sp;
}

/** Data segments: flags 0 (active, memory 0), 1 (passive), 2 (active, memory index); offset expression; bytes. */
function checkData(r: Reader, spaces: ModuleSpaces): void {
  const rw: Rewrite = { out: NO_OUT, shiftFrom: Infinity, check: null, spaces };
  for (let n = r.u32(); n > 0; n--) {
    const flags = r.u32();
    if (flags > 2) throw malformed(`unknown data segment flags ${flags} at offset ${r.pos - 1}`);
    if (flags !== 1) {
      checkIndex('memory', flags === 2 ? r.u32() : 0, spaces.memories, r.pos);
      skipConstExpr(r, rw);
    }
    r.bytes();
  }
  noTrailing(r, 'data');
}

/**
 * Skips a constant expression, checking it as the walker does; the usual
 * `i32.const n end` without a walk (a JS guest has 10,000 data segments).
 */
export function skipConstExpr(r: Reader, rw: Rewrite): void {
  const { buf } = r;
  if (buf[r.pos] === 0x41) {
    const at = r.pos;
    r.pos++;
    r.skipLeb();
    if (r.pos < r.end && buf[r.pos] === 0x0b) {
      r.pos++;
      return;
    }
    r.pos = at;
  }
  const w: Walk = { buf, pos: r.pos, end: r.end, copied: r.pos };
  walkInstructions(w, rw, true);
  r.pos = w.pos;
}

/**
 * The writer of walks that only decode (shiftFrom Infinity, no check): they
 * never write. A real Writer, so the walker sees one shape of writer.
 */
export const NO_OUT = new Writer(16);

/** Caps on a module's own tables, in elements: each one's, and all of them together. */
export interface TableCaps { perTable: number; total: number }

/**
 * Tables: `tabletype`, or `0x40 0x00 tabletype expr` with an initializer
 * (function-references). With `caps`, each table's maximum is lowered so
 * that no table grows past `perTable` and all of them together not past
 * `total` (the room above the initial sizes goes to the tables in order),
 * and `table.grow` returns -1 beyond it, as a memory's maximum does.
 */
export function rewriteTables(bytes: Uint8Array, s: Section, rw: Rewrite, caps?: TableCaps): void {
  const r = new Reader(bytes, s.start, s.end);
  const { out } = rw;
  const count = r.u32();
  out.u32(count);
  const entries: { entry: number; init: boolean; type: [number, number]; min: number; max: number; limitsEnd: number }[] = [];
  for (let i = 0; i < count; i++) {
    const entry = r.pos;
    const init = bytes[r.pos] === 0x40;
    if (init) {
      r.skip(1);
      if (r.u8() !== 0x00) throw malformed(`table ${i} has an initializer marker not followed by 0x00 at offset ${r.pos - 1}`);
    }
    const typeStart = r.pos;
    r.pos = skipValType(bytes, r.pos, r.end);
    const type: [number, number] = [typeStart, r.pos];
    const { min, max } = tableLimits(r, i);
    entries.push({ entry, init, type, min, max, limitsEnd: r.pos });
    if (init) {
      const w: Walk = { buf: bytes, pos: r.pos, end: r.end, copied: r.pos };
      walkInstructions(w, { ...rw, out: NO_OUT }, true); // decoded now, rewritten below
      r.pos = w.pos;
    }
  }
  noTrailing(r, 'table');
  let room = Infinity;
  if (caps) {
    const initial = entries.reduce((n, t) => n + t.min, 0);
    entries.forEach((t, i) => {
      if (t.min > caps.perTable) throw new ResourceLimitError(`table ${i} starts with ${t.min} elements, over the sandbox's cap of ${caps.perTable} a table; shrink the table.`);
    });
    if (initial > caps.total) throw new ResourceLimitError(`the module's tables start with ${initial} elements, over the sandbox's cap of ${caps.total} in all; shrink them.`);
    room = caps.total - initial;
  }
  for (const t of entries) {
    if (caps === undefined) {
      out.copy(bytes, t.entry, t.limitsEnd);
    } else {
      const max = Math.min(t.max, caps.perTable, t.min + room);
      room -= max - t.min;
      out.copy(bytes, t.entry, t.type[1]);
      out.u8(0x01);
      out.u32(t.min);
      out.u32(max);
    }
    if (t.init) {
      const sub = new Reader(bytes, t.limitsEnd, s.end);
      rewriteExpr(bytes, sub, rw);
    }
  }
}

/**
 * Memory limits (types.rst "Limits"): flags bit 0 = has max, bit 1 = shared,
 * bit 2 = 64-bit indices, bit 3 = custom page size. The cap is in 64 KiB
 * pages of a 32-bit memory, so the last two are refused rather than guessed.
 */
export function rewriteMemories(bytes: Uint8Array, s: Section, out: Writer, cap: number | undefined): void {
  const r = new Reader(bytes, s.start, s.end);
  const count = r.u32();
  out.u32(count);
  for (let i = 0; i < count; i++) {
    const { flags, min, max } = memoryLimits(r, i);
    if (cap !== undefined) checkCap(i, min, cap);
    out.u8(cap === undefined ? flags : flags | 0x01);
    out.u32(min);
    if (cap !== undefined || flags & 0x01) out.u32(Math.min(max, cap ?? max));
  }
  noTrailing(r, 'memory');
}

/** One table's limits: a 32-bit table (flags 0x00, or 0x01 with a maximum not below the minimum). */
function tableLimits(r: Reader, i: number): { min: number; max: number } {
  const flags = r.u8();
  if (flags & 0x04) throw unsupported(`table ${i} is a 64-bit table; pamwasm can only cap 32-bit tables.`);
  if (flags > 0x01) throw malformed(`table ${i} has limits flags ${hex(flags)} at offset ${r.pos - 1}`);
  const min = r.u32();
  const max = flags & 0x01 ? r.u32() : Infinity;
  if (max < min) throw malformed(`table ${i} has a maximum ${max} below its minimum ${min}`);
  return { min, max };
}

/** One memory's limits, refused unless they are those of a valid unshared 32-bit memory of 64 KiB pages. */
function memoryLimits(r: Reader, i: number): { flags: number; min: number; max: number } {
  const flags = r.u8();
  if (flags & 0x04) throw unsupported(`memory ${i} is a memory64; pamwasm can only cap 32-bit memories.`);
  if (flags & 0x08) throw unsupported(`memory ${i} has limits flags ${hex(flags)} (custom page size); pamwasm can only cap 64 KiB pages.`);
  if (flags & 0x02) {
    throw unsupported(`memory ${i} is a shared memory (limits flags ${hex(flags)}): session modules run without threads.`);
  }
  if (flags > 0x01) throw malformed(`memory ${i} has limits flags ${hex(flags)}`);
  const min = r.u32();
  const max = flags & 0x01 ? r.u32() : Infinity;
  if (min > 65536 || (max !== Infinity && max > 65536)) throw malformed(`memory ${i} has limits ${min}..${max} pages, past the 65536 pages (4 GiB) a 32-bit memory can have`);
  if (max < min) throw malformed(`memory ${i} has a maximum ${max} below its minimum ${min}`);
  return { flags, min, max };
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
  const { min, max } = memoryLimits(r, 0);
  noTrailing(r, 'memory');
  checkCap(0, min, cap);
  return { min, max: Math.min(max, cap) };
}

/** Refuses memory `i` when it starts above the cap. */
function checkCap(i: number, min: number, cap: number): void {
  if (min > cap) {
    throw new MemoryLimitError(`memory ${i} starts at ${min} pages (${min * 64} KiB), over the cap of ${cap} pages; raise the memory limit or shrink the module's initial memory.`);
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

/** Globals: type then initializer (which may hold `ref.func`); the fuel global is appended by `append`. */
export function rewriteGlobals(bytes: Uint8Array, s: Section, rw: Rewrite, append?: (out: Writer) => void): GlobalScan {
  const r = new Reader(bytes, s.start, s.end);
  const { out } = rw;
  const count = r.u32();
  out.u32(count + (append ? 1 : 0));
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
  noTrailing(r, 'global');
  append?.(out);
  return { count, mutable, numeric };
}

/** The exports, renumbered, with `appended` more entries that `append` writes. */
export function rewriteExports(bytes: Uint8Array, s: Section, out: Writer, importedFuncs: number, reserved: string, appended: number, append: () => void, spaces: ModuleSpaces): void {
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
    const space = [spaces.funcs, spaces.tables, spaces.memories, spaces.globals][kind];
    if (space === undefined) throw malformed(`export "${name}" has unknown kind ${hex(kind)}`);
    checkIndex(['function', 'table', 'memory', 'global'][kind], idx, space, idxAt);
    out.copy(bytes, entry, idxAt);
    out.u32(kind === 0x00 && idx >= importedFuncs ? idx + 1 : idx);
  }
  noTrailing(r, 'export');
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
      const table = flags & 0x02 ? r.u32() : 0;
      checkIndex('table', table, rw.spaces?.tables ?? Infinity, r.pos);
      if (flags & 0x02) out.u32(table);
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
      const funcs = rw.spaces?.funcs ?? Infinity;
      for (let j = 0; j < n; j++) {
        const idx = r.u32();
        checkIndex('function', idx, funcs, r.pos);
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
