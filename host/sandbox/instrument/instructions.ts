/**
 * The instruction walker of constant expressions, and of function bodies
 * that are only checked, not metered (core-check.ts). It decodes every
 * instruction just far enough to know where the next one starts, copies the
 * bytes through, and changes only function indices (`call`, `return_call`,
 * `ref.func`), shifted by one because the out-of-fuel import is inserted
 * before the defined functions. The counting walk of a metered body is
 * body-walk.ts: it decodes with the same table of immediates (`SHAPE`) and
 * the same readers of immediates (immediates.ts).
 *
 * Every immediate must be skipped exactly as the spec encodes it
 * (core/binary/instructions.rst, Wasm 3.0): one byte misread and the rest of
 * the body is decoded out of phase. So an opcode this walker does not know is
 * an error naming the opcode and offset, never a guess.
 */
import { hex, malformed, type Reader, unsupported, type Writer } from '../../wasm/index.js';
import {
  checkedCallIndirect, checkedIndex, pastEnd, skipBlockType, skipFB, skipFC, skipFD, skipFE, skipMemarg, skipValType, unknown,
  type IndexSpaces,
} from './immediates.js';

export { skipValType, type IndexSpaces } from './immediates.js';

/** Immediate shapes of the one-byte opcodes. */
export const enum Shape {
  NONE = 0,
  LEB = 1, // one LEB128 of any width: an index, i32/i64.const, a heap type
  LEB2 = 2, // two LEB128s: call_indirect's type and table, ...
  MEMARG = 3,
  BYTES4 = 4, // f32.const
  BYTES8 = 5, // f64.const
  BLOCK = 6, // block, if, try: a block type
  LOOP = 7,
  FUNC = 8, // call, return_call, ref.func: a function index to shift
  BR_TABLE = 9,
  SELECT_T = 10,
  TRY_TABLE = 11,
  PREFIX_FB = 12,
  PREFIX_FC = 13,
  PREFIX_FD = 14,
  PREFIX_FE = 15,
  END = 16,
  INDEX = 17, // one index into a space the rewrite adds to or that must be in range: global, table, memory
  INVALID = 255,
}

const SHAPE = new Uint8Array(256).fill(Shape.INVALID);
const set = (shape: Shape, ...ops: number[]) => { for (const op of ops) SHAPE[op] = shape; };
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

// Control (instructions.rst "Control Instructions"); 0x06-0x09, 0x18, 0x19 are
// the legacy exception-handling opcodes (document/legacy/exceptions/binary.rst),
// 0x08 throw and 0x0A throw_ref the Wasm 3.0 ones.
set(Shape.NONE, 0x00, 0x01, 0x05, 0x0a, 0x0f, 0x19);
set(Shape.BLOCK, 0x02, 0x04, 0x06);
set(Shape.LOOP, 0x03);
set(Shape.LEB, 0x07, 0x08, 0x09, 0x0c, 0x0d, 0x18, 0x14, 0x15); // catch/throw tag, rethrow/br/br_if/delegate label, call_ref/return_call_ref type
set(Shape.END, 0x0b);
set(Shape.BR_TABLE, 0x0e);
set(Shape.FUNC, 0x10, 0x12, 0xd2);
set(Shape.LEB2, 0x11, 0x13); // (return_)call_indirect: type index, table index
set(Shape.TRY_TABLE, 0x1f);
// Parametric, variable, table access.
set(Shape.NONE, 0x1a, 0x1b);
set(Shape.SELECT_T, 0x1c);
set(Shape.LEB, 0x20, 0x21, 0x22); // local.get/set/tee
set(Shape.INDEX, 0x23, 0x24, 0x25, 0x26); // global.get/set, table.get/set
// Memory: loads and stores carry a memarg; memory.size/grow a memory index.
set(Shape.MEMARG, ...range(0x28, 0x3e));
set(Shape.INDEX, 0x3f, 0x40); // memory.size/grow
// Numeric: constants, then plain opcodes up to the sign-extension ops 0xC0-0xC4.
set(Shape.LEB, 0x41, 0x42);
set(Shape.BYTES4, 0x43);
set(Shape.BYTES8, 0x44);
set(Shape.NONE, ...range(0x45, 0xc4));
// References: ref.null heaptype, ref.is_null, ref.eq, ref.as_non_null, br_on_(non_)null label.
set(Shape.LEB, 0xd0, 0xd5, 0xd6);
set(Shape.NONE, 0xd1, 0xd3, 0xd4);
set(Shape.PREFIX_FB, 0xfb);
set(Shape.PREFIX_FC, 0xfc);
set(Shape.PREFIX_FD, 0xfd);
set(Shape.PREFIX_FE, 0xfe);

/** The shape of one-byte opcode `op`'s immediates. */
export function instructionShape(op: number): Shape {
  return SHAPE[op];
}

/** The state of one walk: where it reads (`r.pos` to `r.end`) and where its unflushed span starts. */
export interface Walk {
  readonly r: Reader;
  /** Start of input not yet copied to the writer. */
  copied: number;
}

/** A walk from `r.pos`, nothing copied yet. */
export function walkFrom(r: Reader): Walk {
  return { r, copied: r.pos };
}

export interface Rewrite {
  readonly out: Writer;
  /** Function indices at or above this move up by one. */
  readonly shiftFrom: number;
  /**
   * The module's own index spaces: a function, global or type index at or
   * past the end of its space is refused, never renumbered into one the
   * rewrite added (the fuel global, the out-of-fuel import).
   */
  readonly spaces?: IndexSpaces;
}

/** Copies the input from the walk's copy point up to `to`, and moves the copy point there. */
export function flushWalk(w: Walk, out: Writer, to: number): void {
  out.copy(w.r.buf, w.copied, to);
  w.copied = to;
}

/**
 * Walks instructions from `w.pos`. With `stopAtEnd` (a constant expression,
 * which has no nested blocks) it stops after the first `end`; otherwise it runs
 * to `w.end` (a function body, whose length is given by its size field).
 * Rewritten bytes go to `rw.out`; the caller copies the tail with `flushWalk`.
 */
export function walkInstructions(w: Walk, rw: Rewrite, stopAtEnd: boolean): void {
  const { r } = w;
  const { buf, end } = r;
  const { out, shiftFrom, spaces } = rw;
  while (r.pos < end) {
    const at = r.pos;
    const op = buf[r.pos++];
    switch (SHAPE[op]) {
      case Shape.NONE:
        break;
      case Shape.END:
        if (stopAtEnd) return;
        break;
      case Shape.LEB:
        r.skipLeb();
        break;
      case Shape.INDEX:
        if (spaces) checkedIndex(r, op, at, spaces);
        else r.skipLeb();
        break;
      case Shape.LEB2: // (return_)call_indirect
        if (spaces) {
          checkedCallIndirect(r, at, spaces);
        } else {
          r.skipLeb();
          r.skipLeb();
        }
        break;
      case Shape.MEMARG:
        skipMemarg(r);
        break;
      case Shape.BYTES4:
        r.pos += 4;
        break;
      case Shape.BYTES8:
        r.pos += 8;
        break;
      case Shape.BLOCK: // block, if, try
      case Shape.LOOP:
        skipBlockType(r);
        break;
      case Shape.FUNC: {
        const idx = r.u32();
        if (spaces && idx >= spaces.funcs) throw pastEnd('function', idx, spaces.funcs, at);
        if (idx >= shiftFrom) {
          // Re-encoded rather than patched in place: idx + 1 may need one more byte.
          flushWalk(w, out, at + 1);
          out.u32(idx + 1);
          w.copied = r.pos;
        }
        break;
      }
      case Shape.BR_TABLE:
        for (let n = r.u32() + 1; n > 0; n--) r.skipLeb(); // targets + default
        break;
      case Shape.SELECT_T:
        for (let n = r.u32(); n > 0; n--) skipValType(r);
        break;
      case Shape.TRY_TABLE:
        skipTryTable(r);
        break;
      case Shape.PREFIX_FC:
        skipFC(r, at, spaces);
        break;
      case Shape.PREFIX_FD:
        skipFD(r, at);
        break;
      case Shape.PREFIX_FB: {
        const sub = r.u32();
        if (sub === 24 || sub === 25) { // br_on_cast(_fail): flags byte, label, two heap types
          r.skip(1);
          r.skipLeb();
          r.skipLeb();
          r.skipLeb();
        } else {
          skipFB(r, sub, at);
        }
        break;
      }
      case Shape.PREFIX_FE:
        skipFE(r, at);
        break;
      default:
        throw unknown(hex(op), at);
    }
  }
  if (r.pos > end) throw truncated(end);
  if (stopAtEnd) throw malformed(`a constant expression has no end at offset ${end}`);
}

export function truncated(end: number) {
  return malformed(`unexpected end of a function body or expression at offset ${end}`);
}

/** try_table's immediates after its opcode: a block type and its catch clauses. */
export function skipTryTable(r: Reader): void {
  skipBlockType(r);
  for (let n = r.u32(); n > 0; n--) {
    const kind = r.u8();
    // catch / catch_ref: tag and label; catch_all / catch_all_ref: label.
    if (kind === 0x00 || kind === 0x01) { r.skipLeb(); r.skipLeb(); }
    else if (kind === 0x02 || kind === 0x03) r.skipLeb();
    else throw unsupported(`unknown try_table catch kind ${hex(kind)} at offset ${r.pos - 1}.`);
  }
}
