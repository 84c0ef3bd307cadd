/**
 * The one WebAssembly binary reader and writer (host/wasm/): LEB128 as
 * core/binary/values.rst defines it, and the two strictness policies of its
 * users (the meter's malformed module, the component fast path's "not
 * recognized").
 */
import { describe, expect, it } from 'vitest';
import { COMPONENT_STRICTNESS, Unrecognized } from '../../host/loader/component/binary.js';
import { Reader, sectionHeaders, Writer } from '../../host/wasm/index.js';

const read = (bytes: number[]) => new Reader(Uint8Array.from(bytes));
const malformed = expect.objectContaining({ code: 'ERR_PAMWASM_MALFORMED_WASM' });

describe('LEB128 integers', () => {
  it('reads a u32 in its minimal and padded encodings, up to 2^32-1', () => {
    expect(read([0x00]).u32()).toBe(0);
    expect(read([0xe5, 0x8e, 0x26]).u32()).toBe(624485);
    expect(read([0x80, 0x80, 0x80, 0x80, 0x00]).u32()).toBe(0); // padded to 5 bytes
    expect(read([0xff, 0xff, 0xff, 0xff, 0x0f]).u32()).toBe(0xffffffff);
    const r = read([0x83, 0x00, 0x07]);
    expect(r.u32()).toBe(3);
    expect(r.pos).toBe(2); // the value is returned, the position kept in the reader
  });

  it('refuses a u32 with bits past the 32nd, longer than 5 bytes, or cut off', () => {
    expect(() => read([0xff, 0xff, 0xff, 0xff, 0x1f]).u32()).toThrow(malformed);
    expect(() => read([0x80, 0x80, 0x80, 0x80, 0x80, 0x00]).u32()).toThrow(malformed);
    expect(() => read([0x80, 0x80]).u32()).toThrow(malformed);
    // A reader never reads past its own end, even with bytes after it.
    expect(() => new Reader(Uint8Array.from([0x80, 0x01]), 0, 1).u32()).toThrow(malformed);
  });

  it('reads signed integers of 32, 33 and 64 bits, whose unused last bits repeat the sign', () => {
    expect(read([0x7f]).s32()).toBe(-1);
    expect(read([0x40]).s32()).toBe(-64);
    expect(read([0xc0, 0x00]).s32()).toBe(64);
    expect(read([0x80, 0x80, 0x80, 0x80, 0x78]).s32()).toBe(-(2 ** 31));
    expect(read([0xff, 0xff, 0xff, 0xff, 0x07]).s32()).toBe(2 ** 31 - 1);
    expect(read([0xff, 0xff, 0xff, 0xff, 0x7f]).s32()).toBe(-1); // padded
    expect(read([0xff, 0xff, 0xff, 0xff, 0x0f]).s33()).toBe(2 ** 32 - 1);
    expect(read([0x80, 0x80, 0x80, 0x80, 0x70]).s33()).toBe(-(2 ** 32));
    expect(read([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f]).s64()).toBe(-(2n ** 63n));
    expect(read([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00]).s64()).toBe(2n ** 63n - 1n);
    expect(read([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).u64()).toBe(2n ** 64n - 1n);
  });

  it('refuses a signed or 64-bit integer whose last byte does not fit its width', () => {
    expect(() => read([0xff, 0xff, 0xff, 0xff, 0x0f]).s32()).toThrow(malformed); // 2^32-1 is no s32
    expect(() => read([0x80, 0x80, 0x80, 0x80, 0x70]).s32()).toThrow(malformed);
    expect(() => read([0x80, 0x80, 0x80, 0x80, 0x80, 0x00]).s32()).toThrow(malformed); // 6 bytes
    expect(() => read([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]).s64()).toThrow(malformed);
    expect(() => read([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]).u64()).toThrow(malformed);
  });

  it('skips an integer of any width up to 10 bytes, and no longer', () => {
    const ten = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
    const r = read([...ten, 0x2a]);
    r.skipLeb();
    expect(r.u8()).toBe(0x2a);
    expect(() => read([0x80, ...ten]).skipLeb()).toThrow(malformed);
  });

  it('writes what it reads back, in the minimal encoding', () => {
    const values = [0, 1, 63, 64, 127, 128, 16383, 16384, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 31, 2 ** 32 - 1];
    const w = new Writer(4);
    for (const v of values) w.u32(v);
    const signed = [0, -1, 63, 64, -64, -65, 2 ** 31 - 1, -(2 ** 31)];
    for (const v of signed) w.s32(v);
    const r = new Reader(w.result());
    expect(values.map(() => r.u32())).toEqual(values);
    expect(signed.map(() => r.s32())).toEqual(signed);
    expect(r.done).toBe(true);
    const one = new Writer();
    one.u32(2 ** 32 - 1);
    expect([...one.result()]).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
  });
});

describe('strictness of the reader\'s users', () => {
  const notUtf8 = [0x02, 0xc3, 0x28];

  it('to the meter, bytes it cannot follow are a malformed module and names are copied through unchecked', () => {
    expect(() => read([0x80]).u32()).toThrow(malformed);
    expect(read(notUtf8).name()).toBe('\ufffd(');
  });

  it('to the component fast path, the same bytes are not recognized, and a name must be UTF-8', () => {
    const strict = (bytes: number[]) => new Reader(Uint8Array.from(bytes), 0, bytes.length, COMPONENT_STRICTNESS);
    expect(() => strict([0x80]).u32()).toThrow(Unrecognized);
    expect(() => strict(notUtf8).name()).toThrow(Unrecognized);
    expect(strict([0x03, 0x61, 0x62, 0x63]).name()).toBe('abc');
    expect(() => new Reader(Uint8Array.from([1, 2]), 0, 3, COMPONENT_STRICTNESS)).toThrow(Unrecognized);
  });
});

describe('sections', () => {
  it('lists each section with its contents, and refuses one that runs past the end', () => {
    const w = new Writer();
    w.section(1, () => { w.u8(0xaa); w.u8(0xbb); });
    w.section(0, () => w.name('x'));
    const bytes = w.result();
    expect(sectionHeaders(new Reader(bytes))).toEqual([
      { id: 1, headerStart: 0, start: 2, end: 4 },
      { id: 0, headerStart: 4, start: 6, end: 8 },
    ]);
    expect(() => sectionHeaders(new Reader(bytes.subarray(0, 7)))).toThrow(malformed);
  });
});
