/**
 * Reading a core module before it is rewritten: its section list, its types
 * and imports, and every index space it declares, each section the rewrite
 * copies as it is checked on the way (indices in range, limits valid, no
 * trailing bytes). What is read here is never repaired: anything the spec
 * would refuse is refused. Encodings follow core/binary/modules.rst and
 * types.rst (Wasm 3.0).
 */
import { hex, malformed, PREAMBLE_SIZE, Reader, sectionHeaders, unsupported, Writer } from '../../wasm/index.js';
import { skipValType, walkFrom, walkInstructions, type IndexSpaces, type Rewrite } from './instructions.js';

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

/** The sections after the preamble (not checked here), each known one at most once and in order. */
export function readSections(bytes: Uint8Array): Section[] {
  const sections: Section[] = [];
  let last = 0;
  for (const h of sectionHeaders(new Reader(bytes, PREAMBLE_SIZE))) {
    const { id, headerStart, start, end } = h;
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
      sections.push(h);
    }
  }
  return sections;
}

export interface TypeScan {
  /** Entries in the section's vector (a rec group is one entry). */
  entries: number;
  /** Types defined: the next type index. */
  count: number;
  /** Index of a plain `(func)` type to reuse for the import, or -1. */
  emptyFunc: number;
  bodyStart: number;
  /** Parameter count of each type index (0 for struct and array types). */
  params: number[];
  /** Result count of each type index (0 for struct and array types). */
  results: number[];
  /** Struct and array types (GC): the first one's index, or -1. */
  firstAggregate: number;
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
  const params: number[] = [];
  const results: number[] = [];
  for (let i = 0; i < entries; i++) {
    if (bytes[r.pos] === 0x4e) {
      r.pos++;
      const n = r.u32();
      for (let j = 0; j < n; j++) params.push(skipSubType(r, results));
      count += n;
    } else {
      // A final func type alone in its rec group, written in the short form,
      // is the canonical [] -> [] that the import can use.
      if (emptyFunc < 0 && bytes[r.pos] === 0x60 && bytes[r.pos + 1] === 0 && bytes[r.pos + 2] === 0) emptyFunc = count;
      params.push(skipSubType(r, results));
      count += 1;
    }
  }
  if (r.pos !== s.end) throw malformed(`type section has trailing bytes at offset ${r.pos}`);
  return { entries, count, emptyFunc, bodyStart, params: params.map((p) => Math.max(p, 0)), results, firstAggregate: params.indexOf(AGGREGATE) };
}

/** What skipSubType returns for a struct or array type. */
const AGGREGATE = -1;

/** Skips one subtype, pushing its result count to `results`; returns its parameter count when it is a function type, else AGGREGATE. */
function skipSubType(r: Reader, results: number[]): number {
  const b = r.buf[r.pos];
  if (b === 0x50 || b === 0x4f) { // sub / sub final: supertypes, then the composite type
    r.pos++;
    for (let n = r.u32(); n > 0; n--) r.u32();
  }
  const kind = r.u8();
  switch (kind) {
    case 0x60: { // func: params, results
      const params = r.u32();
      for (let n = params; n > 0; n--) skipValType(r);
      const count = r.u32();
      for (let n = count; n > 0; n--) skipValType(r);
      results.push(count);
      return params;
    }
    case 0x5f: // struct: fields
      for (let n = r.u32(); n > 0; n--) skipField(r);
      break;
    case 0x5e: // array: one field
      skipField(r);
      break;
    default:
      throw unsupported(`unknown type form ${hex(kind)} at offset ${r.pos - 1}`);
  }
  results.push(0);
  return AGGREGATE;
}

/** A field: storage type (a value type, or packed i8 0x78 / i16 0x77, both one byte) and mutability. */
function skipField(r: Reader): void {
  skipValType(r);
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
  /** The type index of each imported function, in order. */
  funcTypes: number[];
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
  const funcTypes: number[] = [];
  for (let i = 0; i < count; i++) {
    if (r.name() === sandboxModule) fromSandbox = true;
    r.skipBytes(); // name
    const kind = r.u8();
    switch (kind) {
      case 0x00: { // func: type index
        const t = r.u32();
        checkIndex('type', t, types, r.pos);
        funcTypes.push(t);
        funcs++;
        break;
      }
      case 0x01: skipValType(r); tableLimits(r, tables); tables++; break; // table
      case 0x02: memoryLimits(r, memories); memories++; break; // memory
      case 0x03: skipValType(r); if (r.u8() & 0x01) mutableGlobals++; globals++; break; // global
      case 0x04: tagType(r, types); break; // tag: attribute, type index
      default: throw unsupported(`unknown import kind ${hex(kind)} at offset ${r.pos - 1}`);
    }
  }
  noTrailing(r, 'import');
  return { count, funcs, globals, memories, mutableGlobals, tables, fromSandbox, funcTypes, bodyStart };
}

/** Refuses an index at or past the end of its space: the rewrite must never give it a meaning. */
export function checkIndex(what: string, idx: number, size: number, at: number): void {
  if (idx >= size) throw malformed(`${what} index ${idx} near offset ${at} is past the end of its space (${size}).`);
}

/** Refuses bytes left in a section after its last entry (they are never cut off). */
export function noTrailing(r: Reader, section: string): void {
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
  /** The type section as scanned, if the module has one. */
  typeScan?: TypeScan;
  /** The type index of each function, imported ones first. */
  funcTypes: number[];
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
  const typeScan = typeSection ? scanTypes(bytes, typeSection) : undefined;
  const types = typeScan?.count ?? 0;
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
    typeScan,
    funcTypes: [...(imports?.funcTypes ?? [])],
  };
  const fn = head(SECTION.function);
  let defined = 0;
  if (fn) {
    defined = fn.u32();
    for (let i = 0; i < defined; i++) {
      const t = fn.u32();
      checkIndex('type', t, types, fn.pos);
      sp.funcTypes.push(t);
    }
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
  const rw: Rewrite = { out: NO_OUT, shiftFrom: Infinity, spaces };
  for (let n = r.u32(); n > 0; n--) {
    const flags = r.u32();
    if (flags > 2) throw malformed(`unknown data segment flags ${flags} at offset ${r.pos - 1}`);
    if (flags !== 1) {
      checkIndex('memory', flags === 2 ? r.u32() : 0, spaces.memories, r.pos);
      skipConstExpr(r, rw);
    }
    r.skipBytes();
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
  walkInstructions(walkFrom(r), rw, true);
}

/**
 * The writer of walks that only decode (shiftFrom Infinity, no check): they
 * never write. A real Writer, so the walker sees one shape of writer.
 */
export const NO_OUT = new Writer(16);

/** One table's limits: a 32-bit table (flags 0x00, or 0x01 with a maximum not below the minimum). */
export function tableLimits(r: Reader, i: number): { min: number; max: number } {
  const flags = r.u8();
  if (flags & 0x04) throw unsupported(`table ${i} is a 64-bit table; pamwasm can only cap 32-bit tables.`);
  if (flags > 0x01) throw malformed(`table ${i} has limits flags ${hex(flags)} at offset ${r.pos - 1}`);
  const min = r.u32();
  const max = flags & 0x01 ? r.u32() : Infinity;
  if (max < min) throw malformed(`table ${i} has a maximum ${max} below its minimum ${min}`);
  return { min, max };
}

/** One memory's limits, refused unless they are those of a valid unshared 32-bit memory of 64 KiB pages. */
export function memoryLimits(r: Reader, i: number): { flags: number; min: number; max: number } {
  const flags = r.u8();
  if (flags & 0x04) throw unsupported(`memory ${i} is a memory64; pamwasm can only cap 32-bit memories.`);
  if (flags & 0x08) throw unsupported(`memory ${i} has limits flags ${hex(flags)} (custom page size); pamwasm can only cap 64 KiB pages.`);
  if (flags & 0x02) {
    throw unsupported(`memory ${i} is a shared memory (limits flags ${hex(flags)}): session modules run without threads; build the module without shared memory (no -pthread, no atomics).`);
  }
  if (flags > 0x01) throw malformed(`memory ${i} has limits flags ${hex(flags)}`);
  const min = r.u32();
  const max = flags & 0x01 ? r.u32() : Infinity;
  if (min > 65536 || (max !== Infinity && max > 65536)) throw malformed(`memory ${i} has limits ${min}..${max} pages, past the 65536 pages (4 GiB) a 32-bit memory can have`);
  if (max < min) throw malformed(`memory ${i} has a maximum ${max} below its minimum ${min}`);
  return { flags, min, max };
}
