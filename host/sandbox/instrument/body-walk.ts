/**
 * The counting walk of a function body (fuel-pass.ts calls it once a body):
 * it decodes each instruction as instructions.ts does, adds up the fuel
 * costs of the body's regions (fuel.ts), follows its operand stack
 * (frame.ts), and records on the tape where fuel code goes and which
 * immediates change (replay.ts). It writes nothing.
 *
 * Why it is apart from the walk of constant expressions, and shaped as it
 * is: a 12 MB module is walked once, in a fresh process, so most of the walk
 * runs before V8's optimizing compiler has compiled it, and V8 throws the
 * compiled code away whenever a path runs that had not run before it was
 * compiled. So the loop holds only the commonest instructions (locals,
 * constants, loads and stores, arithmetic, blocks, branches, calls), each
 * one path taken by the first bodies, and sends every other instruction to
 * one function, `other`: V8 compiles a small loop sooner and faster, and a
 * rare instruction met late discards at most the compiled `other`.
 */
import { hex, malformed, Reader } from '../../wasm/index.js';
import { BULK_WEIGHT, Length, WEIGHT, type Chunked, type FuelPlan } from './fuel.js';
import { Kind, Nesting } from './nesting.js';
import {
  checkedCallIndirect, checkedIndex, pastEnd, skipBlockType, skipFB, skipFC, skipFD, skipFE, skipMemarg, skipValType, unknown,
  type IndexSpaces,
} from './immediates.js';
import { prefixedNet } from './frame.js';
import { instructionShape, Shape, skipTryTable, truncated } from './instructions.js';
import type { Tape } from './replay.js';

/** What the loop does with each one-byte opcode (a const enum: its cases compile to a jump table). */
const enum Path {
  OTHER = 0, // anything not below: `other`
  PLAIN = 1, // no immediate, no effect but on the frame
  LOCAL = 2, // local.get/set/tee: an index, checked
  CONST = 3, // i32/i64.const: one LEB128 skipped
  MEMORY = 4, // loads and stores: a memarg
  END = 5,
  BLOCK = 6, // block, if
  LOOP = 7,
  BRANCH = 8, // br, br_if
  CALL = 9,
  GLOBAL = 10, // global.get/set: an index, checked
}

const PATH = new Uint8Array(256).fill(Path.OTHER);
for (let op = 0; op < 256; op++) {
  const shape = instructionShape(op);
  // unreachable, else, throw_ref, return, catch_all: each ends or restarts a stack.
  if (shape === Shape.NONE && ![0x00, 0x05, 0x0a, 0x0f, 0x19].includes(op)) PATH[op] = Path.PLAIN;
  else if (shape === Shape.MEMARG) PATH[op] = Path.MEMORY;
}
for (const op of [0x20, 0x21, 0x22]) PATH[op] = Path.LOCAL;
for (const op of [0x41, 0x42]) PATH[op] = Path.CONST;
for (const op of [0x02, 0x04]) PATH[op] = Path.BLOCK;
for (const op of [0x0c, 0x0d]) PATH[op] = Path.BRANCH;
for (const op of [0x23, 0x24]) PATH[op] = Path.GLOBAL;
PATH[0x0b] = Path.END;
PATH[0x03] = Path.LOOP;
PATH[0x10] = Path.CALL;

/** What every body of a code section is walked with. */
export class BodyWalker {
  readonly nest = new Nesting();

  constructor(
    /** The module's own index spaces: an index at or past the end of its space is refused. */
    readonly spaces: IndexSpaces,
    /** Function indices at or above this move up by one (the out-of-fuel import). */
    readonly shiftFrom: number,
    /**
     * Set when an instruction changes instance state outside memory and
     * globals: table.set, table.grow, table.fill, table.copy, table.init,
     * data.drop, elem.drop.
     */
    readonly state: { beyondMemory: boolean },
  ) {}

  /**
   * Walks the body from `r.pos` to `r.end`, counting into `fuel` and
   * recording on `fuel.tape`.
   */
  walk(r: Reader, fuel: FuelPlan): void {
    const { buf, end } = r;
    const { tape, frame, costs, locals } = fuel;
    const { nest, spaces, shiftFrom } = this;
    const funcTypes = frame.types.funcTypes;
    nest.reset();
    // The current region's cost since it was last added to costs[nest.region]:
    // a local, not an array element, on the path every instruction takes.
    let cost = 0;
    // The read position, in a local that V8 keeps in a register: `r.pos` is
    // set from it before anything else reads `r`, and read back after. A
    // one-byte LEB128 (most indices and constants) is read here; a longer
    // one, or one cut off by the end, by the reader.
    let pos = r.pos;
    // The function's own label is as deep as the blocks open: a branch to it returns.
    while (pos < end) {
      const at = pos;
      const op = buf[pos++];
      cost += WEIGHT[op];
      frame.step(op);
      switch (PATH[op]) {
        case Path.PLAIN:
          break;
        case Path.LOCAL: {
          let idx = pos < end ? buf[pos] : 0x80;
          if (idx < 0x80) pos++;
          else { r.pos = pos; idx = r.u32(); pos = r.pos; }
          // The meter appends its own locals: an index past the function's
          // would name one of them, and must stay an error, never a valid access.
          if (idx >= locals) throw malformed(`local index ${idx} at offset ${at} is past the function's ${locals} locals`);
          break;
        }
        case Path.CONST:
          if (pos < end && buf[pos] < 0x80) pos++;
          else { r.pos = pos; r.skipLeb(); pos = r.pos; }
          break;
        case Path.MEMORY:
          // A memarg: alignment flags, no memory index (bit 6 clear) and the offset, each one byte, or else in full.
          if (pos + 1 < end && buf[pos] < 0x40 && buf[pos + 1] < 0x80) pos += 2;
          else { r.pos = pos; skipMemarg(r); pos = r.pos; }
          break;
        case Path.END:
          frame.close();
          if (nest.depth === 0) {
            tape.flush(at); // the function's end
          } else {
            const kind = nest.pop();
            if (kind !== Kind.BLOCK) {
              costs[nest.region] += cost;
              cost = 0;
              nest.resume();
            }
            if (kind === Kind.WRAPPED) tape.wrapEnd(pos);
          }
          break;
        case Path.BLOCK:
          if (op === 0x04) frame.move(-1); // if's condition
          frame.open(buf, pos);
          r.pos = pos;
          skipBlockType(r);
          pos = r.pos;
          nest.push(Kind.BLOCK);
          break;
        case Path.LOOP: {
          const typeAt = pos;
          frame.open(buf, typeAt);
          r.pos = pos;
          skipBlockType(r);
          pos = r.pos;
          // A loop whose block type takes no parameters (empty or one value
          // type: not a type index) is wrapped, see FuelCode.wrapStart, unless
          // the function holds a handler (known only at its end: see replay.ts).
          const wrappable = (buf[typeAt] & 0xc0) === 0x40; // one byte, negative as s33: 0x40 or a value type
          nest.push(wrappable ? Kind.WRAPPED : Kind.LOOP);
          costs[nest.region] += cost;
          cost = 0;
          nest.enterLoop();
          costs.push(WEIGHT[op]);
          // Right after `loop bt`: the loop's label targets its start, so every
          // backward branch runs the charge.
          tape.loop(at, typeAt, pos, nest.region, wrappable);
          break;
        }
        case Path.BRANCH:
          r.pos = pos;
          branch(r, tape, nest, at);
          pos = r.pos;
          if (op === 0x0c) frame.unreachable();
          break;
        case Path.CALL: {
          let idx = pos < end ? buf[pos] : 0x80;
          if (idx < 0x80) pos++;
          else { r.pos = pos; idx = r.u32(); pos = r.pos; }
          if (idx >= spaces.funcs) throw pastEnd('function', idx, spaces.funcs, at);
          frame.call(funcTypes[idx] ?? 0, false);
          tape.flush(at);
          if (idx >= shiftFrom) tape.shift(at, pos, idx);
          tape.reload(pos);
          break;
        }
        case Path.GLOBAL: {
          let idx = pos < end ? buf[pos] : 0x80;
          if (idx < 0x80) pos++;
          else { r.pos = pos; idx = r.u32(); pos = r.pos; }
          if (idx >= spaces.globals) throw pastEnd('global', idx, spaces.globals, at);
          break;
        }
        default:
          r.pos = pos;
          cost += other(this, r, op, at, fuel);
          pos = r.pos;
      }
    }
    r.pos = pos;
    if (pos > end) throw truncated(end);
    costs[nest.region] += cost;
  }
}

/**
 * Every instruction the loop of `BodyWalker.walk` does not take (the opcode
 * `op`, read at `at`): its immediates, its effect on the frame, the tape and
 * the plan. Returns what it adds to the region's cost besides the opcode's weight.
 */
function other(walker: BodyWalker, r: Reader, op: number, at: number, fuel: FuelPlan): number {
  const { buf, end } = r;
  const { tape, frame } = fuel;
  const { nest, spaces } = walker;
  switch (instructionShape(op)) {
    case Shape.NONE:
      if (op === 0x0f || op === 0x0a) tape.flush(at); // return, throw_ref
      if (op === 0x00 || op === 0x0a || op === 0x0f) frame.unreachable(); // unreachable, throw_ref, return
      else if (op === 0x05) frame.restart('params'); // else
      else if (op === 0x19) frame.restart('none'); // catch_all
      return 0;
    case Shape.LEB: {
      if (op === 0xd5 || op === 0xd6) { // br_on_null, br_on_non_null
        branch(r, tape, nest, at);
        return 0;
      }
      // call_ref's type, for the frame; any other immediate may be a 64-bit constant.
      const immediate = op === 0x14 ? r.u32() : (r.skipLeb(), 0);
      if (op === 0x08 || op === 0x09 || op === 0x15) { // throw, rethrow, return_call_ref
        tape.flush(at);
        frame.unreachable();
      } else if (op === 0x14) { // call_ref
        tape.flush(at);
        tape.reload(r.pos);
        frame.call(immediate, true);
      } else if (op === 0x18) { // delegate ends its try block
        nest.pop();
        frame.close();
      } else if (op === 0x07) { // catch (legacy)
        frame.restart('tag');
      }
      return 0;
    }
    case Shape.INDEX:
      if (op === 0x26) walker.state.beyondMemory = true; // table.set
      if (op === 0x40) tape.length(at, Length.Grow); // memory.grow
      checkedIndex(r, op, at, spaces);
      return 0;
    case Shape.LEB2: // (return_)call_indirect
      if (op === 0x11) frame.call(new Reader(buf, r.pos, end).u32(), true);
      else frame.unreachable();
      tape.flush(at);
      checkedCallIndirect(r, at, spaces);
      if (op === 0x11) tape.reload(r.pos);
      return 0;
    case Shape.BYTES4:
      r.pos += 4;
      return 0;
    case Shape.BYTES8:
      r.pos += 8;
      return 0;
    case Shape.BLOCK: // try
      frame.open(buf, r.pos);
      skipBlockType(r);
      nest.push(Kind.BLOCK);
      fuel.handlers = true;
      return 0;
    case Shape.FUNC: { // return_call, ref.func
      const idx = r.u32();
      if (idx >= spaces.funcs) throw pastEnd('function', idx, spaces.funcs, at);
      if (op === 0x12) frame.unreachable();
      if (op !== 0xd2) tape.flush(at); // return_call; not ref.func
      if (idx >= walker.shiftFrom) tape.shift(at, r.pos, idx);
      return 0;
    }
    case Shape.BR_TABLE:
      brTable(r, tape, nest, at);
      frame.unreachable();
      return 0;
    case Shape.SELECT_T:
      for (let n = r.u32(); n > 0; n--) skipValType(r);
      return 0;
    case Shape.TRY_TABLE:
      frame.open(buf, r.pos);
      skipTryTable(r);
      nest.push(Kind.BLOCK);
      fuel.handlers = true;
      return 0;
    case Shape.PREFIX_FC: {
      const sub = skipFC(r, at, spaces);
      frame.move(prefixedNet(0xfc, sub));
      if (STATE_FC.has(sub)) walker.state.beyondMemory = true;
      const length = BULK_LENGTH[sub];
      if (length === undefined) return 0;
      const chunked = chunkable(buf, at, r.pos);
      if (chunked) tape.bulk(at, r.pos, chunked);
      else tape.length(at, length);
      return BULK_WEIGHT;
    }
    case Shape.PREFIX_FD: {
      const sub = skipFD(r, at);
      frame.move(prefixedNet(0xfd, sub));
      fuel.vectors++;
      return 0;
    }
    case Shape.PREFIX_FB: {
      const sub = r.u32();
      if (sub === 24 || sub === 25) { // br_on_cast(_fail): flags byte, label, two heap types
        r.skip(1);
        branch(r, tape, nest, at);
        r.skipLeb();
        r.skipLeb();
      } else {
        skipFB(r, sub, at);
      }
      return 0;
    }
    case Shape.PREFIX_FE:
      skipFE(r, at);
      return 0;
    default:
      throw unknown(hex(op), at);
  }
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
function brTable(r: Reader, tape: Tape, nest: Nesting, at: number): void {
  const count = r.u32() + 1; // targets + default
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
