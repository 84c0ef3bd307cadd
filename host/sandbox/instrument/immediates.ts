/**
 * The immediates of instructions, read as core/binary/instructions.rst
 * (Wasm 3.0) encodes them, for the walkers (instructions.ts, body-walk.ts): memargs, value
 * and block types, and the prefixed opcodes (0xFB GC, 0xFC bulk memory and
 * tables, 0xFD SIMD, 0xFE threads), with the indices into a module's own
 * spaces checked where the rewrite could give them a new meaning.
 */
import { malformed, unsupported, type Reader } from '../../wasm/index.js';

/*
 * 0xFD vector opcodes (u32 after the prefix). Immediates: memarg for loads and
 * stores (0-11, 92, 93), 16 bytes for v128.const (12) and i8x16.shuffle (13),
 * a lane byte for extract/replace_lane (21-34), memarg + lane byte for
 * load/store_lane (84-91). Everything else is plain, but the numbering has
 * holes (opcodes retired during the SIMD proposal) which must stay errors;
 * 256-275 are relaxed SIMD, all plain.
 */
const SIMD_HOLES = new Set([154, 162, 165, 166, 175, 176, 178, 179, 180, 187, 194, 197, 198, 207, 208, 210, 211, 212, 226, 238]);

export interface IndexSpaces {
  readonly funcs: number; readonly globals: number; readonly types: number; readonly tables: number;
  readonly memories: number; readonly data: number; readonly elements: number;
}

export function pastEnd(what: string, idx: number, size: number, at: number) {
  return malformed(`${what} index ${idx} at offset ${at} is past the end of its space (${size}).`);
}

/**
 * A memarg: alignment flags, a memory index when bit 6 is set (multi-memory,
 * instructions.rst "Memory Instructions"), then the offset (u64 under memory64).
 */
export function skipMemarg(r: Reader): void {
  if (r.u32() & 0x40) r.skipLeb();
  r.skipLeb();
}

/**
 * A value type: one byte, except `ref null ht` (0x63) and `ref ht` (0x64)
 * which carry a heap type (s33: an abstract type byte or a type index).
 */
export function skipValType(r: Reader): void {
  const b = r.u8();
  if (b === 0x63 || b === 0x64) r.skipLeb();
}

/** A block type: 0x40, a value type, or a type index as s33 (one LEB either way but for 0x63/0x64). */
export function skipBlockType(r: Reader): void {
  const b = r.peek();
  if (b === 0x63 || b === 0x64) r.pos++;
  r.skipLeb();
}

export function unknown(op: string, at: number) {
  return unsupported(`unknown or unsupported opcode ${op} at offset ${at}: the module cannot be metered safely.`);
}

/**
 * 0xFC: saturating truncation (0-7), bulk memory (8-11), table ops (12-17).
 * Returns the sub-opcode; with `spaces`, each index is checked against its space.
 */
export function skipFC(r: Reader, at: number, spaces: IndexSpaces | undefined): number {
  const sub = r.u32();
  if (sub <= 7) return sub;
  const kinds = FC_INDICES[sub];
  if (kinds === undefined) throw unknown(`0xfc ${sub}`, at);
  for (let k = 0; k < kinds.length; k++) {
    if (spaces) {
      const idxAt = r.pos;
      const idx = r.u32();
      const size = spaces[kinds[k]];
      if (idx >= size) throw pastEnd(SPACE_NAMES[kinds[k]], idx, size, idxAt);
    } else {
      r.skipLeb();
    }
  }
  return sub;
}

/** The index of global.get/set, table.get/set or memory.size/grow (`op`), checked against its space. */
export function checkedIndex(r: Reader, op: number, at: number, spaces: IndexSpaces): void {
  const idx = r.u32();
  const size = op <= 0x24 ? spaces.globals : op <= 0x26 ? spaces.tables : spaces.memories;
  if (idx >= size) throw pastEnd(op <= 0x24 ? 'global' : op <= 0x26 ? 'table' : 'memory', idx, size, at);
}

/** (return_)call_indirect's type and table indices, checked. */
export function checkedCallIndirect(r: Reader, at: number, spaces: IndexSpaces): void {
  const type = r.u32();
  if (type >= spaces.types) throw pastEnd('type', type, spaces.types, at);
  const table = r.u32();
  if (table >= spaces.tables) throw pastEnd('table', table, spaces.tables, at);
}

const SPACE_NAMES: Record<keyof IndexSpaces, string> = {
  funcs: 'function', globals: 'global', types: 'type', tables: 'table', memories: 'memory', data: 'data segment', elements: 'element segment',
};

/** The index spaces of each 0xFC instruction's immediates (8-17), in order. */
const FC_INDICES: (readonly (keyof IndexSpaces)[])[] = [];
FC_INDICES[8] = ['data', 'memories']; FC_INDICES[9] = ['data']; FC_INDICES[10] = ['memories', 'memories']; FC_INDICES[11] = ['memories'];
FC_INDICES[12] = ['elements', 'tables']; FC_INDICES[13] = ['elements']; FC_INDICES[14] = ['tables', 'tables'];
FC_INDICES[15] = ['tables']; FC_INDICES[16] = ['tables']; FC_INDICES[17] = ['tables'];

/** 0xFD (SIMD); returns the sub-opcode. */
export function skipFD(r: Reader, at: number): number {
  const sub = r.u32();
  if (sub <= 11 || sub === 92 || sub === 93) skipMemarg(r);
  else if (sub === 12 || sub === 13) r.pos += 16;
  else if (sub >= 21 && sub <= 34) r.pos += 1;
  else if (sub >= 84 && sub <= 91) { skipMemarg(r); r.pos += 1; }
  else if (!((sub <= 255 && !SIMD_HOLES.has(sub)) || (sub >= 256 && sub <= 275))) throw unknown(`0xfd ${sub}`, at);
  return sub;
}

/** 0xFB: GC aggregate and cast instructions (instructions.rst "Aggregate" and "Reference"), but for br_on_cast(_fail), read by the walker. */
export function skipFB(r: Reader, sub: number, at: number): void {
  switch (sub) {
    case 0: case 1: case 6: case 7: case 11: case 12: case 13: case 14: case 16: // one type index
    case 20: case 21: case 22: case 23: // ref.test / ref.cast heap type
      r.skipLeb();
      return;
    case 2: case 3: case 4: case 5: case 8: case 9: case 10: case 17: case 18: case 19: // two indices
      r.skipLeb();
      r.skipLeb();
      return;
    case 15: case 26: case 27: case 28: case 29: case 30:
      return;
    default:
      throw unknown(`0xfb ${sub}`, at);
  }
}

const ATOMIC_WAIT_NOTIFY = ['memory.atomic.notify', 'memory.atomic.wait32', 'memory.atomic.wait64'];

/** 0xFE: threads. notify/wait and every load, store and rmw (0x10-0x4E) take a memarg; fence a zero byte. */
export function skipFE(r: Reader, at: number): void {
  const sub = r.u32();
  // Wait can block the thread beyond any fuel check or timer (on a shared
  // memory, with an infinite timeout); session modules run without threads.
  if (sub <= 2) throw unsupported(`${ATOMIC_WAIT_NOTIFY[sub]} at offset ${at}: session modules run without threads; build the module without atomics.`);
  if (sub >= 0x10 && sub <= 0x4e) skipMemarg(r);
  else if (sub === 3) r.pos += 1;
  else throw unknown(`0xfe ${sub}`, at);
}
