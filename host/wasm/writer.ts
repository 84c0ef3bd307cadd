/**
 * The one writer of the WebAssembly binary format: a growable byte buffer
 * with LEB128 as the spec encodes it (minimal encodings), used by the meter's
 * rewrite and the loader's skeletons. It never allocates per byte: a 12 MB
 * module is rewritten by copying spans, not by building objects.
 */
const encoder = new TextEncoder();

/** Bytes a u32 takes in minimal LEB128. */
export function lebSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

export class Writer {
  buf: Uint8Array;
  pos = 0;
  constructor(capacity = 1024) {
    this.buf = new Uint8Array(capacity);
  }

  /** Makes room for `n` more bytes, doubling so appends stay amortized O(1). */
  reserve(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  u8(b: number): void {
    if (this.pos >= this.buf.length) this.reserve(1);
    this.buf[this.pos++] = b;
  }

  u32(n: number): void {
    this.reserve(5);
    const buf = this.buf;
    let pos = this.pos;
    do {
      let b = n & 0x7f;
      n = Math.floor(n / 128); // not >>>: keeps values >= 2^31 right
      if (n !== 0) b |= 0x80;
      buf[pos++] = b;
    } while (n !== 0);
    this.pos = pos;
  }

  /** A signed LEB128 (i32.const's immediate): ends when the rest is all sign bits. */
  s32(n: number): void {
    n |= 0;
    for (;;) {
      const b = n & 0x7f;
      n >>= 7;
      if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
        this.u8(b);
        return;
      }
      this.u8(b | 0x80);
    }
  }

  /**
   * Copies `src[from, to)`. Short spans (the common case between two
   * rewritten immediates) are copied by a loop: `subarray` would allocate a
   * view object per span.
   */
  copy(src: Uint8Array, from: number, to: number): void {
    const n = to - from;
    if (n <= 0) return;
    this.reserve(n);
    if (n < 64) {
      const buf = this.buf;
      let pos = this.pos;
      for (let i = from; i < to; i++) buf[pos++] = src[i];
      this.pos = pos;
    } else {
      this.buf.set(src.subarray(from, to), this.pos);
      this.pos += n;
    }
  }

  bytes(b: Uint8Array): void {
    this.copy(b, 0, b.length);
  }

  name(s: string): void {
    const b = encoder.encode(s);
    this.u32(b.length);
    this.bytes(b);
  }

  /**
   * Inserts the LEB128 of the byte count written since `start` at `start`:
   * sizes (a function body's, a section's) precede their contents, which are
   * only known once written. One memmove per body is far cheaper than
   * rewriting into a temporary buffer.
   */
  prefixSize(start: number): void {
    const len = this.pos - start;
    const k = lebSize(len);
    this.reserve(k);
    this.buf.copyWithin(start + k, start, this.pos);
    const end = this.pos + k;
    this.pos = start;
    this.u32(len);
    this.pos = end;
  }

  /** A section: its id, then what `body` writes, prefixed with its size. */
  section(id: number, body: () => void): void {
    this.u8(id);
    const start = this.pos;
    body();
    this.prefixSize(start);
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  /**
   * The bytes written, as a view of the buffer rather than a copy (a 12 MB
   * module's rewrite spends milliseconds copying it): the writer is done and
   * holds nothing after this, so nothing it writes can change the view.
   */
  finish(): Uint8Array {
    const out = this.buf.subarray(0, this.pos);
    this.buf = new Uint8Array(0);
    this.pos = 0;
    return out;
  }
}
