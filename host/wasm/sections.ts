/**
 * The section structure shared by core modules and components
 * (core/binary/modules.rst "Sections", component-model Binary.md): an
 * 8-byte preamble, then sections of one id byte, a u32 size and that many
 * bytes. What each id means is the caller's business.
 */
import type { Reader } from './reader.js';

/** A core module of this encoding: `\0asm`, version 1. */
export const MODULE_PREAMBLE = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00] as const;
/** A component of this encoding: `\0asm`, version 0x0d, layer 1. */
export const COMPONENT_PREAMBLE = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00] as const;
export const PREAMBLE_SIZE = 8;

export interface SectionHeader {
  id: number;
  /** Offset of the id byte. */
  headerStart: number;
  /** Where the contents start (after the size field) and end in the whole binary. */
  start: number;
  end: number;
}

/** Reads `preamble` at `r.pos`, refusing any other. */
export function expectPreamble(r: Reader, preamble: readonly number[]): void {
  for (const b of preamble) if (r.u8() !== b) throw r.strictness.refuse('unexpected preamble (not this kind of WebAssembly binary, or another version)');
}

/** The sections from `r.pos` to `r.end`; a section whose size runs past `r.end` is refused. */
export function sectionHeaders(r: Reader): SectionHeader[] {
  const out: SectionHeader[] = [];
  while (r.pos < r.end) {
    const headerStart = r.pos;
    const id = r.u8();
    const size = r.u32();
    const start = r.pos;
    if (size > r.end - start) throw r.strictness.refuse(`section ${id} at offset ${headerStart} runs past the end of the module`);
    r.pos = start + size;
    out.push({ id, headerStart, start, end: r.pos });
  }
  return out;
}
