/**
 * The canonical ABI's lift and lower (component-model `CanonicalABI.md`)
 * for the value types the session-module world uses, written to behave
 * exactly as jco 1.11.2's generated glue does for them (transpile.ts): the
 * same realloc calls in the same order, the same stores, the same
 * exceptions with the same messages for a bad value from either side
 * (an enum discriminant out of range from the guest throws
 * `invalid discriminant specified for Status`; a host value that is not a
 * case of an enum throws `"x" is not one of the cases of status`; a host
 * `result` error is its `payload`), so an instance behaves the same
 * whichever path loaded it. Strings and lists are read out of guest memory
 * as glue.ts makes jco's glue read them: through `guestBytes` (../lift.ts),
 * bounded first.
 *
 * Each function is compiled once per component from its type and run
 * against the options of one instance (`Cx`: its memory and realloc).
 * A (direction, type) pair not written here throws `Unrecognized` at
 * compile time, and the component takes the jco path.
 */
import { guestBytes, type Capped } from '../lift.js';
import { camel } from '../names.js';
import { notRecognized } from './binary.js';
import { nameOf, payloadOffset, unwrap, type FuncType, type ValType } from './types.js';

/** One instance's canonical options as the glue has them at call time. */
export interface Cx {
  memory: WebAssembly.Memory | undefined;
  realloc: ((...args: number[]) => number) | undefined;
}

type Host = (...args: unknown[]) => unknown;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const hasOwnProperty = Object.prototype.hasOwnProperty;

let dv = new DataView(new ArrayBuffer(0));
const view = (mem: WebAssembly.Memory) => (dv.buffer === mem.buffer ? dv : (dv = new DataView(mem.buffer)));

/** jco's `utf8Encode`: the empty string is (1, 0) without a realloc call. */
function encode(cx: Cx, s: unknown): [number, number] {
  if (typeof s !== 'string') throw new TypeError('expected a string');
  if (s.length === 0) return [1, 0];
  const buf = encoder.encode(s);
  const ptr = cx.realloc!(0, 0, 1, buf.length);
  new Uint8Array(cx.memory!.buffer).set(buf, ptr);
  return [ptr, buf.length];
}

const pascal = (kebab: string) => camel(kebab).replace(/^[a-z]/, (c) => c.toUpperCase());

function enumName(t: ValType): string {
  return nameOf(t) ?? notRecognized('an enum without a name');
}

/** The guest's discriminant as the case name; throws as jco's lifting switch does. */
function liftEnum(t: ValType): (n: number) => string {
  const u = unwrap(t);
  if (u.k !== 'enum') return notRecognized('not an enum');
  const cases = u.cases;
  const message = `invalid discriminant specified for ${pascal(enumName(t))}`;
  return (n) => {
    if (n >= 0 && n < cases.length) return cases[n];
    throw new TypeError(message);
  };
}

/** The host's case name as a discriminant; throws (after logging an Error value) as jco's lowering switch does. */
function lowerEnum(t: ValType): (v: unknown) => number {
  const u = unwrap(t);
  if (u.k !== 'enum') return notRecognized('not an enum');
  const index = new Map(u.cases.map((c, i) => [c, i]));
  const name = enumName(t);
  return (v) => {
    const i = index.get(v as string);
    if (i !== undefined) return i;
    if (v instanceof Error) console.error(v);
    throw new TypeError(`"${v}" is not one of the cases of ${name}`);
  };
}

type LowerFlat = (cx: Cx, v: unknown, out: number[]) => void;

/** Host value to flat core values, for an export's parameters. */
function lowerFlat(t: ValType): LowerFlat {
  const u = unwrap(t);
  if (u.k === 'flags') {
    if (u.names.length > 32) notRecognized('more than 32 flags');
    const fields = u.names.map(camel);
    return (_cx, v, out) => {
      let bits = 0;
      if (typeof v === 'object' && v !== null) {
        for (let i = 0; i < fields.length; i++) bits |= Number(Boolean((v as Record<string, unknown>)[fields[i]])) << i;
      } else if (v !== null && v !== undefined) {
        throw new TypeError('only an object, undefined or null can be converted to flags');
      }
      out.push(bits);
    };
  }
  if (u.k === 'prim' && u.t === 'string') {
    return (cx, v, out) => {
      const [ptr, len] = encode(cx, v);
      out.push(ptr, len);
    };
  }
  if (u.k === 'list' && isString(u.of)) {
    return (cx, v, out) => {
      const [ptr, len] = lowerStringList(cx, v);
      out.push(ptr, len);
    };
  }
  return notRecognized('lowering this type into parameters');
}

const isString = (t: ValType) => { const u = unwrap(t); return u.k === 'prim' && u.t === 'string'; };
const isU8 = (t: ValType) => { const u = unwrap(t); return u.k === 'prim' && u.t === 'u8'; };

function lowerStringList(cx: Cx, v: unknown): [number, number] {
  const vec = v as unknown[];
  const len = vec.length;
  const result = cx.realloc!(0, 0, 4, len * 8);
  for (let i = 0; i < vec.length; i++) {
    const base = result + i * 8;
    const [ptr, n] = encode(cx, vec[i]);
    view(cx.memory!).setInt32(base + 4, n, true);
    view(cx.memory!).setInt32(base + 0, ptr, true);
  }
  return [result, len];
}

type LiftFlat = (cx: Cx, args: number[], at: number, host: Capped) => unknown;

/**
 * Flat core values (from `args[at]` on) to a host value, for an import's
 * parameters. Strings and lists are read through `guestBytes` (../lift.ts):
 * bounded by the host function's argument limit before they are read.
 */
function liftFlat(t: ValType): [LiftFlat, number] {
  const u = unwrap(t);
  if (u.k === 'enum') {
    const lift = liftEnum(t);
    return [(_cx, args, at) => lift(args[at]), 1];
  }
  if (u.k === 'prim' && u.t === 'string') {
    return [(cx, args, at, host) => decoder.decode(guestBytes(cx.memory, args[at], args[at + 1], host)), 2];
  }
  if (u.k === 'list' && isU8(u.of)) {
    return [(cx, args, at, host) => guestBytes(cx.memory, args[at], args[at + 1], host).slice(), 2];
  }
  return notRecognized('lifting this type from parameters');
}

type Store = (cx: Cx, v: unknown, ptr: number) => void;

/** A host value stored into guest memory at `ptr`, for an import's result passed by pointer. */
function store(t: ValType): Store {
  const u = unwrap(t);
  if (u.k === 'prim' && u.t === 'string') {
    return (cx, v, ptr) => {
      const [p, len] = encode(cx, v);
      view(cx.memory!).setInt32(ptr + 4, len, true);
      view(cx.memory!).setInt32(ptr + 0, p, true);
    };
  }
  if (u.k === 'list' && isU8(u.of)) {
    return (cx, v, ptr) => {
      const val = v as Uint8Array;
      const len = val.byteLength;
      const p = cx.realloc!(0, 0, 1, len * 1);
      const src = new Uint8Array((val.buffer || val) as ArrayBuffer, val.byteOffset, len * 1);
      new Uint8Array(cx.memory!.buffer, p, len * 1).set(src);
      view(cx.memory!).setInt32(ptr + 4, len, true);
      view(cx.memory!).setInt32(ptr + 0, p, true);
    };
  }
  if (u.k === 'list' && isString(u.of)) {
    return (cx, v, ptr) => {
      const [p, len] = lowerStringList(cx, v);
      view(cx.memory!).setInt32(ptr + 4, len, true);
      view(cx.memory!).setInt32(ptr + 0, p, true);
    };
  }
  if (u.k === 'enum') {
    if (u.cases.length > 0x100) notRecognized('an enum of more than 256 cases in memory');
    const lower = lowerEnum(t);
    return (cx, v, ptr) => {
      const n = lower(v);
      view(cx.memory!).setInt8(ptr, n);
    };
  }
  if (u.k === 'option') {
    const some = store(u.of);
    const at = payloadOffset(u);
    return (cx, v, ptr) => {
      if (v === null || v === undefined) {
        view(cx.memory!).setInt8(ptr + 0, 0);
      } else {
        view(cx.memory!).setInt8(ptr + 0, 1);
        some(cx, v, ptr + at);
      }
    };
  }
  if (u.k === 'result') {
    const ok = u.ok && store(u.ok);
    const err = u.err && store(u.err);
    const at = payloadOffset(u);
    return (cx, v, ptr) => {
      const r = v as { tag: string; val: unknown };
      switch (r.tag) {
        case 'ok':
          view(cx.memory!).setInt8(ptr + 0, 0);
          ok?.(cx, r.val, ptr + at);
          break;
        case 'err':
          view(cx.memory!).setInt8(ptr + 0, 1);
          err?.(cx, r.val, ptr + at);
          break;
        default:
          throw new TypeError('invalid variant specified for result');
      }
    };
  }
  return notRecognized('storing this type');
}

/** jco's `getErrorPayload`: what a host function that returns a `result` threw, as its error case. */
function errorPayload(e: unknown): unknown {
  if (e && hasOwnProperty.call(e, 'payload')) return (e as { payload: unknown }).payload;
  if (e instanceof Error) throw e;
  return e;
}

/**
 * The core function a guest calls for an imported function (`canon lower`):
 * lifts its arguments, calls `host`, and lowers the result into a flat
 * return value or into memory at the pointer passed last.
 */
export function compileLower(f: FuncType, name: string): (cx: Cx, host: unknown) => (...args: number[]) => unknown {
  const lifts = f.params.map(([, t]) => liftFlat(t));
  const flat = lifts.reduce((n, [, w]) => n + w, 0);
  if (flat > 16) notRecognized('parameters passed in memory');
  const result = f.result;
  const catches = result !== null && unwrap(result).k === 'result';
  let finish: (cx: Cx, ret: unknown, args: number[]) => unknown;
  if (result === null) finish = () => undefined;
  else if (unwrap(result).k === 'enum') {
    const lower = lowerEnum(result);
    finish = (_cx, ret) => lower(ret);
  } else {
    const put = store(result);
    finish = (cx, ret, args) => { put(cx, ret, args[flat]); };
  }
  return (cx, host) => (...args: number[]) => {
    const values: unknown[] = [];
    let at = 0;
    for (const [lift, width] of lifts) {
      values.push(lift(cx, args, at, host as Capped));
      at += width;
    }
    // As the glue's call of the function it took from the imports object.
    if (typeof host !== 'function') throw new TypeError(`${camel(name)} is not a function`);
    const fn = host as Host;
    let ret: unknown;
    if (catches) {
      try {
        ret = { tag: 'ok', val: fn(...values) };
      } catch (e) {
        ret = { tag: 'err', val: errorPayload(e) };
      }
    } else {
      ret = fn(...values);
    }
    return finish(cx, ret, args);
  };
}

/**
 * The host function for an exported one (`canon lift`): lowers the
 * arguments (allocating with the guest's realloc), calls the core function,
 * lifts its flat result, then calls post-return with the core result.
 */
export function compileLift(f: FuncType): (cx: Cx, core: (...a: number[]) => number, postReturn: ((r: number) => void) | undefined) => (...args: unknown[]) => unknown {
  const lowers = f.params.map(([, t]) => lowerFlat(t));
  if (!f.result || unwrap(f.result).k !== 'enum') notRecognized('an export whose result is not an enum');
  const lift = liftEnum(f.result);
  return (cx, core, postReturn) => (...args: unknown[]) => {
    const flat: number[] = [];
    for (let i = 0; i < lowers.length; i++) lowers[i](cx, args[i], flat);
    const ret = core(...flat);
    const value = lift(ret);
    postReturn?.(ret);
    return value;
  };
}
