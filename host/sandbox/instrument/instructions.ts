/**
 * The instruction walker of the metering rewriter. It decodes every
 * instruction of a function body (or constant expression) just far enough to
 * know where the next one starts, copies the bytes through, and changes only:
 *  - function indices (`call`, `return_call`, `ref.func`), shifted by one
 *    because the out-of-fuel import is inserted before the defined functions;
 *  - in function bodies, the fuel code of fuel.ts: a charge at each loop
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
import { hex, malformed, Reader, unsupported, type Writer } from '../../wasm/index.js';
import { ResourceLimitError } from '../../errors/index.js';
import { BULK_WEIGHT, Length, MAX_NESTING, WEIGHT, WRAP_LABELS, type Chunked, type FuelPlan } from './fuel.js';
import {
  checkedCallIndirect, checkedIndex, pastEnd, skipBlockType, skipFB, skipFC, skipFD, skipFE, skipMemarg, skipValType, unknown,
  type IndexSpaces,
} from './immediates.js';
import type { Tape } from './replay.js';
import { prefixedNet } from './frame.js';

export { skipValType, type IndexSpaces } from './immediates.js';

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
   * For a function body: its fuel plan (fuel.ts). The walk counts costs and
   * records on `fuel.tape` where fuel code goes and which function indices
   * and labels change, writing nothing; replay.ts writes the body from it.
   * Absent for constant expressions: they cannot loop, and their function
   * indices are shifted as they are walked.
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

function truncated(pos: number) {
  return malformed(`unexpected end of a function body or expression at offset ${pos}`);
}

/** Copies the input from the walk's copy point up to `to`, and moves the copy point there. */
export function flushWalk(w: Walk, out: Writer, to: number): void {
  out.copy(w.r.buf, w.copied, to);
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
    if (this.kinds.length >= MAX_NESTING) {
      throw new ResourceLimitError(`its blocks are nested more than ${MAX_NESTING} deep, which would take too long to compile for a time limit to hold; nest them less`);
    }
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

/**
 * Walks instructions from `w.pos`. With `stopAtEnd` (a constant expression,
 * which has no nested blocks) it stops after the first `end`; otherwise it runs
 * to `w.end` (a function body, whose length is given by its size field).
 * Rewritten bytes go to `rw.out`; the caller copies the tail with `flushWalk`.
 */
export function walkInstructions(w: Walk, rw: Rewrite, stopAtEnd: boolean): void {
  const { r } = w;
  const { buf, end } = r;
  const { out, shiftFrom, fuel, spaces } = rw;
  const tape = fuel?.tape;
  const costs = fuel?.costs;
  const frame = fuel?.frame;
  const nest = new Nesting();
  // The current region's cost since it was last added to costs[nest.region]:
  // a local, not an array element, on the path every instruction takes.
  let cost = 0;
  // The function's own label is as deep as the blocks open: a branch to it returns.
  while (r.pos < end) {
    const at = r.pos;
    const op = buf[r.pos++];
    cost += WEIGHT[op];
    if (frame) frame.step(op);
    switch (SHAPE[op]) {
      case NONE:
        if (tape && (op === 0x0f || op === 0x0a)) tape.flush(at); // return, throw_ref
        if (frame) {
          if (op === 0x00 || op === 0x0a || op === 0x0f) frame.unreachable(); // unreachable, throw_ref, return
          else if (op === 0x05) frame.restart('params'); // else
          else if (op === 0x19) frame.restart('none'); // catch_all
        }
        break;
      case END:
        if (stopAtEnd) return;
        if (frame) frame.close();
        if (tape) {
          if (nest.depth === 0) {
            tape.flush(at); // the function's end
          } else {
            const kind = nest.pop();
            if (kind !== BLOCK_KIND) {
              costs![nest.region] += cost;
              cost = 0;
              nest.region = nest.regions.pop()!;
            }
            if (kind === WRAPPED_KIND) tape.wrapEnd(r.pos);
          }
        }
        break;
      case LEB: {
        if (!tape) {
          r.skipLeb();
          break;
        }
        if (op >= 0x20 && op <= 0x22) { // local.get, local.set, local.tee: the commonest
          // The meter appends its own locals: an index past the function's
          // would name one of them, and must stay an error, never a valid access.
          const idx = r.u32();
          if (idx >= fuel!.locals) throw malformed(`local index ${idx} at offset ${at} is past the function's ${fuel!.locals} locals`);
        } else if (op === 0x0c || op === 0x0d || op === 0xd5 || op === 0xd6) { // br, br_if, br_on_null, br_on_non_null
          branch(r, tape, nest, at);
          if (op === 0x0c) frame!.unreachable();
        } else {
          // call_ref's type, for the frame; any other immediate may be a 64-bit constant.
          const immediate = op === 0x14 ? r.u32() : (r.skipLeb(), 0);
          if (op === 0x08 || op === 0x09 || op === 0x15) { // throw, rethrow, return_call_ref
            tape.flush(at);
            frame!.unreachable();
          } else if (op === 0x14) { // call_ref
            tape.flush(at);
            tape.reload(r.pos);
            frame!.call(immediate, true);
          } else if (op === 0x18) { // delegate ends its try block
            nest.pop();
            frame!.close();
          } else if (op === 0x07) { // catch (legacy)
            frame!.restart('tag');
          }
        }
        break;
      }
      case INDEX:
        if (op === 0x26 && rw.state) rw.state.beyondMemory = true; // table.set
        if (op === 0x40 && tape) tape.length(at, Length.Grow); // memory.grow
        if (spaces) checkedIndex(r, op, at, spaces);
        else r.skipLeb();
        break;
      case LEB2: // (return_)call_indirect
        if (frame) {
          if (op === 0x11) frame.call(new Reader(buf, r.pos, end).u32(), true);
          else frame.unreachable();
        }
        if (tape) tape.flush(at);
        if (spaces) {
          checkedCallIndirect(r, at, spaces);
        } else {
          r.skipLeb();
          r.skipLeb();
        }
        if (tape && op === 0x11) tape.reload(r.pos);
        break;
      case MEMARG:
        skipMemarg(r);
        break;
      case BYTES4:
        r.pos += 4;
        break;
      case BYTES8:
        r.pos += 8;
        break;
      case BLOCK: // block, if, try
        if (frame) {
          if (op === 0x04) frame.move(-1); // if's condition
          frame.open(buf, r.pos);
        }
        skipBlockType(r);
        if (tape) {
          nest.push(BLOCK_KIND);
          if (op === 0x06) fuel!.handlers = true;
        }
        break;
      case LOOP: {
        const typeAt = r.pos;
        if (frame) frame.open(buf, typeAt);
        skipBlockType(r);
        if (tape) {
          // A loop whose block type takes no parameters (empty or one value
          // type: not a type index) is wrapped, see FuelCode.wrapStart, unless
          // the function holds a handler (known only at its end: see replay.ts).
          const wrappable = (buf[typeAt] & 0xc0) === 0x40; // one byte, negative as s33: 0x40 or a value type
          nest.push(wrappable ? WRAPPED_KIND : LOOP_KIND);
          costs![nest.region] += cost;
          cost = 0;
          nest.regions.push(nest.region);
          nest.region = ++nest.loops;
          costs!.push(WEIGHT[op]);
          // Right after `loop bt`: the loop's label targets its start, so every
          // backward branch runs the charge.
          tape.loop(at, typeAt, r.pos, nest.region, wrappable);
        }
        break;
      }
      case FUNC: {
        const idx = r.u32();
        if (spaces && idx >= spaces.funcs) throw pastEnd('function', idx, spaces.funcs, at);
        if (frame) {
          if (op === 0x10) frame.call(frame.types.funcTypes[idx] ?? 0, false);
          else if (op === 0x12) frame.unreachable();
        }
        if (tape) {
          if (op !== 0xd2) tape.flush(at); // call, return_call; not ref.func
          if (idx >= shiftFrom) tape.shift(at, r.pos, idx);
          if (op === 0x10) tape.reload(r.pos);
        } else if (idx >= shiftFrom) {
          // Re-encoded rather than patched in place: idx + 1 may need one more byte.
          flushWalk(w, out, at + 1);
          out.u32(idx + 1);
          w.copied = r.pos;
        }
        break;
      }
      case BR_TABLE:
        brTable(r, tape, nest, at);
        if (frame) frame.unreachable();
        break;
      case SELECT_T:
        for (let n = r.u32(); n > 0; n--) skipValType(r);
        break;
      case TRY_TABLE: {
        if (frame) frame.open(buf, r.pos);
        skipBlockType(r);
        for (let n = r.u32(); n > 0; n--) {
          const kind = r.u8();
          // catch / catch_ref: tag and label; catch_all / catch_all_ref: label.
          if (kind === 0x00 || kind === 0x01) { r.skipLeb(); r.skipLeb(); }
          else if (kind === 0x02 || kind === 0x03) r.skipLeb();
          else throw unsupported(`unknown try_table catch kind ${hex(kind)} at offset ${r.pos - 1}.`);
        }
        if (tape) {
          nest.push(BLOCK_KIND);
          fuel!.handlers = true;
        }
        break;
      }
      case PREFIX_FC: {
        const sub = skipFC(r, at, spaces);
        if (frame) frame.move(prefixedNet(0xfc, sub));
        if (rw.state && STATE_FC.has(sub)) rw.state.beyondMemory = true;
        const length = BULK_LENGTH[sub];
        if (tape && length !== undefined) {
          cost += BULK_WEIGHT;
          const chunked = chunkable(buf, at, r.pos);
          if (chunked) tape.bulk(at, r.pos, chunked);
          else tape.length(at, length);
        }
        break;
      }
      case PREFIX_FD: {
        const sub = skipFD(r, at);
        if (frame) frame.move(prefixedNet(0xfd, sub));
        if (fuel) fuel.vectors++;
        break;
      }
      case PREFIX_FB: {
        const sub = r.u32();
        if (sub === 24 || sub === 25) { // br_on_cast(_fail): flags byte, label, two heap types
          r.skip(1);
          if (tape) branch(r, tape, nest, at);
          else r.skipLeb();
          r.skipLeb();
          r.skipLeb();
        } else {
          skipFB(r, sub, at);
        }
        break;
      }
      case PREFIX_FE:
        skipFE(r, at);
        break;
      default:
        throw unknown(hex(op), at);
    }
  }
  if (r.pos > end) throw truncated(end);
  if (stopAtEnd) throw malformed(`a constant expression has no end at offset ${end}`);
  if (costs !== undefined) costs[nest.region] += cost;
}

/**
 * The label of a branch at `at`, read from `r`: a branch that leaves the
 * function flushes the counter; one that leaves wrapped loops is
 * re-encoded with the labels it crosses.
 */
function branch(r: Reader, tape: Tape, nest: Nesting, at: number): void {
  const labelAt = r.pos;
  const label = r.u32();
  if (label === nest.depth) tape.flush(at);
  const extra = nest.crossed(label);
  if (extra > 0) tape.relabel(labelAt, r.pos, label + extra);
}

/**
 * br_table at `at` (its opcode read): its targets and default. A target that
 * leaves the function flushes the counter; a target that leaves wrapped
 * loops is re-encoded with the labels it crosses.
 */
function brTable(r: Reader, tape: Tape | undefined, nest: Nesting, at: number): void {
  const count = r.u32() + 1; // targets + default
  if (!tape) {
    for (let n = count; n > 0; n--) r.skipLeb();
    return;
  }
  const targetsAt = r.pos;
  let exits = false;
  let crossed = false;
  for (let n = count; n > 0; n--) {
    const label = r.u32();
    if (label === nest.depth) exits = true;
    if (nest.crossed(label) > 0) crossed = true;
  }
  if (exits) tape.flush(at);
  if (crossed) {
    const targetsEnd = r.pos;
    const labels = new Reader(r.buf, targetsAt, targetsEnd);
    tape.brTable(targetsAt, targetsEnd, count, () => nest.crossed(labels.u32()));
  }
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
