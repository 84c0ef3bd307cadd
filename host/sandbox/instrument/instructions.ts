/**
 * The instruction walker of the metering rewriter. It decodes every
 * instruction of a function body (or constant expression) just far enough to
 * know where the next one starts, copies the bytes through, and changes only:
 *  - function indices (`call`, `return_call`, `ref.func`), shifted by one
 *    because the out-of-fuel import is inserted before the defined functions;
 *  - in function bodies, the fuel code of meter-fuel.ts: a charge at each loop
 *    header (with blocks around the loop, and branch labels that leave it
 *    renumbered), a charge before each bulk memory or table instruction
 *    (memory.fill and memory.copy replaced by a chunked loop), and the
 *    counter's stores and loads around calls, returns and throws.
 *
 * Every immediate must be skipped exactly as the spec encodes it
 * (core/binary/instructions.rst, Wasm 3.0): one byte misread and the rest of
 * the body is decoded out of phase. So an opcode this walker does not know is
 * an error naming the opcode and offset, never a guess.
 */
import { hex, malformed, unsupported, type Writer } from './meter-binary.js';
import { BULK_WEIGHT, Length, WEIGHT, WRAP_LABELS, type Chunked, type FuelPlan } from './meter-fuel.js';

// Immediate shapes of the one-byte opcodes.
const NONE = 0;
const LEB = 1; // one LEB128 of any width: an index, i32/i64.const, a heap type
const LEB2 = 2; // two LEB128s: call_indirect's type and table, ...
const MEMARG = 3;
const BYTES4 = 4; // f32.const
const BYTES8 = 5; // f64.const
const BLOCK = 6; // block, if, try: a block type
const LOOP = 7;
const FUNC = 8; // call, return_call, ref.func: a function index to shift
const BR_TABLE = 9;
const SELECT_T = 10;
const TRY_TABLE = 11;
const PREFIX_FB = 12;
const PREFIX_FC = 13;
const PREFIX_FD = 14;
const PREFIX_FE = 15;
const END = 16;
const INDEX = 17; // one index into a space the rewrite adds to or that must be in range: global, table, memory
const INVALID = 255;

const SHAPE = new Uint8Array(256).fill(INVALID);
const set = (shape: number, ...ops: number[]) => { for (const op of ops) SHAPE[op] = shape; };
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

// Control (instructions.rst "Control Instructions"); 0x06-0x09, 0x18, 0x19 are
// the legacy exception-handling opcodes (document/legacy/exceptions/binary.rst),
// 0x08 throw and 0x0A throw_ref the Wasm 3.0 ones.
set(NONE, 0x00, 0x01, 0x05, 0x0a, 0x0f, 0x19);
set(BLOCK, 0x02, 0x04, 0x06);
set(LOOP, 0x03);
set(LEB, 0x07, 0x08, 0x09, 0x0c, 0x0d, 0x18, 0x14, 0x15); // catch/throw tag, rethrow/br/br_if/delegate label, call_ref/return_call_ref type
set(END, 0x0b);
set(BR_TABLE, 0x0e);
set(FUNC, 0x10, 0x12, 0xd2);
set(LEB2, 0x11, 0x13); // (return_)call_indirect: type index, table index
set(TRY_TABLE, 0x1f);
// Parametric, variable, table access.
set(NONE, 0x1a, 0x1b);
set(SELECT_T, 0x1c);
set(LEB, 0x20, 0x21, 0x22); // local.get/set/tee
set(INDEX, 0x23, 0x24, 0x25, 0x26); // global.get/set, table.get/set
// Memory: loads and stores carry a memarg; memory.size/grow a memory index.
set(MEMARG, ...range(0x28, 0x3e));
set(INDEX, 0x3f, 0x40); // memory.size/grow
// Numeric: constants, then plain opcodes up to the sign-extension ops 0xC0-0xC4.
set(LEB, 0x41, 0x42);
set(BYTES4, 0x43);
set(BYTES8, 0x44);
set(NONE, ...range(0x45, 0xc4));
// References: ref.null heaptype, ref.is_null, ref.eq, ref.as_non_null, br_on_(non_)null label.
set(LEB, 0xd0, 0xd5, 0xd6);
set(NONE, 0xd1, 0xd3, 0xd4);
set(PREFIX_FB, 0xfb);
set(PREFIX_FC, 0xfc);
set(PREFIX_FD, 0xfd);
set(PREFIX_FE, 0xfe);

/*
 * 0xFD vector opcodes (u32 after the prefix). Immediates: memarg for loads and
 * stores (0-11, 92, 93), 16 bytes for v128.const (12) and i8x16.shuffle (13),
 * a lane byte for extract/replace_lane (21-34), memarg + lane byte for
 * load/store_lane (84-91). Everything else is plain, but the numbering has
 * holes (opcodes retired during the SIMD proposal) which must stay errors;
 * 256-275 are relaxed SIMD, all plain.
 */
const SIMD_HOLES = new Set([154, 162, 165, 166, 175, 176, 178, 179, 180, 187, 194, 197, 198, 207, 208, 210, 211, 212, 226, 238]);

/** The state of one walk: where it reads and where its unflushed span starts. */
export interface Walk {
  readonly buf: Uint8Array;
  pos: number;
  readonly end: number;
  /** Start of input not yet copied to the writer. */
  copied: number;
}

export interface Rewrite {
  readonly out: Writer;
  /** Function indices at or above this move up by one. */
  readonly shiftFrom: number;
  /**
   * For a function body: its fuel plan (meter-fuel.ts). The body is walked
   * twice: once counting (`code` null, nothing inserted), then emitting the
   * charges the count found. Absent for constant expressions: they cannot loop.
   */
  readonly fuel?: FuelPlan;
  /**
   * Set when an instruction changes instance state outside memory and
   * globals: table.set, table.grow, table.fill, table.copy, table.init,
   * data.drop, elem.drop.
   */
  readonly state?: { beyondMemory: boolean };
  /**
   * The module's own index spaces: a function, global or type index at or
   * past the end of its space is refused, never renumbered into one the
   * rewrite added (the fuel global, the out-of-fuel import).
   */
  readonly spaces?: IndexSpaces;
}

export interface IndexSpaces {
  readonly funcs: number; readonly globals: number; readonly types: number; readonly tables: number;
  readonly memories: number; readonly data: number; readonly elements: number;
}

function pastEnd(what: string, idx: number, size: number, at: number) {
  return malformed(`${what} index ${idx} at offset ${at} is past the end of its space (${size}).`);
}

let lebValue = 0; // second result of readU32, kept out of an allocated tuple

function readU32(buf: Uint8Array, pos: number, end: number): number {
  let result = 0;
  let shift = 0;
  for (;;) {
    if (pos >= end) throw truncated(pos);
    const b = buf[pos++];
    if (shift === 28) {
      if (b > 0x0f) throw malformed(`integer too large at offset ${pos - 1}`);
      result += b * 2 ** 28;
      break;
    }
    result |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) break;
    shift += 7;
  }
  lebValue = result;
  return pos;
}

function skipLeb(buf: Uint8Array, pos: number, end: number): number {
  const limit = pos + 10; // a 64-bit LEB128 takes at most ceil(64/7) bytes
  for (;;) {
    if (pos >= end) throw truncated(pos);
    if (pos >= limit) throw malformed(`integer too long at offset ${pos}`);
    if ((buf[pos++] & 0x80) === 0) return pos;
  }
}

/**
 * A memarg: alignment flags, a memory index when bit 6 is set (multi-memory,
 * instructions.rst "Memory Instructions"), then the offset (u64 under memory64).
 */
function skipMemarg(buf: Uint8Array, pos: number, end: number): number {
  pos = readU32(buf, pos, end);
  if (lebValue & 0x40) pos = skipLeb(buf, pos, end);
  return skipLeb(buf, pos, end);
}

/**
 * A value type: one byte, except `ref null ht` (0x63) and `ref ht` (0x64)
 * which carry a heap type (s33: an abstract type byte or a type index).
 */
export function skipValType(buf: Uint8Array, pos: number, end: number): number {
  if (pos >= end) throw truncated(pos);
  const b = buf[pos++];
  if (b === 0x63 || b === 0x64) return skipLeb(buf, pos, end);
  return pos;
}

/** A block type: 0x40, a value type, or a type index as s33 (one LEB either way but for 0x63/0x64). */
function skipBlockType(buf: Uint8Array, pos: number, end: number): number {
  if (pos >= end) throw truncated(pos);
  const b = buf[pos];
  if (b === 0x63 || b === 0x64) return skipLeb(buf, pos + 1, end);
  return skipLeb(buf, pos, end);
}

function truncated(pos: number) {
  return malformed(`unexpected end of a function body or expression at offset ${pos}`);
}

function unknown(op: string, at: number) {
  return unsupported(`unknown or unsupported opcode ${op} at offset ${at}: the module cannot be metered safely.`);
}

/** Copies the input from the walk's copy point up to `to`, and moves the copy point there. */
export function flushWalk(w: Walk, out: Writer, to: number): void {
  out.copy(w.buf, w.copied, to);
  w.copied = to;
}

const BLOCK_KIND = 0;
const LOOP_KIND = 1;
/** A loop wrapped so that its out-of-fuel path sits outside it (see `FuelCode.wrapStart`). */
const WRAPPED_KIND = 2;

/** Where a body walk is: its open blocks, and the region each open loop interrupted. */
class Nesting {
  private readonly kinds: number[] = [];
  /** Wrapped loops among kinds[0..i]. */
  private readonly wrapped: number[] = [];
  readonly regions: number[] = [];
  region = 0;
  loops = 0;

  get depth(): number {
    return this.kinds.length;
  }

  push(kind: number): void {
    const below = this.wrapped.length ? this.wrapped[this.wrapped.length - 1] : 0;
    this.kinds.push(kind);
    this.wrapped.push(below + (kind === WRAPPED_KIND ? 1 : 0));
  }

  pop(): number {
    this.wrapped.pop();
    return this.kinds.pop() ?? BLOCK_KIND;
  }

  /** How much a branch's label grows: it leaves the wrapping blocks of every wrapped loop it leaves. */
  crossed(label: number): number {
    const n = this.kinds.length;
    if (n === 0) return 0;
    const target = n - 1 - label;
    return (this.wrapped[n - 1] - (target >= 0 ? this.wrapped[target] : 0)) * WRAP_LABELS;
  }
}

/** Re-encodes the label at [from, to) as `label + extra`. */
function relabel(w: Walk, out: Writer, from: number, to: number, label: number, extra: number): void {
  if (extra === 0) return;
  flushWalk(w, out, from);
  out.u32(label + extra);
  w.copied = to;
}

/**
 * Walks instructions from `w.pos`. With `stopAtEnd` (a constant expression,
 * which has no nested blocks) it stops after the first `end`; otherwise it runs
 * to `w.end` (a function body, whose length is given by its size field).
 * Rewritten bytes go to `rw.out`; the caller copies the tail with `flushWalk`.
 */
export function walkInstructions(w: Walk, rw: Rewrite, stopAtEnd: boolean): void {
  const { buf, end } = w;
  const { out, shiftFrom, fuel, spaces } = rw;
  const code = fuel?.code ?? null;
  const costs = code ? undefined : fuel?.costs; // tallied while counting only
  const nest = new Nesting();
  // The function's own label is as deep as the blocks open: a branch to it returns.
  // Loops are wrapped only in a function without handlers: no catch, delegate
  // or rethrow label then needs renumbering.
  const wraps = code !== null && !fuel!.handlers;
  let pos = w.pos;
  while (pos < end) {
    const at = pos;
    const op = buf[pos++];
    if (costs !== undefined) costs[nest.region] += WEIGHT[op];
    switch (SHAPE[op]) {
      case NONE:
        if (code && (op === 0x0f || op === 0x0a)) { flushWalk(w, out, at); code.flush(out); } // return, throw_ref
        break;
      case END:
        if (stopAtEnd) {
          w.pos = pos;
          return;
        }
        if (fuel) {
          if (nest.depth === 0) {
            if (code) { flushWalk(w, out, at); code.flush(out); } // the function's end
          } else {
            const kind = nest.pop();
            if (kind !== BLOCK_KIND) nest.region = nest.regions.pop()!;
            if (kind === WRAPPED_KIND) { flushWalk(w, out, pos); code!.wrapEnd(out); }
          }
        }
        break;
      case LEB: {
        const next = skipLeb(buf, pos, end);
        if (fuel) {
          if (op >= 0x20 && op <= 0x22) { // local.get, local.set, local.tee: the commonest, checked while counting
            // The meter appends its own locals: an index past the function's
            // would name one of them, and must stay an error, never a valid access.
            if (code === null) {
              readU32(buf, pos, end);
              if (lebValue >= fuel.locals) throw malformed(`local index ${lebValue} at offset ${at} is past the function's ${fuel.locals} locals`);
            }
          } else if (op === 0x0c || op === 0x0d || op === 0xd5 || op === 0xd6) { // br, br_if, br_on_null, br_on_non_null
            readU32(buf, pos, end);
            const label = lebValue;
            if (code && label === nest.depth) { flushWalk(w, out, at); code.flush(out); }
            if (wraps) relabel(w, out, pos, next, label, nest.crossed(label));
          } else if (op === 0x08 || op === 0x09 || op === 0x15) { // throw, rethrow, return_call_ref
            if (code) { flushWalk(w, out, at); code.flush(out); }
          } else if (op === 0x14) { // call_ref
            if (code) {
              flushWalk(w, out, at); code.flush(out);
              flushWalk(w, out, next); code.reload(out);
            }
          } else if (op === 0x18) { // delegate ends its try block
            nest.pop();
          }
        }
        pos = next;
        break;
      }
      case INDEX:
        if (op === 0x26 && rw.state) rw.state.beyondMemory = true; // table.set
        if (op === 0x40 && code) { flushWalk(w, out, at); code.length(out, Length.Grow); } // memory.grow
        pos = spaces ? checkedIndex(buf, pos, end, op, at, spaces) : skipLeb(buf, pos, end);
        break;
      case LEB2: // (return_)call_indirect
        if (code) { flushWalk(w, out, at); code.flush(out); }
        pos = spaces ? checkedCallIndirect(buf, pos, end, at, spaces) : skipLeb(buf, skipLeb(buf, pos, end), end);
        if (code && op === 0x11) { flushWalk(w, out, pos); code.reload(out); }
        break;
      case MEMARG:
        pos = skipMemarg(buf, pos, end);
        break;
      case BYTES4:
        pos += 4;
        break;
      case BYTES8:
        pos += 8;
        break;
      case BLOCK: // block, if, try
        pos = skipBlockType(buf, pos, end);
        if (fuel) {
          nest.push(BLOCK_KIND);
          if (op === 0x06) fuel.handlers = true;
        }
        break;
      case LOOP: {
        const typeAt = pos;
        pos = skipBlockType(buf, pos, end);
        if (fuel) {
          // A loop whose block type takes no parameters (empty or one value
          // type: not a type index) is wrapped, see FuelCode.wrapStart.
          const wrap = wraps && (buf[typeAt] & 0xc0) === 0x40; // one byte, negative as s33: 0x40 or a value type
          nest.push(wrap ? WRAPPED_KIND : LOOP_KIND);
          nest.regions.push(nest.region);
          nest.region = ++nest.loops;
          if (costs) costs.push(WEIGHT[op]);
          // Right after `loop bt`: the loop's label targets its start, so every
          // backward branch runs the charge.
          if (code) {
            const cost = fuel.costs[nest.region];
            if (wrap) {
              flushWalk(w, out, at); code.wrapStart(out, buf, typeAt, pos);
              flushWalk(w, out, pos); code.fastCharge(out, cost);
            } else {
              flushWalk(w, out, pos); code.charge(out, cost);
            }
          }
        }
        break;
      }
      case FUNC: {
        pos = readU32(buf, pos, end);
        const idx = lebValue;
        if (spaces && idx >= spaces.funcs) throw pastEnd('function', idx, spaces.funcs, at);
        const call = op !== 0xd2; // call, return_call; not ref.func
        if (code && call) { flushWalk(w, out, at); code.flush(out); }
        if (idx >= shiftFrom && (code !== null || fuel === undefined)) { // nothing is written while counting
          // Re-encoded rather than patched in place: idx + 1 may need one more byte.
          flushWalk(w, out, at + 1);
          out.u32(idx + 1);
          w.copied = pos;
        }
        if (code && op === 0x10) { flushWalk(w, out, pos); code.reload(out); }
        break;
      }
      case BR_TABLE: {
        pos = readU32(buf, pos, end);
        const targetsAt = pos;
        let exits = false;
        let crossed = false;
        for (let n = lebValue + 1; n > 0; n--) { // targets + default
          if (fuel) {
            pos = readU32(buf, pos, end);
            if (lebValue === nest.depth) exits = true;
            if (wraps && nest.crossed(lebValue) > 0) crossed = true;
          } else {
            pos = skipLeb(buf, pos, end);
          }
        }
        if (code && exits) { flushWalk(w, out, at); code.flush(out); }
        if (crossed) {
          flushWalk(w, out, targetsAt);
          for (let p = targetsAt; p < pos;) {
            p = readU32(buf, p, end);
            out.u32(lebValue + nest.crossed(lebValue));
          }
          w.copied = pos;
        }
        break;
      }
      case SELECT_T: {
        pos = readU32(buf, pos, end);
        for (let n = lebValue; n > 0; n--) pos = skipValType(buf, pos, end);
        break;
      }
      case TRY_TABLE: {
        pos = skipBlockType(buf, pos, end);
        pos = readU32(buf, pos, end);
        for (let n = lebValue; n > 0; n--) {
          if (pos >= end) throw truncated(pos);
          const kind = buf[pos++];
          // catch / catch_ref: tag and label; catch_all / catch_all_ref: label.
          if (kind === 0x00 || kind === 0x01) pos = skipLeb(buf, skipLeb(buf, pos, end), end);
          else if (kind === 0x02 || kind === 0x03) pos = skipLeb(buf, pos, end);
          else throw unsupported(`unknown try_table catch kind ${hex(kind)} at offset ${pos - 1}.`);
        }
        if (fuel) {
          nest.push(BLOCK_KIND);
          fuel.handlers = true;
        }
        break;
      }
      case PREFIX_FC: {
        if (spaces) checkFC(buf, at + 1, end, spaces);
        pos = skipFC(buf, pos, end, at);
        if (rw.state && STATE_FC.has(fcSub)) rw.state.beyondMemory = true;
        const length = BULK_LENGTH[fcSub];
        if (fuel && length !== undefined) {
          if (costs) costs[nest.region] += BULK_WEIGHT;
          const chunked = code ? chunkable(buf, at, pos) : undefined;
          if (chunked) {
            flushWalk(w, out, at);
            code!.bulk(out, chunked, buf, at, pos);
            w.copied = pos;
          } else if (code) {
            flushWalk(w, out, at); code.length(out, length);
          }
        }
        break;
      }
      case PREFIX_FD:
        pos = skipFD(buf, pos, end, at);
        break;
      case PREFIX_FB: {
        const subAt = pos;
        pos = skipFB(buf, pos, end, at);
        if (code && (fbSub === 24 || fbSub === 25)) { // br_on_cast(_fail): flags, label, two heap types
          const labelAt = readU32(buf, subAt, end) + 1;
          const labelEnd = readU32(buf, labelAt, end);
          if (lebValue === nest.depth) { flushWalk(w, out, at); code.flush(out); }
          if (wraps) relabel(w, out, labelAt, labelEnd, lebValue, nest.crossed(lebValue));
        }
        break;
      }
      case PREFIX_FE:
        pos = skipFE(buf, pos, end, at);
        break;
      default:
        throw unknown(hex(op), at);
    }
  }
  if (pos > end) throw truncated(end);
  if (stopAtEnd) throw malformed(`a constant expression has no end at offset ${end}`);
  w.pos = pos;
}

/** memory.fill or memory.copy on memory 0, in their shortest encoding (the bytes at [at, end)): run in chunks. */
function chunkable(buf: Uint8Array, at: number, end: number): Chunked | undefined {
  if (end - at === 3 && buf[at + 1] === 11 && buf[at + 2] === 0) return 'fill';
  if (end - at === 4 && buf[at + 1] === 10 && buf[at + 2] === 0 && buf[at + 3] === 0) return 'copy';
  return undefined;
}

/** 0xFC sub-opcodes whose top operand is a length to charge: memory.init/copy/fill, table.init/copy/grow/fill. */
const BULK_LENGTH: (Length | undefined)[] = [];
for (const sub of [8, 10, 11]) BULK_LENGTH[sub] = Length.Memory;
for (const sub of [12, 14, 15, 17]) BULK_LENGTH[sub] = Length.Table;

/** 0xFC sub-opcodes that change state beyond memory and globals: data.drop, table.init, elem.drop, table.copy, table.grow, table.fill. */
const STATE_FC = new Set([9, 12, 13, 14, 15, 17]);
let fcSub = 0; // the last 0xFC sub-opcode skipped

/** 0xFC: saturating truncation (0-7), bulk memory (8-11), table ops (12-17). */
function skipFC(buf: Uint8Array, pos: number, end: number, at: number): number {
  pos = readU32(buf, pos, end);
  const sub = lebValue;
  fcSub = sub;
  if (sub <= 7) return pos;
  switch (sub) {
    case 8: // memory.init data mem
    case 10: // memory.copy mem mem
    case 12: // table.init elem table
    case 14: // table.copy table table
      return skipLeb(buf, skipLeb(buf, pos, end), end);
    case 9: // data.drop
    case 11: // memory.fill
    case 13: // elem.drop
    case 15: // table.grow
    case 16: // table.size
    case 17: // table.fill
      return skipLeb(buf, pos, end);
    default:
      throw unknown(`0xfc ${sub}`, at);
  }
}

/** The index of global.get/set, table.get/set or memory.size/grow (`op`), checked against its space. */
function checkedIndex(buf: Uint8Array, pos: number, end: number, op: number, at: number, spaces: IndexSpaces): number {
  pos = readU32(buf, pos, end);
  const size = op <= 0x24 ? spaces.globals : op <= 0x26 ? spaces.tables : spaces.memories;
  if (lebValue >= size) throw pastEnd(op <= 0x24 ? 'global' : op <= 0x26 ? 'table' : 'memory', lebValue, size, at);
  return pos;
}

/** (return_)call_indirect's type and table indices, checked. */
function checkedCallIndirect(buf: Uint8Array, pos: number, end: number, at: number, spaces: IndexSpaces): number {
  pos = readU32(buf, pos, end);
  if (lebValue >= spaces.types) throw pastEnd('type', lebValue, spaces.types, at);
  pos = readU32(buf, pos, end);
  if (lebValue >= spaces.tables) throw pastEnd('table', lebValue, spaces.tables, at);
  return pos;
}

/**
 * The indices of a 0xFC instruction whose immediates start at `pos`, each
 * against its space: data segments, element segments, tables, memories.
 */
function checkFC(buf: Uint8Array, pos: number, end: number, spaces: IndexSpaces): void {
  pos = readU32(buf, pos, end);
  const sub = lebValue;
  const kinds: (keyof IndexSpaces)[] | undefined = FC_INDICES[sub];
  if (!kinds) return;
  for (const kind of kinds) {
    const at = pos;
    pos = readU32(buf, pos, end);
    if (lebValue >= spaces[kind]) throw pastEnd(SPACE_NAMES[kind], lebValue, spaces[kind], at);
  }
}

const SPACE_NAMES: Record<keyof IndexSpaces, string> = {
  funcs: 'function', globals: 'global', types: 'type', tables: 'table', memories: 'memory', data: 'data segment', elements: 'element segment',
};

/** The index spaces of each 0xFC instruction's immediates, in order. */
const FC_INDICES: Record<number, (keyof IndexSpaces)[]> = {
  8: ['data', 'memories'], 9: ['data'], 10: ['memories', 'memories'], 11: ['memories'],
  12: ['elements', 'tables'], 13: ['elements'], 14: ['tables', 'tables'], 15: ['tables'], 16: ['tables'], 17: ['tables'],
};

function skipFD(buf: Uint8Array, pos: number, end: number, at: number): number {
  pos = readU32(buf, pos, end);
  const sub = lebValue;
  if (sub <= 11 || sub === 92 || sub === 93) return skipMemarg(buf, pos, end);
  if (sub === 12 || sub === 13) return pos + 16;
  if (sub >= 21 && sub <= 34) return pos + 1;
  if (sub >= 84 && sub <= 91) return skipMemarg(buf, pos, end) + 1;
  if ((sub <= 255 && !SIMD_HOLES.has(sub)) || (sub >= 256 && sub <= 275)) return pos;
  throw unknown(`0xfd ${sub}`, at);
}

/** 0xFB: GC aggregate and cast instructions (instructions.rst "Aggregate" and "Reference"). */
let fbSub = 0; // the last 0xFB sub-opcode skipped

function skipFB(buf: Uint8Array, pos: number, end: number, at: number): number {
  pos = readU32(buf, pos, end);
  const sub = lebValue;
  fbSub = sub;
  switch (sub) {
    case 0: case 1: case 6: case 7: case 11: case 12: case 13: case 14: case 16: // one type index
    case 20: case 21: case 22: case 23: // ref.test / ref.cast heap type
      return skipLeb(buf, pos, end);
    case 2: case 3: case 4: case 5: case 8: case 9: case 10: case 17: case 18: case 19: // two indices
      return skipLeb(buf, skipLeb(buf, pos, end), end);
    case 15: case 26: case 27: case 28: case 29: case 30:
      return pos;
    case 24: case 25: // br_on_cast(_fail): cast flags byte, label, two heap types
      return skipLeb(buf, skipLeb(buf, skipLeb(buf, pos + 1, end), end), end);
    default:
      throw unknown(`0xfb ${sub}`, at);
  }
}

const ATOMIC_WAIT_NOTIFY = ['memory.atomic.notify', 'memory.atomic.wait32', 'memory.atomic.wait64'];

/** 0xFE: threads. notify/wait and every load, store and rmw (0x10-0x4E) take a memarg; fence a zero byte. */
function skipFE(buf: Uint8Array, pos: number, end: number, at: number): number {
  pos = readU32(buf, pos, end);
  const sub = lebValue;
  // Wait can block the thread beyond any fuel check or timer (on a shared
  // memory, with an infinite timeout); session modules run without threads.
  if (sub <= 2) throw unsupported(`${ATOMIC_WAIT_NOTIFY[sub]} at offset ${at}: session modules run without threads; build the module without atomics.`);
  if (sub >= 0x10 && sub <= 0x4e) return skipMemarg(buf, pos, end);
  if (sub === 3) return pos + 1;
  throw unknown(`0xfe ${sub}`, at);
}
