/**
 * The one reader of the WebAssembly binary format (core modules and
 * components): bounds-checked, with LEB128 as the spec defines it
 * (core/binary/values.rst: "All integers are encoded using the LEB128
 * variable-length integer encoding"): at most ceil(N/7) bytes for an N-bit
 * integer, padded encodings within that length allowed, and the unused bits
 * of the last byte zero (unsigned) or copies of the sign bit (signed).
 *
 * A reader works on one Uint8Array between `pos` and `end` and never
 * allocates per byte. Values are returned; the position is the `pos` field,
 * so a hot loop (the meter's instruction walker) reads through one object
 * and V8 keeps it in registers.
 *
 * What differs between its users is what a refusal is, given as a
 * `Strictness`: to the meter and the sandbox's checks, bytes it cannot follow
 * are a malformed module (`METER_STRICTNESS`); to the component fast path,
 * they are "not recognized", and jco's generator answers instead
 * (loader/component/binary.ts).
 *
 * @example
 *   const r = new Reader(bytes, 8, bytes.length, METER_STRICTNESS);
 *   const id = r.u8(); const size = r.u32();
 */
import { MalformedModuleError, PamwasmError, UnsupportedWasmError } from '../errors/index.js';

/** How a reader refuses bytes, and how strictly it reads names. */
export interface Strictness {
  /** The error thrown for bytes the reader cannot follow (`message` says what and where). */
  refuse(message: string): Error;
  /** Names must be valid UTF-8 (the spec's rule); when false a name is decoded with replacement characters. */
  utf8Names: boolean;
}

/**
 * The meter's and the sandbox checks' policy: a malformed module. Names are
 * not checked here: V8 validates every module before it is metered, and the
 * meter copies names through unread.
 */
export const METER_STRICTNESS: Strictness = Object.freeze({
  refuse: (message: string) => new MalformedModuleError(message),
  utf8Names: false,
});

/** The module uses a feature the rewriter does not know; metering it could break it. */
export function unsupported(message: string): PamwasmError {
  return new UnsupportedWasmError(message);
}

export function malformed(message: string): MalformedModuleError {
  return new MalformedModuleError(message);
}

export const hex = (n: number) => `0x${n.toString(16).padStart(2, '0')}`;

const lossy = new TextDecoder('utf-8', { fatal: false });
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export class Reader {
  pos: number;
  constructor(readonly buf: Uint8Array, pos = 0, readonly end = buf.length, readonly strictness: Strictness = METER_STRICTNESS) {
    if (pos < 0 || end > buf.length || pos > end) throw strictness.refuse(`range ${pos}..${end} outside the ${buf.length} bytes`);
    this.pos = pos;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** One byte; throws past `end` rather than reading `undefined` as 0. */
  u8(): number {
    if (this.pos >= this.end) throw this.truncated();
    return this.buf[this.pos++];
  }

  peek(): number {
    if (this.pos >= this.end) throw this.truncated();
    return this.buf[this.pos];
  }

  /**
   * An unsigned LEB128 of at most 32 bits (5 bytes, the 5th below 0x10).
   * Most are one byte (local indices, flags, counts): read here, short
   * enough for V8 to inline into a caller's loop; longer ones by `u32Long`.
   */
  u32(): number {
    const pos = this.pos;
    if (pos < this.end) {
      const b = this.buf[pos];
      if (b < 0x80) {
        this.pos = pos + 1;
        return b;
      }
    }
    return this.u32Long();
  }

  private u32Long(): number {
    const { buf, end } = this;
    let pos = this.pos;
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= end) throw this.truncated(pos);
      const b = buf[pos++];
      if (shift === 28) {
        if (b > 0x0f) throw this.strictness.refuse(`integer too large at offset ${pos - 1}`);
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

  /** A signed LEB128 of at most 32 bits (i32.const's immediate). */
  s32(): number {
    return Number(this.signed(32));
  }

  /**
   * A signed LEB128 of at most 33 bits: a block type or heap type that is a
   * type index (non-negative) or an abstract type (negative, one byte).
   */
  s33(): number {
    return Number(this.signed(33));
  }

  /** A signed LEB128 of at most 64 bits (i64.const's immediate). */
  s64(): bigint {
    return this.signed(64);
  }

  /** An unsigned LEB128 of at most 64 bits (a memory64 offset). */
  u64(): bigint {
    let result = 0n;
    for (let i = 0; ; i++) {
      const b = this.u8();
      if (i === 9) {
        if (b > 0x01) throw this.strictness.refuse(`integer too large at offset ${this.pos - 1}`);
        return result | (BigInt(b) << 63n);
      }
      result |= BigInt(b & 0x7f) << BigInt(7 * i);
      if ((b & 0x80) === 0) return result;
    }
  }

  /**
   * A signed LEB128 of at most `bits` bits: at most ceil(bits/7) bytes, and
   * in the last possible byte, the bits past `bits` copies of the sign bit.
   */
  private signed(bits: number): bigint {
    const max = Math.ceil(bits / 7);
    let result = 0n;
    for (let i = 0; ; i++) {
      const b = this.u8();
      if (i === max - 1) {
        // The bits of this byte past the integer's width: the sign bit and above must agree.
        const used = bits - 7 * i; // value bits in this byte, sign included
        const rest = (b & 0x7f) >> (used - 1); // the sign bit and the bits above it
        if ((b & 0x80) !== 0 || (rest !== 0 && rest !== (0x7f >> (used - 1)))) {
          throw this.strictness.refuse(`integer too large or too long at offset ${this.pos - 1}`);
        }
      }
      result |= BigInt(b & 0x7f) << BigInt(7 * i);
      if ((b & 0x80) === 0) {
        const width = BigInt(7 * (i + 1));
        return b & 0x40 ? result - (1n << width) : result;
      }
    }
  }

  /**
   * Skips one LEB128 of any width (s32, s33, s64, u64): only its length
   * matters to a rewriter that copies immediates verbatim. 10 bytes is the
   * longest a 64-bit value may take.
   */
  skipLeb(): void {
    const pos = this.pos;
    if (pos < this.end && this.buf[pos] < 0x80) {
      this.pos = pos + 1; // one byte: most constants and offsets
      return;
    }
    this.skipLongLeb();
  }

  private skipLongLeb(): void {
    const { buf, end } = this;
    let pos = this.pos;
    const limit = pos + 10;
    for (;;) {
      if (pos >= end) throw this.truncated(pos);
      if (pos >= limit) throw this.strictness.refuse(`integer too long at offset ${this.pos}`);
      if ((buf[pos++] & 0x80) === 0) break;
    }
    this.pos = pos;
  }

  skip(n: number): void {
    if (n > this.end - this.pos) throw this.truncated();
    this.pos += n;
  }

  /** `n` bytes, as a view. */
  take(n: number): Uint8Array {
    const start = this.pos;
    this.skip(n);
    return this.buf.subarray(start, start + n);
  }

  /** A byte vector or a name's bytes: u32 length then the bytes, as a view. */
  bytes(): Uint8Array {
    return this.take(this.u32());
  }

  /** Skips a byte vector or a name: as `bytes()`, without making a view of it. */
  skipBytes(): void {
    this.skip(this.u32());
  }

  /** A length-prefixed UTF-8 name (see `Strictness.utf8Names`). */
  name(): string {
    const b = this.bytes();
    if (!this.strictness.utf8Names) return lossy.decode(b);
    try {
      return utf8.decode(b);
    } catch {
      throw this.strictness.refuse(`a name that is not UTF-8 at offset ${this.pos - b.length}`);
    }
  }

  /** A vector: its length, then `item` that many times. A length past the bytes left is refused before any item is read. */
  vec<T>(item: () => T): T[] {
    const n = this.u32();
    if (n > this.end - this.pos) throw this.strictness.refuse(`a vector of ${n} entries longer than its bytes at offset ${this.pos}`);
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item());
    return out;
  }

  /** Refuses bytes left after the last entry of `what` (they are never cut off). */
  expectEnd(what = 'a section'): void {
    if (this.pos !== this.end) throw this.strictness.refuse(`${what} has trailing bytes at offset ${this.pos}`);
  }

  truncated(at = this.pos): Error {
    return this.strictness.refuse(`unexpected end of the module's bytes at offset ${at}`);
  }
}
