/**
 * The memory cap pass: every memory the module defines gets a maximum of at
 * most `maxMemoryPages`, which the engine enforces (`memory.grow` returns
 * -1), and a memory that starts above the cap is refused. Imported memories
 * are the defining module's business. (Tables are capped as their section is
 * rewritten: sections.ts `rewriteTables`.)
 */
import { MemoryLimitError } from '../../errors/index.js';
import { Reader, type Writer } from '../../wasm/index.js';
import { memoryLimits, noTrailing, type Section } from './spaces.js';

/**
 * Memory limits (types.rst "Limits"): flags bit 0 = has max, bit 1 = shared,
 * bit 2 = 64-bit indices, bit 3 = custom page size. The cap is in 64 KiB
 * pages of a 32-bit memory, so the last two are refused rather than guessed.
 */
export function rewriteMemories(bytes: Uint8Array, s: Section, out: Writer, cap: number | undefined): void {
  const r = new Reader(bytes, s.start, s.end);
  const count = r.u32();
  out.u32(count);
  for (let i = 0; i < count; i++) {
    const { flags, min, max } = memoryLimits(r, i);
    if (cap !== undefined) checkCap(i, min, cap);
    out.u8(cap === undefined ? flags : flags | 0x01);
    out.u32(min);
    if (cap !== undefined || flags & 0x01) out.u32(Math.min(max, cap ?? max));
  }
  noTrailing(r, 'memory');
}

/** Refuses memory `i` when it starts above the cap. */
export function checkCap(i: number, min: number, cap: number): void {
  if (min > cap) {
    // Said in KiB, as a stack line's memory= is written: pages and memory
    // indexes are WebAssembly's words, not the reader's.
    const which = i === 0 ? 'the module\'s memory' : `the module's memory number ${i + 1}`;
    throw new MemoryLimitError(`${which} starts at ${min * 64} KiB, over the memory limit of ${cap * 64} KiB; raise memory= on its stack line or shrink the module's initial memory.`);
  }
}

