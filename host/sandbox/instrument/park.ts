/**
 * The park-exports pass: every mutable global the module defines is exported
 * (as `pamwasm:global:<index>`), and a custom section `pamwasm:state` says
 * whether the pooled memory and those globals are all the state its code can
 * change, so that an idle instance can be parked as a copy of them and made
 * again later (the store's snapshots).
 */
import type { Writer } from '../../wasm/index.js';

/** Exported name of a metered module's mutable global `i` (with `parkExports`). */
export const GLOBAL_EXPORT_PREFIX = 'pamwasm:global:';
/**
 * Custom section of a module metered with `parkExports`: one byte, 1 when
 * its pooled memory and its exported mutable globals are all the state its
 * code can change (no table or segment changes, no imported mutable global
 * or memory, only numeric mutable globals), 0 otherwise.
 */
export const STATE_SECTION = 'pamwasm:state';

export function writeGlobalExport(out: Writer, globalIndex: number): void {
  out.name(`${GLOBAL_EXPORT_PREFIX}${globalIndex}`);
  out.u8(0x03); // global
  out.u32(globalIndex);
}

export function writeStateSection(out: Writer, parkable: boolean): void {
  out.section(0, () => { out.name(STATE_SECTION); out.u8(parkable ? 1 : 0); });
}

/** What decides whether a module's state can be parked, gathered by the rewrite. */
export interface StateFacts {
  /** An instruction changes state beyond memory and globals (tables, segments). */
  beyondMemory: boolean;
  /** Every mutable global the module defines holds a number. */
  numericGlobals: boolean;
  /** Imported mutable globals and memories: state another instance can change. */
  importedMutableGlobals: number;
  importedMemories: number;
  /** The module defines a memory, and whether the pooled-memory pass took it. */
  definesMemory: boolean;
  memoryPooled: boolean;
}

/** Whether the pooled memory and the exported globals are all the state the module's code can change. */
export function parkable(f: StateFacts): boolean {
  return !f.beyondMemory && f.numericGlobals && !f.importedMutableGlobals && !f.importedMemories && (f.memoryPooled || !f.definesMemory);
}
