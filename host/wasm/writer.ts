/**
 * Byte-level helpers for the metering rewriter: a bounds-checked reader and a
 * growable writer for the WebAssembly binary format, with LEB128 as the spec
 * defines it (core/binary/values.rst: "All integers are encoded using the
 * LEB128 variable-length integer encoding").
 *
 * Both work on one Uint8Array each and never allocate per byte: a 12 MB
 * module is rewritten by copying spans, not by building objects.
 */
import { MalformedModuleError, PamwasmError, UnsupportedWasmError } from '../errors/index.js';

/** The module uses a feature the rewriter does not know; metering it could break it. */
export function unsupported(message: string): PamwasmError {
  return new UnsupportedWasmError(message);
}

export function malformed(message: string): MalformedModuleError {
  return new MalformedModuleError(message);
}

const hex = (n: number) => `0x${n.toString(16).padStart(2, '0')}`;
export { hex };

export class Reader {
  pos: number;
  constructor(readonly buf: Uint8Array, pos = 0, readonly end = buf.length) {
    this.pos = pos;
  }

  /** One byte; throws past `end` rather than reading `undefined` as 0. */
  u8(): number {
    if (this.pos >= this.end) throw this.truncated();
    return this.buf[this.pos++];
  }

  /**
   * An unsigned LEB128 up to 32 bits. Padded encodings (up to 5 bytes) are
   * accepted, as the spec allows any encoding of at most ceil(32/7) bytes.
   */
  u32(): number {
    const { buf, end } = this;
    let pos = this.pos;
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= end) throw this.truncated();
      const b = buf[pos++];
      if (shift === 28) {
        if (b > 0x0f) throw malformed(`integer too large at offset ${pos - 1}`);
        result += b * 2 ** 28; // beyond 2^31: keep it a positive number, not an int32
        break;
      }
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
    }
    this.pos = pos;
    return result;
  }

  /**
   * Skips one LEB128 of any width (s32, s33, s64, u64): only its length
   * matters to a rewriter that copies immediates verbatim. 10 bytes is the
   * longest a 64-bit value may take.
   */
  skipLeb(): void {
    const { buf, end } = this;
    let pos = this.pos;
    const limit = pos + 10;
    for (;;) {
      if (pos >= end) throw this.truncated();
      if (pos >= limit) throw malformed(`integer too long at offset ${this.pos}`);
      if ((buf[pos++] & 0x80) === 0) break;
    }
    this.pos = pos;
  }

  skip(n: number): void {
    if (n > this.end - this.pos) throw this.truncated();
    this.pos += n;
  }

  /** A name or byte vector: u32 length then the bytes, returned as a view. */
  bytes(): Uint8Array {
    const n = this.u32();
    const start = this.pos;
    this.skip(n);
    return this.buf.subarray(start, start + n);
  }

  name(): string {
    return decoder.decode(this.bytes());
  }

  truncated(): MalformedModuleError {
    return malformed(`unexpected end of the module's bytes at offset ${this.pos}`);
  }
}

const decoder = new TextDecoder('utf-8', { fatal: false });
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

  result(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}
