/**
 * Section-level rewriting for the metering rewriter: each section that holds
 * a function index, a memory or a table limit. The module was read and its
 * index spaces checked first (spaces.ts). Encodings follow
 * core/binary/modules.rst and types.rst (Wasm 3.0).
 */
import { PamwasmError, ResourceLimitError } from '../../errors/index.js';
import { hex, malformed, Reader, unsupported, type Writer } from '../../wasm/index.js';
import { flushWalk, skipValType, walkFrom, walkInstructions, type Rewrite } from './instructions.js';
import { checkIndex, NO_OUT, noTrailing, tableLimits, type ModuleSpaces, type Section } from './spaces.js';

export {
  SECTION, sectionOrder, readSections, scanTypes, scanImports, moduleSpaces, checkIndex, skipConstExpr, NO_OUT,
  type Section, type TypeScan, type ImportScan, type ModuleSpaces,
} from './spaces.js';

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
  const w = walkFrom(r);
  walkInstructions(w, rw, true);
  flushWalk(w, rw.out, r.pos);
}

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
    skipValType(r);
    const type: [number, number] = [typeStart, r.pos];
    const { min, max } = tableLimits(r, i);
    entries.push({ entry, init, type, min, max, limitsEnd: r.pos });
    if (init) {
      walkInstructions(walkFrom(r), { ...rw, out: NO_OUT }, true); // decoded now, rewritten below
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
    skipValType(r);
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
      if (flags & 0x04) skipValType(r);
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
          sub.skipBytes();
        } else {
          for (let k = sub.u32(); k > 0; k--) { sub.u32(); sub.skipBytes(); }
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
