/**
 * What compiling a function costs for the size of its frame.
 *
 * V8's baseline compiler (Liftoff) keeps a state for every slot of the frame,
 * the function's locals and the values on its operand stack, and walks all of
 * them at each control instruction: a loop header spills and copies them, a
 * block, `if` or `else` copies them for the merge at its end, a branch or a
 * call visits them. So a function's compile time grows with its control
 * instructions times its frame, which a count of instructions misses: 40,000
 * locals (declared in three bytes) and 3,000 empty loops stalled a first call
 * for 45 seconds; 20,000 constants left on the stack and 300 loops for
 * 280 ms. Measured per slot on Node 20: about 50 to 140 ns a loop, 18 ns an
 * `if`, 12 ns a block with a branch to it, 2 ns a branch or a call; a unit of
 * fuel is about 40 ns of compiling (fuel.ts).
 *
 * The walk keeps an upper bound of the operand stack's height: the exact net
 * effect of every instruction that can push more than it pops (constants,
 * `local.get`, calls of their function type, block results, ...), and of the
 * common ones that pop; an instruction not listed counts as popping what it
 * pushes, which can only overstate the height. After an unconditional branch
 * the stack is the enclosing block's again. Each control instruction is then
 * charged its weight per slot (FRAME_WEIGHT, sixteenths of a unit) as part of
 * the function's compile charge.
 */
import { Reader } from '../../wasm/index.js';
import type { ModuleSpaces } from './spaces.js';

/** What the walk needs of a module's types to follow the operand stack. */
export interface FrameTypes {
  /** Parameter and result counts of each type index. */
  readonly params: readonly number[];
  readonly results: readonly number[];
  /** The type index of each function, imported ones first. */
  readonly funcTypes: readonly number[];
  /** The most parameters of any type: what a legacy `catch` can push. */
  readonly maxParams: number;
}

/** The module's function types, from what `moduleSpaces` read and checked. */
export function frameTypes(spaces: ModuleSpaces): FrameTypes {
  const params = spaces.typeScan?.params ?? [];
  // A loop, not Math.max(...params): a module may declare a million types.
  let maxParams = 0;
  for (const p of params) if (p > maxParams) maxParams = p;
  return { params, results: spaces.typeScan?.results ?? [], funcTypes: spaces.funcTypes, maxParams };
}

/** Net effect on the operand stack of one-byte opcodes whose effect needs no type (0: pops what it pushes, or at least as much). */
const NET = new Int8Array(256);
const net = (n: number, from: number, to = from) => { for (let op = from; op <= to; op++) NET[op] = n; };
net(-1, 0x0d); // br_if
net(-1, 0x1a); // drop
net(-2, 0x1b, 0x1c); // select
net(1, 0x20); net(-1, 0x21); net(1, 0x23); net(-1, 0x24); // local.get/set, global.get/set
net(-2, 0x26); // table.set
net(-2, 0x36, 0x3e); // stores
net(1, 0x3f); // memory.size
net(1, 0x41, 0x44); // constants
net(-1, 0x46, 0x4f); net(-1, 0x51, 0x66); // comparisons (not eqz)
net(-1, 0x6a, 0x78); net(-1, 0x7c, 0x8a); net(-1, 0x92, 0x98); net(-1, 0xa0, 0xa6); // binary arithmetic
net(1, 0xd0); net(1, 0xd2); net(-1, 0xd3); net(-1, 0xd6); // ref.null, ref.func, ref.eq, br_on_non_null
net(1, 0xfb); // GC instructions (refused anyway): as if each pushed one

/** Sub-opcodes of 0xFC and 0xFD with a net effect: table.size pushes one, v128.const too; the bulk instructions pop three. */
export function prefixedNet(prefix: number, sub: number): number {
  if (prefix === 0xfc) return sub === 16 ? 1 : sub === 15 ? -1 : [8, 10, 11, 12, 14, 17].includes(sub) ? -3 : 0;
  if (prefix === 0xfd) return sub === 12 ? 1 : 0;
  return 0;
}

/**
 * Sixteenths of a unit of compile charge per frame slot, by opcode: a loop
 * 32 (2 units a slot), a block, `if`, `else`, `try`, `catch` 8, a branch,
 * call, return or throw 1: at 40 ns a unit, what each was measured to cost
 * at worst, give or take half (a JavaScript engine's largest function is
 * charged 280,000 units, and compiles in 2 to 5 ms).
 */
const FRAME_WEIGHT = new Uint8Array(256);
for (const op of [0x02, 0x04, 0x05, 0x06, 0x07, 0x19, 0x1f]) FRAME_WEIGHT[op] = 8;
FRAME_WEIGHT[0x03] = 32;
for (const op of [0x08, 0x09, 0x0a, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0xd5, 0xd6]) FRAME_WEIGHT[op] = 1;

/** The operand stack of one body walk, as an upper bound, and the compile charge it adds. */
export class Frame {
  private height = 0;
  /**
   * For each open block, `depth` of them: the height below its parameters,
   * and its parameter and result counts. The arrays keep their length from
   * body to body (only `depth` is reset), so a walk allocates nothing.
   */
  private readonly bases: number[] = [];
  private readonly params: number[] = [];
  private readonly results: number[] = [];
  private depth = 0;
  /** The innermost block's base (0 outside any block): the stack never drops below it. */
  private base = 0;
  /** Sixteenths of a unit so far. */
  private sixteenths = 0;
  private locals = 0;

  constructor(readonly types: FrameTypes) {}

  /** Starts a body with `locals` parameters and locals: V8 sets them all up at entry. */
  reset(locals: number): void {
    this.height = 0;
    this.depth = 0;
    this.base = 0;
    this.locals = locals;
    this.sixteenths = locals;
  }

  /** The compile charge of the frame so far, in units. */
  get units(): number {
    return Math.ceil(this.sixteenths / 16);
  }

  /** Any instruction (`op`, one byte or a prefix): charges a control instruction for the frame, then applies `op`'s untyped effect. */
  step(op: number): void {
    const w = FRAME_WEIGHT[op];
    if (w !== 0) this.sixteenths += (this.locals + this.height) * w;
    // `move`, written out: this runs for every instruction, before V8 has
    // compiled the walk too, where each call costs.
    const height = this.height + NET[op];
    this.height = height > this.base ? height : this.base;
  }

  /** Moves the height by `n`, never below the innermost block's base. */
  move(n: number): void {
    this.height = Math.max(this.base, this.height + n);
  }

  /** A call of a function of type `type` (after `step`); `indirect` pops the table index or reference first. */
  call(type: number, indirect: boolean): void {
    if (indirect) this.move(-1);
    this.move(-(this.types.params[type] ?? 0));
    this.move(this.types.results[type] ?? 0);
  }

  /** After br, br_table, return, unreachable, a throw or a tail call: the stack is the block's own again. */
  unreachable(): void {
    this.height = this.base;
  }

  /**
   * Opens a block, loop, `if` (its condition already popped by the caller),
   * try or try_table whose block type starts at `at` in `buf`.
   */
  open(buf: Uint8Array, at: number): void {
    let params = 0;
    let results = 0;
    const b = buf[at];
    if (b !== 0x40) {
      if ((b & 0xc0) === 0x40 || b === 0x63 || b === 0x64) {
        results = 1; // one value type
      } else {
        const type = new Reader(buf, at, buf.length).u32();
        params = this.types.params[type] ?? 0;
        results = this.types.results[type] ?? 0;
      }
    }
    const i = this.depth++;
    this.base = Math.max(0, this.height - params);
    this.bases[i] = this.base;
    this.params[i] = params;
    this.results[i] = results;
  }

  /** `else`: the block's parameters again. `catch` (legacy): what a tag can carry, at most; `catch_all`: nothing. */
  restart(pushed: 'params' | 'tag' | 'none'): void {
    const i = this.depth - 1;
    if (i < 0) return;
    this.height = this.bases[i] + (pushed === 'params' ? this.params[i] : pushed === 'tag' ? this.types.maxParams : 0);
  }

  /** `end` (or `delegate`) of a block: its results on its base. */
  close(): void {
    if (this.depth === 0) return;
    const i = --this.depth;
    this.height = this.bases[i] + this.results[i];
    this.base = i > 0 ? this.bases[i - 1] : 0;
  }
}
