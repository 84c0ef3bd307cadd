/**
 * The fuel pass: what the rewrite adds so that running the module burns fuel
 * (the cost model and the inserted code are fuel.ts; the walk of a body
 * body-walk.ts): the out-of-fuel import, the fuel global and its export,
 * and every function body with its charges.
 */
import { hex, malformed, Reader, type Writer } from '../../wasm/index.js';
import { ResourceLimitError } from '../../errors/index.js';
import { compileCharge, FuelCode, MAX_COMPILE_UNITS, type FuelPlan } from './fuel.js';
import { skipValType } from './instructions.js';
import { BodyWalker } from './body-walk.js';
import { replay, Tape } from './replay.js';
import type { ModuleSpaces, Section } from './spaces.js';
import { Frame, type FrameTypes } from './frame.js';

export const FUEL_EXPORT = 'pamwasm:fuel';
export const OUT_OF_FUEL = 'out-of-fuel';

/** `(import "<sandbox>" "out-of-fuel" (func (type typeIndex)))`. */
export function writeOutOfFuelImport(out: Writer, sandboxModule: string, typeIndex: number): void {
  out.name(sandboxModule);
  out.name(OUT_OF_FUEL);
  out.u8(0x00); // func
  out.u32(typeIndex);
}

/** `(global (mut i32) (i32.const initial))`. */
export function writeFuelGlobal(out: Writer, initial: number): void {
  out.u8(0x7f); // i32
  out.u8(0x01); // var
  out.u8(0x41); // i32.const
  out.s32(initial);
  out.u8(0x0b); // end
}

export function writeFuelExport(out: Writer, globalIndex: number): void {
  out.name(FUEL_EXPORT);
  out.u8(0x03); // global
  out.u32(globalIndex);
}

/**
 * The code section: each body is `size locals expr`. Each body is walked
 * once, counting what its function entry and each of its loops cost
 * (fuel.ts) and recording where fuel code goes (replay.ts), then copied with
 * the charges inserted. Two i32 locals
 * are appended (the fuel counter and a bulk instruction's length), the entry
 * charge goes right after the locals, and each body's size is re-encoded
 * once its new length is known.
 */
export function rewriteCode(
  bytes: Uint8Array, s: Section, out: Writer, importedFuncs: number, fuelGlobal: number, types: FrameTypes, state: { beyondMemory: boolean }, spaces: ModuleSpaces,
): void {
  const r = new Reader(bytes, s.start, s.end);
  const count = r.u32();
  const defined = types.funcTypes.length - importedFuncs;
  if (count !== defined) throw malformed(`the code section has ${count} bodies for ${defined} functions`);
  out.u32(count);
  const body: BodyContext = {
    bytes, out, tape: new Tape(), frame: new Frame(types), code: new FuelCode(fuelGlobal, importedFuncs), walker: new BodyWalker(spaces, importedFuncs, state),
  };
  // One try around the loop, not one per body: the loop stays as fast as without.
  let i = 0;
  try {
    for (; i < count; i++) rewriteBody(body, r, s.end, types.params[types.funcTypes[importedFuncs + i]], i);
  } catch (e) {
    if (e instanceof Error) e.message = `function ${importedFuncs + i}: ${e.message}`;
    throw e;
  }
  if (r.pos !== s.end) throw malformed(`code section has ${s.end - r.pos} bytes after its last body`);
}

/** The i32 locals the meter adds to every function. */
const FUEL_LOCALS = 5;
/** V8's cap on a function's parameters and locals together (kV8MaxWasmFunctionLocals). */
const MAX_LOCALS = 50_000;

/** What every body of a code section is rewritten with. */
interface BodyContext {
  bytes: Uint8Array;
  out: Writer;
  /** The walk's record of where fuel code goes, reused from body to body. */
  tape: Tape;
  /** The walk's operand stack, likewise. */
  frame: Frame;
  code: FuelCode;
  walker: BodyWalker;
}

/** Body `i` at `r.pos` (with `params` parameters): walked to count, then copied with its charges; `r` moves past it. */
function rewriteBody(c: BodyContext, r: Reader, sectionEnd: number, params: number, i: number): void {
  const { bytes, out } = c;
  const size = r.u32();
  const bodyEnd = r.pos + size;
  if (bodyEnd > sectionEnd) throw malformed(`function body ${i} runs past the code section (offset ${r.pos})`);
  const start = out.pos;
  const body = new Reader(bytes, r.pos, bodyEnd);
  const groups = body.u32();
  const groupsStart = body.pos;
  let locals = 0;
  for (let g = groups; g > 0; g--) {
    locals += body.u32();
    skipValType(body);
  }
  const first = params + locals;
  // Said here, not left to V8's refusal of the rewritten module, which would read as a bug of the sandbox's.
  if (first + FUEL_LOCALS > MAX_LOCALS) {
    throw new ResourceLimitError(`it has ${first} parameters and locals; the sandbox adds ${FUEL_LOCALS}, and V8 allows ${MAX_LOCALS} in all; use fewer locals`);
  }
  const tape = c.tape;
  tape.reset();
  const frame = c.frame;
  frame.reset(first);
  const fuel: FuelPlan = { locals: first, costs: [0], handlers: false, tape, frame, vectors: 0 };
  const walkStart = body.pos;
  c.walker.walk(body, fuel);
  if (bytes[bodyEnd - 1] !== 0x0b) throw malformed(`function body ${i} does not end with end (0x0b) at offset ${bodyEnd - 1}, found ${hex(bytes[bodyEnd - 1])}`);
  // The counter is a local only where it pays: in a loop. A function
  // without one charges once per call, and a local would cost a load and a
  // store around each of its calls (fuel.ts).
  const local = fuel.costs.length > 1 && !fuel.handlers;
  // Charged at every entry, with what the entry runs: compiling it (fuel.ts),
  // its frame's part too (frame.ts).
  const compile = compileCharge(fuel.costs, fuel.vectors) + frame.units;
  if (compile > MAX_COMPILE_UNITS) {
    throw new ResourceLimitError(`its code would take too long to compile for a time limit to hold (${fuel.costs.length - 1} loops${fuel.vectors ? `, ${fuel.vectors} vector instructions` : ''} and ${first} parameters and locals, ` +
      `${compile} units of compiling where at most ${MAX_COMPILE_UNITS} are allowed); split the function, or give it fewer locals or fewer values held on its stack`);
  }
  const code = c.code.use(first, local);
  out.u32(groups + 1);
  out.copy(bytes, groupsStart, walkStart);
  out.u32(FUEL_LOCALS); out.u8(0x7f); // i32 locals: the counter, a length, and a bulk instruction's operands (fuel.ts)
  code.entry(out, fuel.costs[0] + compile);
  // Loops are wrapped only in a function without handlers: no catch,
  // delegate or rethrow label then needs renumbering.
  replay(tape, bytes, walkStart, bodyEnd, out, code, fuel.costs, !fuel.handlers);
  out.prefixSize(start);
  r.pos = bodyEnd;
}
