/**
 * The pooled-memory pass: the module's one memory becomes an import the host
 * supplies (`pamwasm:sandbox` `memory:<min>:<max>`), with the same limits,
 * capped, so that instances can be made on recycled, zeroed memories instead
 * of fresh ones (the store's memory pool). Only a module that defines exactly
 * one plain 32-bit memory and imports none is changed; others keep theirs.
 */
import { Reader, type Writer } from '../../wasm/index.js';
import { checkCap } from './memory-cap.js';
import { memoryLimits, noTrailing, type Section } from './spaces.js';

const MEMORY_IMPORT = 'memory';

/** The limits a metered module's memory import asks for, from its name; undefined for any other import. */
export function pooledMemoryLimits(name: string): { initial: number; maximum: number } | undefined {
  const m = /^memory:(\d+):(\d+)$/.exec(name);
  return m ? { initial: Number(m[1]), maximum: Number(m[2]) } : undefined;
}

/**
 * The limits of a memory section's only memory, capped at `cap` pages, when
 * it is one the host can supply as an import: exactly one memory, 32-bit, not
 * shared, 64 KiB pages. Undefined otherwise (the section is then kept, and
 * capped by rewriteMemories).
 */
export function singleMemory(bytes: Uint8Array, s: Section, cap: number): { min: number; max: number } | undefined {
  const r = new Reader(bytes, s.start, s.end);
  if (r.u32() !== 1) return undefined;
  const { min, max } = memoryLimits(r, 0);
  noTrailing(r, 'memory');
  checkCap(0, min, cap);
  return { min, max: Math.min(max, cap) };
}


/** `(import "<sandbox>" "memory:<min>:<max>" (memory min max))`. */
export function writeMemoryImport(out: Writer, sandboxModule: string, limits: { min: number; max: number }): void {
  out.name(sandboxModule);
  out.name(`${MEMORY_IMPORT}:${limits.min}:${limits.max}`);
  out.u8(0x02); // memory
  out.u8(0x01); // limits with a maximum
  out.u32(limits.min);
  out.u32(limits.max);
}
