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

const FLUSH = 0; // at: store the counter before what is at `at`
const RELOAD = 1; // pos: load the counter after a call
const WRAP_END = 2; // pos: close a wrapped loop
const RELABEL = 3; // from, to, label: the branch label at [from, to) re-encoded
const LENGTH = 4; // at, kind: charge a bulk instruction's length
const LOOP = 5; // at, typeAt, pos, region, wrappable: a loop header's charge
const SHIFT = 6; // at, pos, idx: the function index after the opcode at `at` becomes idx + 1
const BULK = 7; // at, pos, chunked: memory.fill / memory.copy run in chunks
const BR_TABLE = 8; // from, to, n, extra * n: each target re-encoded with the labels it crosses
const CHUNKED: Chunked[] = ['fill', 'copy'];

/** The events of one body, in the order the rewrite meets them; reused from body to body. */
export class Tape {
  data = new Int32Array(1024);
  n = 0;

  private room(k: number): Int32Array {
    if (this.n + k > this.data.length) {
      const next = new Int32Array(Math.max(this.data.length * 2, this.n + k));
      next.set(this.data.subarray(0, this.n));
      this.data = next;
    }
    return this.data;
  }

  flush(at: number): void { const d = this.room(2); d[this.n++] = FLUSH; d[this.n++] = at; }
  reload(pos: number): void { const d = this.room(2); d[this.n++] = RELOAD; d[this.n++] = pos; }
  wrapEnd(pos: number): void { const d = this.room(2); d[this.n++] = WRAP_END; d[this.n++] = pos; }
  length(at: number, kind: Length): void { const d = this.room(3); d[this.n++] = LENGTH; d[this.n++] = at; d[this.n++] = kind; }

  relabel(from: number, to: number, label: number): void {
    const d = this.room(4);
    d[this.n++] = RELABEL; d[this.n++] = from; d[this.n++] = to; d[this.n++] = label;
  }

  loop(at: number, typeAt: number, pos: number, region: number, wrappable: boolean): void {
    const d = this.room(6);
    d[this.n++] = LOOP; d[this.n++] = at; d[this.n++] = typeAt; d[this.n++] = pos; d[this.n++] = region; d[this.n++] = wrappable ? 1 : 0;
  }

  /** `idx` may be up to 2^32-1: stored as int32 and read back unsigned. */
  shift(at: number, pos: number, idx: number): void {
    const d = this.room(4);
    d[this.n++] = SHIFT; d[this.n++] = at; d[this.n++] = pos; d[this.n++] = idx;
  }

  bulk(at: number, pos: number, kind: Chunked): void {
    const d = this.room(4);
    d[this.n++] = BULK; d[this.n++] = at; d[this.n++] = pos; d[this.n++] = kind === 'fill' ? 0 : 1;
  }

  /** A br_table whose targets at [from, to) cross wrapped loops; `extra(i)` is target i's added labels. */
  brTable(from: number, to: number, n: number, extra: (i: number) => number): void {
    const d = this.room(4 + n);
    d[this.n++] = BR_TABLE; d[this.n++] = from; d[this.n++] = to; d[this.n++] = n;
    for (let i = 0; i < n; i++) d[this.n++] = extra(i);
  }
}

/**
 * Writes the body `buf[from, to)` with the events of `tape`: the spans
 * between them copied, fuel code from `code` inserted, loop charges from
 * `costs`. `wraps`: loops that can be wrapped are (the body has no handler).
 */
export function replay(tape: Tape, buf: Uint8Array, from: number, to: number, out: Writer, code: FuelCode, costs: readonly number[], wraps: boolean): void {
  const d = tape.data;
  const n = tape.n;
  let copied = from;
  for (let i = 0; i < n;) {
    switch (d[i]) {
      case FLUSH:
      case RELOAD:
      case WRAP_END: {
        const event = d[i];
        if (event !== WRAP_END || wraps) {
          out.copy(buf, copied, d[i + 1]);
          copied = d[i + 1];
          if (event === FLUSH) code.flush(out);
          else if (event === RELOAD) code.reload(out);
          else code.wrapEnd(out);
        }
        i += 2;
        break;
      }
      case RELABEL:
        if (wraps) {
          out.copy(buf, copied, d[i + 1]);
          out.u32(d[i + 3] >>> 0);
          copied = d[i + 2];
        }
        i += 4;
        break;
      case LENGTH:
        out.copy(buf, copied, copied = d[i + 1]);
        code.length(out, d[i + 2] as Length);
        i += 3;
        break;
      case LOOP: {
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
        i += 6;
        break;
      }
      case SHIFT:
        // Re-encoded rather than patched in place: idx + 1 may need one more byte.
        out.copy(buf, copied, d[i + 1] + 1);
        out.u32((d[i + 3] >>> 0) + 1);
        copied = d[i + 2];
        i += 4;
        break;
      case BULK:
        out.copy(buf, copied, d[i + 1]);
        code.bulk(out, CHUNKED[d[i + 3]], buf, d[i + 1], d[i + 2]);
        copied = d[i + 2];
        i += 4;
        break;
      case BR_TABLE: {
        const count = d[i + 3];
        if (wraps) {
          out.copy(buf, copied, d[i + 1]);
          const r = new Reader(buf, d[i + 1], d[i + 2]);
          for (let k = 0; k < count; k++) out.u32(r.u32() + d[i + 4 + k]);
          copied = d[i + 2];
        }
        i += 4 + count;
        break;
      }
      default:
        throw new Error(`unknown event ${d[i]} on a fuel tape`);
    }
  }
  out.copy(buf, copied, to);
}
