/**
 * What the counting walk of a function body records for the writing of it,
 * so that the body is decoded once: the positions where fuel code goes in
 * (flushes, reloads, charges, wrapped loops, bulk instructions) and where an
 * immediate changes (a shifted function index, a relabelled branch). The
 * rewrite then copies the spans between them. A loop's charge is only known
 * once its whole body has been counted, and whether loops are wrapped only
 * once the whole function has (a handler anywhere forbids it), so the events
 * of wrapping are recorded for every loop that could be wrapped, and dropped
 * at replay when the function holds a handler.
 */
import { Reader, type Writer } from '../../wasm/index.js';
import type { Chunked, FuelCode, Length } from './fuel.js';

/** The events on a tape, each its code then its operands. */
const enum Event {
  FLUSH = 0, // at: store the counter before what is at `at`
  RELOAD = 1, // pos: load the counter after a call
  WRAP_END = 2, // pos: close a wrapped loop
  RELABEL = 3, // from, to, label: the branch label at [from, to) re-encoded
  LENGTH = 4, // at, kind: charge a bulk instruction's length
  LOOP = 5, // at, typeAt, pos, region, wrappable: a loop header's charge
  SHIFT = 6, // at, pos, idx: the function index after the opcode at `at` becomes idx + 1
  BULK = 7, // at, pos, chunked: memory.fill / memory.copy run in chunks
  BR_TABLE = 8, // from, to, n, first: each of the n targets re-encoded with the labels it crosses, `Tape.crossed[first + k]`
}
/** Each event's length on the tape, its code included: fixed, so that stepping from one to the next takes no branch. */
const EVENT_LENGTH = [2, 2, 2, 4, 3, 6, 4, 4, 5];
const CHUNKED: Chunked[] = ['fill', 'copy'];

/** The events of one body, in the order the rewrite meets them; reused from body to body. */
export class Tape {
  /**
   * Starts small: it then grows in the first bodies, while V8 still
   * gathers what the walk does. Grown first in a large body met after V8
   * compiled the walk, it would make V8 throw the compiled walk away.
   */
  data = new Int32Array(64);
  n = 0;
  /**
   * The labels each target of a relabelled br_table adds, in order (see
   * `brTable`): `crossedN` of them, the array keeping its length from body
   * to body.
   */
  readonly crossed: number[] = [];
  private crossedN = 0;

  /** Empties the tape for the next body. */
  reset(): void {
    this.n = 0;
    this.crossedN = 0;
  }

  private room(k: number): Int32Array {
    if (this.n + k > this.data.length) {
      const next = new Int32Array(Math.max(this.data.length * 2, this.n + k));
      next.set(this.data.subarray(0, this.n));
      this.data = next;
    }
    return this.data;
  }

  flush(at: number): void { const d = this.room(2); d[this.n++] = Event.FLUSH; d[this.n++] = at; }
  reload(pos: number): void { const d = this.room(2); d[this.n++] = Event.RELOAD; d[this.n++] = pos; }
  wrapEnd(pos: number): void { const d = this.room(2); d[this.n++] = Event.WRAP_END; d[this.n++] = pos; }
  length(at: number, kind: Length): void { const d = this.room(3); d[this.n++] = Event.LENGTH; d[this.n++] = at; d[this.n++] = kind; }

  relabel(from: number, to: number, label: number): void {
    const d = this.room(4);
    d[this.n++] = Event.RELABEL; d[this.n++] = from; d[this.n++] = to; d[this.n++] = label;
  }

  loop(at: number, typeAt: number, pos: number, region: number, wrappable: boolean): void {
    const d = this.room(6);
    d[this.n++] = Event.LOOP; d[this.n++] = at; d[this.n++] = typeAt; d[this.n++] = pos; d[this.n++] = region; d[this.n++] = wrappable ? 1 : 0;
  }

  /** `idx` may be up to 2^32-1: stored as int32 and read back unsigned. */
  shift(at: number, pos: number, idx: number): void {
    const d = this.room(4);
    d[this.n++] = Event.SHIFT; d[this.n++] = at; d[this.n++] = pos; d[this.n++] = idx;
  }

  bulk(at: number, pos: number, kind: Chunked): void {
    const d = this.room(4);
    d[this.n++] = Event.BULK; d[this.n++] = at; d[this.n++] = pos; d[this.n++] = kind === 'fill' ? 0 : 1;
  }

  /** A br_table whose targets at [from, to) cross wrapped loops; `extra(i)` is target i's added labels. */
  brTable(from: number, to: number, n: number, extra: (i: number) => number): void {
    const d = this.room(5);
    d[this.n++] = Event.BR_TABLE; d[this.n++] = from; d[this.n++] = to; d[this.n++] = n; d[this.n++] = this.crossedN;
    for (let i = 0; i < n; i++) this.crossed[this.crossedN++] = extra(i);
  }
}

/**
 * Writes the body `buf[from, to)` with the events of `tape`: the spans
 * between them copied, fuel code from `code` inserted, loop charges from
 * `costs`. `wraps`: loops that can be wrapped are (the body has no handler).
 * The loop holds the events of every body (calls, returns, loops); the
 * others are `otherEvent`'s, so that one met late does not make V8 throw
 * away the compiled loop (see body-walk.ts).
 */
export function replay(tape: Tape, buf: Uint8Array, from: number, to: number, out: Writer, code: FuelCode, costs: readonly number[], wraps: boolean): void {
  const d = tape.data;
  const n = tape.n;
  // A counter in the global is flushed and reloaded by nothing: the span
  // around a call is then copied in one piece.
  const counter = code.counterInLocal;
  let copied = from;
  for (let i = 0; i < n;) {
    const event = d[i];
    switch (event) {
      case Event.FLUSH:
        if (counter) {
          out.copy(buf, copied, copied = d[i + 1]);
          code.flush(out);
        }
        break;
      case Event.RELOAD:
        if (counter) {
          out.copy(buf, copied, copied = d[i + 1]);
          code.reload(out);
        }
        break;
      case Event.WRAP_END:
        if (wraps) {
          out.copy(buf, copied, copied = d[i + 1]);
          code.wrapEnd(out);
        }
        break;
      case Event.LOOP: {
        const at = d[i + 1];
        const typeAt = d[i + 2];
        const pos = d[i + 3];
        const cost = costs[d[i + 4]];
        if (wraps && d[i + 5] === 1) {
          out.copy(buf, copied, copied = at);
          code.wrapStart(out, buf, typeAt, pos);
          out.copy(buf, copied, copied = pos);
          code.fastCharge(out, cost);
        } else {
          out.copy(buf, copied, copied = pos);
          code.charge(out, cost);
        }
        break;
      }
      case Event.SHIFT:
        // Re-encoded rather than patched in place: idx + 1 may need one more byte.
        out.copy(buf, copied, d[i + 1] + 1);
        out.u32((d[i + 3] >>> 0) + 1);
        copied = d[i + 2];
        break;
      default:
        copied = otherEvent(tape, i, buf, copied, out, code, wraps);
    }
    i += EVENT_LENGTH[event];
  }
  out.copy(buf, copied, to);
}

/** The event at `tape.data[i]` that `replay`'s loop does not take, written after the input up to it from `copied`; returns the new copy point. */
function otherEvent(tape: Tape, i: number, buf: Uint8Array, copied: number, out: Writer, code: FuelCode, wraps: boolean): number {
  const d = tape.data;
  switch (d[i]) {
    case Event.RELABEL:
      if (!wraps) return copied;
      out.copy(buf, copied, d[i + 1]);
      out.u32(d[i + 3] >>> 0);
      return d[i + 2];
    case Event.LENGTH:
      out.copy(buf, copied, d[i + 1]);
      code.length(out, d[i + 2] as Length);
      return d[i + 1];
    case Event.BULK:
      out.copy(buf, copied, d[i + 1]);
      code.bulk(out, CHUNKED[d[i + 3]], buf, d[i + 1], d[i + 2]);
      return d[i + 2];
    case Event.BR_TABLE: {
      if (!wraps) return copied;
      out.copy(buf, copied, d[i + 1]);
      const r = new Reader(buf, d[i + 1], d[i + 2]);
      for (let k = 0, count = d[i + 3], first = d[i + 4]; k < count; k++) out.u32(r.u32() + tape.crossed[first + k]);
      return d[i + 2];
    }
    default:
      throw new Error(`unknown event ${d[i]} on a fuel tape`);
  }
}
