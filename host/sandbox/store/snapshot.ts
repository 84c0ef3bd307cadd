/**
 * Snapshots of idle instances: a parked core instance is the pages of its
 * memory that differ from its module's image (images.ts) and its mutable
 * globals; waking it puts them into an instance made anew from the same
 * module. InstanceMeter (clock.ts) takes and restores them.
 */
import { GLOBAL_EXPORT_PREFIX } from '../instrument/index.js';
import { PAGE } from './pool.js';

/** Granularity of a parked memory's copy: only pages that differ from the module's image are kept. */
const COPY_PAGE = 4096;
const ZERO_PAGE = new Uint8Array(COPY_PAGE);

/** A parked core instance: the pages of its memory that differ from its module's image, and its mutable globals. */
export interface ParkedCore {
  memory?: { bytes: number; pages: [number, Uint8Array][] };
  globals: [string, number | bigint][];
}

/** An instance set aside by `InstanceMeter.park()`, to be made again by `wake()`. */
export interface Parked { readonly cores: readonly ParkedCore[] }

/** Copies what a parkable core instance holds: its exported mutable globals and the pages of `memory` that differ from `image`. */
export function snapshotCore(instance: WebAssembly.Instance, memory: WebAssembly.Memory | undefined, image: Uint8Array | undefined): ParkedCore {
  const globals: [string, number | bigint][] = [];
  for (const [name, value] of Object.entries(instance.exports)) {
    if (name.startsWith(GLOBAL_EXPORT_PREFIX)) globals.push([name, (value as WebAssembly.Global).value as number | bigint]);
  }
  if (!memory) return { globals };
  if (!image) throw new Error('a parkable core instance has no memory image');
  const all = new Uint8Array(memory.buffer);
  const pages: [number, Uint8Array][] = [];
  for (let at = 0; at < all.length; at += COPY_PAGE) {
    const page = all.subarray(at, at + COPY_PAGE);
    const was = at < image.length ? image.subarray(at, at + COPY_PAGE) : ZERO_PAGE;
    if (Buffer.compare(page, was) !== 0) pages.push([at, page.slice()]);
  }
  return { memory: { bytes: all.length, pages }, globals };
}

/** Puts a parked core's memory pages and globals into the instance just made for it. */
export function restoreCore(instance: WebAssembly.Instance, memory: WebAssembly.Memory | undefined, parked: ParkedCore | undefined): void {
  if (!parked) throw new Error('a parked instance had fewer core instances than its new one');
  if (parked.memory) {
    if (!memory) throw new Error('a parked core instance had a memory its new one lacks');
    const grow = (parked.memory.bytes - memory.buffer.byteLength) / PAGE;
    if (grow > 0) memory.grow(grow);
    // The instance just made holds the module's image (the pool gives zeroed
    // memories, and instantiation wrote the data segments): only the pages
    // that differed from it come back.
    const all = new Uint8Array(memory.buffer);
    for (const [at, page] of parked.memory.pages) all.set(page, at);
  }
  for (const [name, value] of parked.globals) (instance.exports[name] as WebAssembly.Global).value = value;
}
