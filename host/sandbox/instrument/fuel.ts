/**
 * What fuel a function body burns, and the code that burns it.
 *
 * A unit of fuel is about one simple instruction. Each function entry and
 * each loop iteration is charged, in one subtraction, the weighted count of
 * the instructions of its straight-line code (the function's own, or the
 * loop's body, nested loops excluded: they charge their own iterations). An
 * instruction runs only in an iteration of its innermost loop, or once per
 * entry of its function, so the charge is never less than what ran, whatever
 * the branches take. Bulk instructions (`memory.fill/copy/init/grow`,
 * `table.grow/fill/copy/init`) are also charged their length, just before they
 * run, with a check: a loop of large copies reads the clock before each copy
 * instead of once every SLICE copies. memory.fill and memory.copy longer than
 * CHUNK_BYTES run in charged chunks, so that one 62 MiB copy cannot overrun a
 * limit by tens of milliseconds either. The other bulk instructions run whole:
 * their lengths are bounded by the instance caps (table elements) and by the
 * module's own size (data and element segments).
 *
 * In a function with a loop the counter lives in a local, as wasmtime's fuel does: a
 * local stays in a register, a global is a load and a store through the
 * instance on every charge, and the store is a side effect that stops V8
 * from optimizing the loop around it. The local is loaded from the global at
 * entry and after every call, and stored back before every call, return,
 * branch out of the function, throw, and before asking the host for more, so
 * the global is exact whenever anything other than this frame can look at it.
 *
 * A function without a loop uses the global directly: it is charged once a
 * call, and a local would cost a load and a store around each of its calls.
 * So does a function holding an exception handler (legacy `try`, `try_table`): a frame that catches an exception resumes without
 * passing a call's reload, so its local could hold a value from before the
 * callee ran and refund the callee's fuel. A throwing frame stores its local
 * before `throw`; a callee that is left by a JS exception (a host import, or
 * V8's catchable stack overflow) had stored its own before its last call.
 */
import type { Writer } from '../../wasm/index.js';
import type { Tape } from './replay.js';
import type { Frame } from './frame.js';

/** Labels a wrapped loop puts around itself (`FuelCode.wrapStart`). */
export const WRAP_LABELS = 3;

/** Largest static charge: a region's cost saturates here, far above any slice. */
const MAX_CHARGE = 1 << 30;

/** Bytes of a memory length per unit of fuel: memset and memcpy run at several bytes per nanosecond. */
export const MEMORY_SHIFT = 4;
/**
 * Units of fuel per table element: V8 writes a funcref table element in 40
 * to 130 ns (table.fill, table.copy, measured). Lengths are clamped to
 * TABLE_CLAMP first so that the charge stays below 2^31: a longer operation
 * is charged 2^30 units, enough to read the clock before it runs.
 */
export const TABLE_UNITS_SHIFT = 8;
const TABLE_CLAMP = 0x3fffff;
/**
 * memory.grow's delta, in pages, is charged as 64 KiB each. Only its low 17
 * bits count, so the charge cannot overflow: a delta of 2^17 pages or more
 * fails (a memory has at most 2^16 pages) without doing any work.
 */
const GROW_MASK = 0x1ffff;
/**
 * memory.fill and memory.copy longer than this run in chunks of this size,
 * each charged and checked: one 62 MiB copy is tens of milliseconds, more
 * than a time limit can be allowed to overrun by.
 */
export const CHUNK_BYTES = 1 << 20;

/** Bulk memory instructions that are run in chunks. */
export type Chunked = 'fill' | 'copy';

/**
 * Weight of one-byte opcodes: 1 but for those that cost several simple
 * instructions at worst (calls set up a frame; an indirect call also checks a
 * signature; division and square root take tens of cycles).
 */
export const WEIGHT = new Uint8Array(256).fill(1);
WEIGHT[0x10] = 4; // call
WEIGHT[0x12] = 4; // return_call
WEIGHT[0x11] = 8; // call_indirect
WEIGHT[0x13] = 8; // return_call_indirect
WEIGHT[0x14] = 8; // call_ref
WEIGHT[0x15] = 8; // return_call_ref
WEIGHT[0x0e] = 2; // br_table
WEIGHT[0x40] = 8; // memory.grow, before its length
for (const op of [0x6d, 0x6e, 0x6f, 0x70, 0x7f, 0x80, 0x81, 0x82]) WEIGHT[op] = 8; // i32/i64 div and rem
for (const op of [0x91, 0x95, 0x9f, 0xa3]) WEIGHT[op] = 8; // f32/f64 sqrt and div
/** Weight of a bulk 0xFC instruction before its length is charged. */
export const BULK_WEIGHT = 8;

/**
 * Compiling. V8 compiles a function the first time it is called, inside
 * that call and before the function's fuel code runs; the guest burns no
 * fuel meanwhile. So every entry of a function is charged, besides what it
 * runs, what compiling it costs: all its instructions (loop bodies too,
 * which otherwise are charged only per iteration) and COMPILE_LOOP_UNITS a
 * loop (a metered loop header is a few microseconds of Liftoff's time, a
 * plain instruction tens of nanoseconds). Calling many functions for the
 * first time then empties the tank as fast as compiling them takes time,
 * and the clock is read between them; without it, a module of functions
 * that return at once, each thousands of loops, stalled for seconds before
 * its first clock check. The charge is a constant in the entry's one
 * subtraction: it costs nothing to run.
 */
export const COMPILE_LOOP_UNITS = 128;
/**
 * A function's compile charge may not exceed this (a function over it is
 * refused): its own first call is one stall no clock check can cut, about
 * 20 ms at this size. A 10 MB JavaScript engine's largest function is
 * under a fifth of it.
 */
export const MAX_COMPILE_UNITS = 500_000;
/** Blocks nested deeper than this are refused: Liftoff's time per block grows with the depth (a JavaScript engine nests 456 deep). */
export const MAX_NESTING = 4096;

/**
 * Units of compiling a vector (0xFD) instruction adds to its weight of one:
 * Liftoff takes up to 3 us for an `i8x16.shuffle` or `i8x16.swizzle` (it
 * matches the lanes against its patterns), 1.5 us for `i8x16.popcnt`, 0.4 us
 * for a `v128.const`, against 0.02 to 0.07 us for a scalar instruction
 * (measured on a busy machine). Without it, one function of 100,000 shuffles,
 * 400,000 units, stalled its first call for 126 ms, the time the cap allows
 * for 3 million.
 */
export const VECTOR_COMPILE_UNITS = 64;

/** The compile charge of a function whose regions cost `costs` (costs[0] its entry, then one a loop), with `vectors` vector instructions. */
export function compileCharge(costs: readonly number[], vectors: number): number {
  let units = COMPILE_LOOP_UNITS * (costs.length - 1) + VECTOR_COMPILE_UNITS * vectors;
  for (const c of costs) units += c;
  return units;
}

/** How a dynamic length on top of the stack turns into fuel. */
export const Length = { Memory: 0, Table: 1, Grow: 2 } as const;
export type Length = (typeof Length)[keyof typeof Length];

/**
 * Writes the code sequences one function body's charges are made of, straight
 * into the rewriter's output (no allocation per sequence: a 12 MB module has
 * tens of thousands of bodies). One instance serves a module: `use` points it
 * at each body's locals in turn.
 */
export class FuelCode {
  /** The counter's local, or -1 when the counter is the global itself. */
  private local = -1;
  /** An i32 local for a bulk instruction's length, or a chunk's. */
  private scratch = 0;
  // A bulk instruction's destination, source or value, and length.
  private dst = 0;
  private src = 0;
  private len = 0;

  constructor(private readonly global: number, private readonly oof: number) {}

  /**
   * For the body whose five appended i32 locals start at `first`; with
   * `counterInLocal`, the first holds the counter (else it is unused).
   */
  use(first: number, counterInLocal: boolean): this {
    this.local = counterInLocal ? first : -1;
    this.scratch = first + 1;
    this.dst = first + 2;
    this.src = first + 3;
    this.len = first + 4;
    return this;
  }

  /** Whether the counter is a local: else `flush` and `reload` write nothing. */
  get counterInLocal(): boolean {
    return this.local >= 0;
  }

  /** Stores the counter to the global (nothing when the counter is the global). */
  flush(w: Writer): void {
    if (this.local >= 0) { w.u8(0x20); w.u32(this.local); w.u8(0x24); w.u32(this.global); }
  }

  /** Loads the counter from the global after a call (nothing likewise). */
  reload(w: Writer): void {
    if (this.local >= 0) { w.u8(0x23); w.u32(this.global); w.u8(0x21); w.u32(this.local); }
  }

  /** At a function entry: the counter is loaded from the global as it is charged. */
  entry(w: Writer, cost: number): void {
    w.u8(0x23); w.u32(this.global);
    this.subtract(w, cost);
  }

  /** At a loop header. */
  charge(w: Writer, cost: number): void {
    this.get(w);
    this.subtract(w, cost);
  }

  /** Before a bulk instruction whose length is on top of the stack (it stays there). */
  length(w: Writer, kind: Length): void {
    const scratch = this.scratch;
    w.u8(0x22); w.u32(scratch); // local.tee
    this.get(w);
    w.u8(0x20); w.u32(scratch);
    // Every charge stays below 2^31, so subtracting it from a counter at or
    // above 0 cannot wrap around.
    if (kind === Length.Grow) {
      w.u8(0x41); w.s32(GROW_MASK); w.u8(0x71); // i32.and
      w.u8(0x41); w.s32(16 - MEMORY_SHIFT); w.u8(0x74); // i32.shl
    } else if (kind === Length.Table) {
      // min(length, TABLE_CLAMP) << TABLE_UNITS_SHIFT
      w.u8(0x41); w.s32(TABLE_CLAMP);
      w.u8(0x20); w.u32(scratch); w.u8(0x41); w.s32(TABLE_CLAMP); w.u8(0x49); // i32.lt_u
      w.u8(0x1b); // select
      w.u8(0x41); w.s32(TABLE_UNITS_SHIFT); w.u8(0x74);
    } else {
      w.u8(0x41); w.s32(MEMORY_SHIFT); w.u8(0x76); // i32.shr_u
    }
    w.u8(0x6b); // i32.sub
    this.storeAndCheck(w);
  }

  /**
   * Before a wrapped loop (`blockType`: the loop's, bytes [from, to) of
   * `buf`). V8 does not unroll or peel a loop that holds a call, even one on
   * a path that almost never runs, and a tight loop then runs at half its
   * speed. So the call to the host sits outside the loop:
   *
   *   block bt              ;; exit
   *     loop bt             ;; again
   *       block             ;; refill
   *         loop bt         ;; the loop as written
   *           counter -= cost; br_if refill (counter < 0)
   *           ...body, each label leaving the loop 3 deeper...
   *         end
   *         br exit         ;; the loop ended: its results leave
   *       end
   *       ask the host; trap if still empty
   *       br again          ;; and back into the loop at its start
   *     end
   *   end
   *
   * Only for a loop without parameters: at its start the operand stack of
   * its frame is empty, so `br_if refill` carries nothing.
   */
  wrapStart(w: Writer, buf: Uint8Array, from: number, to: number): void {
    w.u8(0x02); w.copy(buf, from, to);
    w.u8(0x03); w.copy(buf, from, to);
    w.u8(0x02); w.u8(0x40);
  }

  /** At a wrapped loop's header: charge, and leave for the refill block when empty. */
  fastCharge(w: Writer, cost: number): void {
    this.get(w);
    w.u8(0x41); w.s32(Math.min(cost, MAX_CHARGE));
    w.u8(0x6b);
    this.store(w);
    w.u8(0x41); w.u8(0x00); w.u8(0x48); // i32.const 0; i32.lt_s
    w.u8(0x0d); w.u8(0x01); // br_if 1: the refill block
  }

  /** Closes a wrapped loop: see `wrapStart`. */
  wrapEnd(w: Writer): void {
    w.u8(0x0c); w.u8(0x02); // br 2: the exit block
    w.u8(0x0b);
    this.refill(w);
    w.u8(0x0c); w.u8(0x00); // br 0: the loop `again`
    w.u8(0x0b);
    w.u8(0x0b);
  }

  /**
   * Replaces memory.fill or memory.copy on memory 0 (`op`, the instruction's
   * bytes [from, to) of `buf`; operands d, s or value, n on the stack):
   *
   *   n <= CHUNK_BYTES: charge n, run op as written
   *   else if d + n or s + n is past the memory: run op as written (it traps, writing nothing)
   *   else loop: charge and run op on the next chunk of at most CHUNK_BYTES
   *     (a copy to a higher address runs its chunks from the end, as memmove does)
   *
   * The bounds check first keeps the spec's all-or-nothing trap; in bounds,
   * chunks of a fill or of a copy in the right order write what one would.
   */
  bulk(w: Writer, kind: Chunked, buf: Uint8Array, from: number, to: number): void {
    // Module functions, not closures over `w`: a module has thousands of
    // these, and closures made at each would be allocated, and compiled by
    // V8, apart.
    const { dst, src, len, scratch } = this;
    localSet(w, len); localSet(w, src); localSet(w, dst);
    localGet(w, len); i32Const(w, CHUNK_BYTES); w.u8(0x4d); // i32.le_u
    w.u8(0x04); w.u8(0x40); // if: short
    localGet(w, dst); localGet(w, src); localGet(w, len);
    this.length(w, Length.Memory);
    w.copy(buf, from, to);
    w.u8(0x05); // else
    pastMemory(w, dst, len);
    if (kind === 'copy') { pastMemory(w, src, len); w.u8(0x72); } // i32.or
    w.u8(0x04); w.u8(0x40); // if: out of bounds
    localGet(w, dst); localGet(w, src); localGet(w, len); w.copy(buf, from, to);
    w.u8(0x05);
    w.u8(0x03); w.u8(0x40); // loop
    // chunk = min(len, CHUNK_BYTES), charged
    localGet(w, len); i32Const(w, CHUNK_BYTES); localGet(w, len); i32Const(w, CHUNK_BYTES); w.u8(0x49); w.u8(0x1b); localSet(w, scratch);
    this.get(w); localGet(w, scratch); i32Const(w, MEMORY_SHIFT); w.u8(0x76); w.u8(0x6b);
    this.storeAndCheck(w);
    if (kind === 'fill') {
      localGet(w, dst); localGet(w, src); localGet(w, scratch); w.copy(buf, from, to);
      advance(w, dst, scratch, 0x6a);
      advance(w, len, scratch, 0x6b);
    } else {
      localGet(w, dst); localGet(w, src); w.u8(0x4b); // i32.gt_u: copying up, from the end
      w.u8(0x04); w.u8(0x40);
      advance(w, len, scratch, 0x6b);
      localGet(w, dst); localGet(w, len); w.u8(0x6a); localGet(w, src); localGet(w, len); w.u8(0x6a); localGet(w, scratch); w.copy(buf, from, to);
      w.u8(0x05);
      localGet(w, dst); localGet(w, src); localGet(w, scratch); w.copy(buf, from, to);
      advance(w, dst, scratch, 0x6a);
      advance(w, src, scratch, 0x6a);
      advance(w, len, scratch, 0x6b);
      w.u8(0x0b);
    }
    localGet(w, len); w.u8(0x0d); w.u8(0x00); // br_if 0: the loop, while bytes are left
    w.u8(0x0b); // end loop
    w.u8(0x0b); // end if (bounds)
    w.u8(0x0b); // end if (short)
  }

  private subtract(w: Writer, cost: number): void {
    w.u8(0x41); w.s32(Math.min(cost, MAX_CHARGE));
    w.u8(0x6b);
    this.storeAndCheck(w);
  }

  private get(w: Writer): void {
    if (this.local >= 0) { w.u8(0x20); w.u32(this.local); } else { w.u8(0x23); w.u32(this.global); }
  }

  /**
   * With the new value on the stack: store it, and when it is below zero ask
   * the host (which refills the global, or leaves it empty past the deadline)
   * and trap if it is still empty. The trap is the stop: no guest handler can
   * catch it, as it could an exception thrown from the import.
   */
  private storeAndCheck(w: Writer): void {
    this.store(w);
    w.u8(0x41); w.u8(0x00); w.u8(0x48); // i32.const 0; i32.lt_s
    w.u8(0x04); w.u8(0x40); // if
    this.refill(w);
    w.u8(0x0b);
  }

  /** Stores the new value on the stack, and leaves it there. */
  private store(w: Writer): void {
    if (this.local >= 0) { w.u8(0x22); w.u32(this.local); return; }
    w.u8(0x24); w.u32(this.global); w.u8(0x23); w.u32(this.global); // V8 forwards the store to the load
  }

  /** The counter is below zero: ask the host, reload, and trap if it is still empty. */
  private refill(w: Writer): void {
    this.flush(w);
    w.u8(0x10); w.u32(this.oof);
    w.u8(0x23); w.u32(this.global);
    if (this.local >= 0) { w.u8(0x22); w.u32(this.local); }
    w.u8(0x41); w.u8(0x00); w.u8(0x48);
    w.u8(0x04); w.u8(0x40); w.u8(0x00); w.u8(0x0b); // if unreachable end
  }
}

function localGet(w: Writer, l: number): void { w.u8(0x20); w.u32(l); }
function localSet(w: Writer, l: number): void { w.u8(0x21); w.u32(l); }
function i32Const(w: Writer, v: number): void { w.u8(0x41); w.s32(v); }

/** i64(local `at`) + i64(local `len`) > the memory's size in bytes, an i32 on the stack. */
function pastMemory(w: Writer, at: number, len: number): void {
  localGet(w, at); w.u8(0xad); localGet(w, len); w.u8(0xad); w.u8(0x7c); // i64.extend_i32_u, i64.add
  w.u8(0x3f); w.u8(0x00); w.u8(0xad); w.u8(0x42); w.u8(0x10); w.u8(0x86); // memory.size 0, extend, i64.const 16, i64.shl
  w.u8(0x56); // i64.gt_u
}

/** Local `l` += (i32.add) or -= (i32.sub, `sign`) local `chunk`. */
function advance(w: Writer, l: number, chunk: number, sign: number): void {
  localGet(w, l); localGet(w, chunk); w.u8(sign); localSet(w, l);
}

/** Per-body facts the walk gathers for the rewrite of the body. */
export interface FuelPlan {
  /** The function's parameters and locals: the meter's own locals come after. */
  readonly locals: number;
  /** Cost of each region: [0] the function's own code, [k] the k-th loop's body, in order of appearance. */
  readonly costs: number[];
  /** Whether the body holds an exception handler (then the counter is the global). */
  handlers: boolean;
  /** Where fuel code goes and which immediates change (replay.ts). */
  readonly tape: Tape;
  /** The body's operand stack, followed for what its frame adds to compiling (frame.ts). */
  readonly frame: Frame;
  /** Vector (0xFD) instructions in the body: each adds VECTOR_COMPILE_UNITS to compiling it. */
  vectors: number;
}
